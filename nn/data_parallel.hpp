#pragma once
// Data-parallel training: P processes ("ranks") each hold a replica of the model and train on their slice of every
// global batch; after backward one allreduce turns each rank's gradient into the gradient of the global-batch mean,
// so every replica takes the same step and they stay bit-identical (PyTorch's DistributedDataParallel, Horovod).
//
// The core library knows only the ProcessGroup interface; ProcessGroupMPI (nn/distributed.hpp, library
// chainrule_mpi, built when CMake finds MPI) implements it. Model::fit takes one option:
//
//   nn::FitOptions fo;  fo.process_group = nn::ProcessGroupMPI::world();   // then: mpirun -np 4 ./train
//
// and a hand-written loop uses DataParallel directly (see its comment).
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../autograd/autograd.hpp"

namespace chainrule::optim {
class Optimizer;
}

namespace chainrule::nn {

/// A fixed set of processes that exchange buffers collectively: every rank must make the same calls in the same
/// order (MPI's rule). Implementations: ProcessGroupMPI (nn/distributed.hpp).
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;  ///< 0 .. size()-1
  /// The number of processes.
  virtual int size() const = 0;
  /// In place on every rank: buf ← Σ over ranks of buf. Every rank receives the same bits.
  virtual void allreduce_sum(float* buf, std::size_t n) = 0;
  /// allreduce_sum for float64 buffers.
  virtual void allreduce_sum(double* buf, std::size_t n) = 0;
  /// In place: every rank's buf ← root's buf.
  virtual void broadcast(float* buf, std::size_t n, int root) = 0;
  /// broadcast for float64 buffers.
  virtual void broadcast(double* buf, std::size_t n, int root) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;

  /// A collective started and not yet waited for. wait() returns once the buffer holds the result; test() lets
  /// the collective progress (MPI advances a nonblocking collective only inside MPI calls) and says whether it is
  /// done. The buffer must stay alive and untouched until then.
  class Work {
   public:
    virtual ~Work() = default;
    virtual bool test() = 0;  ///< progresses the collective; true once it is done
    virtual void wait() = 0;  ///< blocks until the buffer holds the result
  };
  /// allreduce_sum started without waiting, the same result to the bit. Collectives start in the same order on
  /// every rank. This default runs the blocking allreduce now and returns finished work.
  virtual std::unique_ptr<Work> iallreduce_sum(float* buf, std::size_t n);
  /// iallreduce_sum on float64.
  virtual std::unique_ptr<Work> iallreduce_sum(double* buf, std::size_t n);
  /// Reduce to one rank, started: root's buf ← Σ over ranks of buf, the same bits allreduce_sum gives; the other
  /// ranks' buffers are unspecified afterwards. This default runs iallreduce_sum.
  virtual std::unique_ptr<Work> ireduce_sum(float* buf, std::size_t n, int root);
  /// ireduce_sum on float64.
  virtual std::unique_ptr<Work> ireduce_sum(double* buf, std::size_t n, int root);
  /// broadcast, started. This default runs the blocking broadcast now and returns finished work.
  virtual std::unique_ptr<Work> ibroadcast(float* buf, std::size_t n, int root);
  /// ibroadcast on float64.
  virtual std::unique_ptr<Work> ibroadcast(double* buf, std::size_t n, int root);
  /// Ends the whole job: prints "chainrule: rank r of P: <msg>" to stderr and stops every rank. Never returns.
  [[noreturn]] virtual void abort(const std::string& msg) = 0;
};

/// This process alone: rank 0 of 1. Its collectives leave every buffer as it is; abort throws
/// std::runtime_error(msg). fit trains over it when given no process group, so the training loop has one path.
std::shared_ptr<ProcessGroup> local_group();

/// Rank r's rows of a global batch [lo, hi) of n = hi − lo rows over P ranks: [lo + ⌊n·r/P⌋, lo + ⌊n·(r+1)/P⌋).
/// Consecutive, sizes differ by at most one, every row on exactly one rank; a rank may get none when n < P.
std::pair<std::size_t, std::size_t> shard(std::size_t lo, std::size_t hi, int rank, int size);

/// How DataParallel reduces gradients.
struct DataParallelOptions {
  /// Overlap communication with backward (PyTorch DDP): after begin_step(), each bucket's allreduce starts as
  /// soon as backward has produced every gradient in it. Off: one allreduce of everything after backward.
  bool overlap = true;
  /// Bucket size: parameters in reverse order (the order backward produces their gradients), a new bucket once
  /// this many MiB are full (a larger parameter gets a bucket of its own, reduced in its own gradient: no copy).
  double bucket_mib = 1.0;
  /// Shard the optimizer (ZeRO stage 1, as PyTorch's ZeroRedundancyOptimizer and DeepSpeed): each bucket of
  /// parameters belongs to one rank (buckets dealt largest first to the least-loaded rank), which alone receives
  /// their reduced gradients (a reduce instead of an allreduce) and updates them; step(opt) then sends every rank
  /// the parameters its owner updated. Each rank's optimizer skips the parameters whose gradients were dropped here
  /// (undefined, as after zero_grad(true)), so it does 1/P of the update and keeps state for 1/P of the parameters.
  /// The weights are those of the unsharded step to the bit. The optimizer's state is spread over the ranks until
  /// consolidate_optimizer_state() gathers it (fit does at the end of every epoch, so checkpoints hold all of it).
  bool shard_optimizer = false;
};

/// The gradient side of data parallelism for one model's parameters (and buffers, e.g. BatchNorm's running
/// statistics). A training step on rank r, whose n_r rows are its shard() of a global batch of n rows:
///
///   nn::DataParallel dp(group, net->parameters(), buffers);   // broadcasts rank 0's values: replicas start equal
///   auto [lo, hi] = dp.shard(b0, b1);                          // this rank's rows of the global batch [b0, b1)
///   opt.zero_grad();  Tensor loss = loss_fn(rows lo..hi);
///   dp.begin_step(hi - lo, b1 - b0);                           // (optional) buckets go out during backward
///   loss.backward();                                           // mean over this rank's rows
///   std::vector<double> v = {loss.item()};
///   dp.allreduce_gradients(hi - lo, b1 - b0, v);              // grads and v[0] now those of the global batch
///   dp.step(opt);                                              // the same step on every rank (opt.step() but
///                                                              // with shard_optimizer)
///
/// With or without begin_step (overlapped or not), the gradients are the same to the last bit: each element is
/// the same sum of the same weighted terms, only sent in pieces and earlier.
class DataParallel {
 public:
  /// Broadcasts rank 0's parameters and buffers to every rank. The parameters must share one dtype.
  DataParallel(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, std::vector<Tensor> buffers = {},
               DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;  ///< the gradient hooks point at this object
  DataParallel& operator=(const DataParallel&) = delete;

  /// The process group.
  ProcessGroup& group() const { return *group_; }
  /// This process's rank in the group.
  int rank() const { return group_->rank(); }
  /// The number of processes.
  int size() const { return group_->size(); }
  /// This rank's part [begin, end) of the rows [lo, hi) (nn::shard).
  std::pair<std::size_t, std::size_t> shard(std::size_t lo, std::size_t hi) const {
    return nn::shard(lo, hi, rank(), size());
  }

  /// After backward on this rank's `rows` of a global batch of `batch_rows` rows, with each gradient g_r the mean
  /// over those rows: every parameter's gradient becomes that of the global-batch mean,
  ///   g = Σ_r (n_r / n) · g_r,
  /// exact for uneven shards. `values` (per-row means over this rank's rows: loss, metrics) are combined the same
  /// way. One allreduce of one flat buffer (parameter count + values.size() elements). A parameter without a
  /// gradient (a rank with no rows) counts as zero and gets one. A group of one has nothing to exchange: the
  /// gradients and values are left as they are (no copy, no pass over them).
  /// Backward's gradients are reduced as they arrive. With shard_optimizer only the parameters this rank owns
  /// keep a gradient (the global batch's); the others' are dropped (undefined).
  void allreduce_gradients(std::size_t rows, std::size_t batch_rows, std::vector<double>& values);
  /// opt.step(); with shard_optimizer, then every rank's parameters ← their owners' (nonblocking broadcasts, one per
  /// parameter, all in flight at once). The loop must call this rather than opt.step() when sharding: the next
  /// step refuses to start otherwise, as the replicas would differ.
  void step(optim::Optimizer& opt);
  /// In place of step(opt) when every rank decides not to take this step (fit, on a non-finite global loss): the
  /// parameters stay as they are on every rank, and the next step may start.
  void skip_step() { sync_pending_ = false; }
  /// With shard_optimizer, every rank's optimizer state ← each parameter's owner's (nonblocking broadcasts, all in
  /// flight at once; parameters that have none yet stay without), so that a checkpoint or state() from any rank is
  /// the whole of it, as the unsharded run's (ZeroRedundancyOptimizer::consolidate_state_dict, to every rank).
  /// Until the next call, ranks hold stale copies of the state they do not own, which their steps never read.
  /// Without sharding, or in a group of one, nothing to do. Every rank must call it alike; opt's parameters must
  /// be among this DataParallel's (std::invalid_argument otherwise).
  void consolidate_optimizer_state(optim::Optimizer& opt);
  /// Whether this rank updates parameter i: its owner with shard_optimizer, every rank without.
  bool owns(std::size_t i) const;
  /// Before one backward on this rank's `rows` of a global batch of `batch_rows`: arms the gradient hooks, so that
  /// each bucket's weighted gradients go out (nonblocking) as soon as backward has produced them all; the next
  /// allreduce_gradients, with the same counts, sends the rest and waits. Does nothing with overlap off or a
  /// group of one. Every rank must call it alike (the collectives pair up in order), also a rank that then runs no
  /// backward. A parameter may get only one gradient per armed step (accumulate with overlap off).
  void begin_step(std::size_t rows, std::size_t batch_rows);
  /// Every rank's parameters and buffers ← rank 0's.
  void broadcast_parameters();
  /// Every rank's buffers ← rank 0's (running statistics follow rank 0's shards, as DDP's broadcast_buffers).
  void broadcast_buffers();
  /// Throws std::invalid_argument on every rank whose values differ from rank 0's, naming the first that differs:
  /// "<who>: rank 1 has <name> = 1000, rank 0 has 1200; every rank must run the same ...". Values must be exact
  /// in double (counts, flags, seeds below 2^53).
  void check_same(const std::vector<std::pair<std::string, double>>& values, const std::string& who) const;

 private:
  /// A run of parameters (in backward order) whose gradients go out in one allreduce of flat[offset, offset+numel).
  struct Bucket {
    std::vector<std::size_t> params;
    std::size_t offset = 0, numel = 0, pending = 0;  ///< pending: gradients not yet packed in this step
    int owner = 0;                                   ///< with shard_optimizer: the rank that updates these
    std::unique_ptr<ProcessGroup::Work> work;        ///< set once launched
  };
  void make_buckets(double mib);
  void arm(std::size_t rows, std::size_t batch_rows);  ///< a step's bucket state, reset
  void check_synced(const char* who) const;            ///< throws if step(opt) did not follow the last reduction
  void on_gradient(std::size_t i);       ///< the post-accumulate hook of parameter i
  void pack(std::size_t i);              ///< flat[offset_[i] ...] ← w·grad_i (0 without a gradient)
  void prepare(std::size_t i);           ///< an armed step's pack: in place in grad_i for a bucket of its own
  template <class T> T* bucket_data(const Bucket& b);  ///< the buffer bucket b is reduced in
  void launch_ready();                   ///< starts the finished buckets, in bucket order (the same on every rank)
  void finish_overlapped(std::vector<double>& values);
  void unpack(std::vector<double>& values, bool overlapped = false);
  void broadcast_tensors(const std::vector<Tensor>& ts);
  template <class T> std::vector<T>& flat() {
    if constexpr (std::is_same_v<T, float>) return flat32_; else return flat64_;
  }

  std::shared_ptr<ProcessGroup> group_;
  std::vector<Tensor> params_, buffers_;
  DataParallelOptions options_;
  std::size_t numel_ = 0;
  std::vector<float> flat32_;   ///< reused across steps: no allocation per step
  std::vector<double> flat64_;
  /// Overlap: each parameter's place in the flat buffer, the buckets, and the armed step's state.
  std::vector<std::size_t> offset_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;
  std::vector<char> packed_;
  std::vector<RemovableHandle> hooks_;
  bool armed_ = false, sync_pending_ = false;
  std::size_t rows_ = 0, batch_rows_ = 0, next_launch_ = 0;
};

}  // namespace chainrule::nn
