#pragma once
// ProcessGroupMPI: the ProcessGroup of nn/data_parallel.hpp over MPI (library chainrule_mpi; CMake target
// chainrule::chainrule_mpi, built when find_package(MPI) succeeds). With it, fit trains data-parallel:
//
//   nn::FitOptions fo;
//   fo.process_group = nn::ProcessGroupMPI::world();   // MPI_Init on first use, MPI_Finalize at exit
//   model.fit(x, y, fo);                               // mpirun -np 4 ./train
//
// This header does not include <mpi.h>: a program needs MPI's headers only if it calls MPI itself.
#include <memory>
#include <string>

#include "data_parallel.hpp"

namespace chainrule::nn {

/// A ProcessGroup over MPI: the ranks of the job. Allreduce is a reduce-scatter and an allgather of point-to-point
/// messages that adds every element in rank order, x_0 + x_1 + ... + x_{P−1}, whatever the buffer's length, so
/// the sums do not depend on how a step's gradients are split into buckets (MPI_Allreduce's algorithms may add in
/// a different order for a different length); broadcast is MPI_Bcast.
class ProcessGroupMPI : public ProcessGroup {
 public:
  /// Every process of the job (a duplicate of MPI_COMM_WORLD, so our messages never meet the program's own).
  /// Initialises MPI on first use (MPI_THREAD_FUNNELED) unless the program did, and then finalises it at exit.
  /// Errors in MPI calls end the job (MPI_ERRORS_ARE_FATAL).
  static std::shared_ptr<ProcessGroupMPI> world();
  ~ProcessGroupMPI() override;

  int rank() const override { return rank_; }
  /// The number of ranks in the job.
  int size() const override { return size_; }
  void allreduce_sum(float* buf, std::size_t n) override;  ///< the sum in rank order, in place, on every rank
  /// allreduce_sum on float64.
  void allreduce_sum(double* buf, std::size_t n) override;
  /// The same allreduce, started: MPI_Isend/MPI_Irecv, advanced by test() (MPI_Testall) and wait().
  std::unique_ptr<Work> iallreduce_sum(float* buf, std::size_t n) override;
  /// iallreduce_sum on float64.
  std::unique_ptr<Work> iallreduce_sum(double* buf, std::size_t n) override;
  /// Reduce to root, started: the others send, root adds in rank order (the allreduce's bits).
  std::unique_ptr<Work> ireduce_sum(float* buf, std::size_t n, int root) override;
  /// ireduce_sum on float64.
  std::unique_ptr<Work> ireduce_sum(double* buf, std::size_t n, int root) override;
  std::unique_ptr<Work> ibroadcast(float* buf, std::size_t n, int root) override;  ///< MPI_Ibcast
  /// MPI_Ibcast on float64.
  std::unique_ptr<Work> ibroadcast(double* buf, std::size_t n, int root) override;
  void broadcast(float* buf, std::size_t n, int root) override;  ///< MPI_Bcast
  void broadcast(double* buf, std::size_t n, int root) override;
  void barrier() override;
  /// Prints "chainrule: rank r of P: <msg>" to stderr, then MPI_Abort(comm, 1): mpirun stops every rank and
  /// exits non-zero.
  [[noreturn]] void abort(const std::string& msg) override;

 private:
  struct Comm;  ///< holds the MPI_Comm (defined in distributed.cpp, which includes <mpi.h>)
  explicit ProcessGroupMPI(std::unique_ptr<Comm> comm);
  template <class T> std::unique_ptr<Work> start_allreduce(T* buf, std::size_t n);
  template <class T> std::unique_ptr<Work> start_reduce(T* buf, std::size_t n, int root);
  int next_tag();
  void check_root(const char* op, int root) const;  ///< throws std::invalid_argument unless 0 <= root < size()
  std::shared_ptr<Comm> comm_;
  int rank_ = 0, size_ = 1;
  unsigned sequence_ = 0;  ///< allreduces started: each gets its own message tags
};

}  // namespace chainrule::nn
