// What a data-parallel job does when something goes wrong, run by ctest through tests/mpi/run_mpi.cmake, which
// checks the exit code and the output of `mpirun -np 2 chainrule_mpi_faults <mode>` within a timeout:
//   throw     rank 1 throws in its 3rd allreduce: the job ends non-zero with "chainrule: rank 1 of 2: ..."
//   die       rank 1 is killed (SIGKILL) in its 3rd allreduce: mpirun ends the job non-zero, no hang
//   mismatch  rank 1 has one training row less: the job ends naming the setting and both values
//   print     a normal 2-epoch run with verbose 2: rank 0 alone prints (two "Epoch" lines in all)
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <stdexcept>

#include <chainrule/nn/distributed.hpp>
#include "problem.hpp"

using namespace chainrule;

namespace {

// The MPI group, with a failure injected on rank 1 at its `at`-th allreduce.
class FailingGroup : public nn::ProcessGroup {
 public:
  FailingGroup(std::shared_ptr<nn::ProcessGroup> g, bool kill, int at) : g_(std::move(g)), kill_(kill), at_(at) {}
  int rank() const override { return g_->rank(); }
  int size() const override { return g_->size(); }
  void allreduce_sum(float* b, std::size_t n) override { maybe_fail(); g_->allreduce_sum(b, n); }
  void allreduce_sum(double* b, std::size_t n) override { maybe_fail(); g_->allreduce_sum(b, n); }
  void broadcast(float* b, std::size_t n, int root) override { g_->broadcast(b, n, root); }
  void broadcast(double* b, std::size_t n, int root) override { g_->broadcast(b, n, root); }
  void barrier() override { g_->barrier(); }
  [[noreturn]] void abort(const std::string& msg) override {
    g_->abort(msg);
    std::abort();  // not reached (g++ does not see [[noreturn]] through the virtual call)
  }

 private:
  void maybe_fail() {
    if (rank() != 1 || ++calls_ != at_) return;
    if (kill_) std::raise(SIGKILL);
    throw std::runtime_error("injected failure in allreduce " + std::to_string(at_));
  }
  std::shared_ptr<nn::ProcessGroup> g_;
  bool kill_;
  int at_, calls_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  auto world = nn::ProcessGroupMPI::world();
  if (mode != "throw" && mode != "die" && mode != "mismatch" && mode != "print") {
    if (world->rank() == 0) std::fprintf(stderr, "usage: %s throw|die|mismatch|print\n", argv[0]);
    return 2;
  }
  auto [x, y] = mpitest::blobs(mode == "mismatch" && world->rank() == 1 ? 99 : 100, kFloat32);
  nn::Model m = mpitest::classifier(kFloat32, "adam", 0.01);
  nn::FitOptions o;
  o.epochs = 2, o.batch_size = 10, o.verbose = mode == "print" ? 2 : 0;
  o.process_group = world;
  if (mode == "throw" || mode == "die") o.process_group = std::make_shared<FailingGroup>(world, mode == "die", 3);
  const nn::History h = m.fit(x, y, o);
  if (world->rank() == 0) std::printf("finished: %zu epochs\n", h.epochs);
  return 0;
}
