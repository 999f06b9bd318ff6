// ProcessGroupMPI on a duplicate of MPI_COMM_WORLD: allreduce by point-to-point messages (below), MPI_Bcast,
// MPI_Barrier, MPI_Abort.
#include "distributed.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace chainrule::nn {

// Shared by the group and the collectives it started: a started allreduce posts its second phase's messages on it
// later, perhaps after the group is gone.
struct ProcessGroupMPI::Comm {
  MPI_Comm comm = MPI_COMM_NULL;
  ~Comm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

namespace {

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI counts are ints: longer buffers go in chunks of at most INT_MAX elements.
template <class F> void chunked(std::size_t n, F&& f) {
  for (std::size_t at = 0; at < n;) {
    const std::size_t len = std::min<std::size_t>(n - at, INT_MAX);
    f(at, static_cast<int>(len));
    at += len;
  }
}

}  // namespace

std::shared_ptr<ProcessGroupMPI> ProcessGroupMPI::world() {
  static std::mutex mu;
  static std::weak_ptr<ProcessGroupMPI> cached;
  std::lock_guard<std::mutex> lock(mu);
  if (auto g = cached.lock()) return g;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    std::atexit(finalize_at_exit);  // we initialised MPI, so we finalise it (mpirun expects every rank to)
  }
  auto c = std::make_unique<Comm>();
  MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
  MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_ARE_FATAL);
  std::shared_ptr<ProcessGroupMPI> g(new ProcessGroupMPI(std::move(c)));
  cached = g;
  return g;
}

ProcessGroupMPI::ProcessGroupMPI(std::unique_ptr<Comm> comm) : comm_(std::move(comm)) {
  MPI_Comm_rank(comm_->comm, &rank_);
  MPI_Comm_size(comm_->comm, &size_);
}

ProcessGroupMPI::~ProcessGroupMPI() = default;

namespace {

template <class T> MPI_Datatype mpi_type() { return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE; }

// Allreduce as reduce-scatter then allgather over point-to-point messages (Rabenseifner's scheme, as gloo and
// NCCL run it). The buffer splits into P chunks, chunk q = [⌊n·q/P⌋, ⌊n·(q+1)/P⌋); rank r receives chunk r from
// every other rank, sums the P contributions in rank order, x_0 + x_1 + ... + x_{P−1}, then sends the sum to the
// others and receives theirs. Each rank sends and receives 2·(P−1)/P of the buffer once; Open MPI's own in-place
// Iallreduce on 2 ranks (binomial) has rank 0 receive and add all of it and send all of it back, the blocking
// MPI_Allreduce picks yet another algorithm by size. And every element is the same sum in the same order whatever
// the buffer's length or where it starts, so a step reduced in buckets gives the bits of one flat allreduce.
// MPI moves a nonblocking message only inside MPI calls: test() and wait() advance the phases.
template <class T> class RankOrderAllreduce final : public ProcessGroup::Work {
 public:
  RankOrderAllreduce(T* buf, std::size_t n, std::shared_ptr<const void> owner, MPI_Comm comm, int rank, int size,
                     int tag)
      : buf_(buf), n_(n), owner_(std::move(owner)), comm_(comm), rank_(rank), size_(size), tag_(tag) {
    const std::size_t mine = len(rank_);
    recv_.resize(mine * static_cast<std::size_t>(size_ - 1));
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      message(true, recv_.data() + slot(q) * mine, mine, q, tag_);  // their part of my chunk
      message(false, buf_ + lo(q), len(q), q, tag_);                // my part of theirs
    }
  }
  ~RankOrderAllreduce() override { wait(); }  // the buffer must not go while MPI still reads or writes it
  bool test() override {
    while (phase_ < 2) {
      int done = 0;
      MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &done, MPI_STATUSES_IGNORE);
      if (!done) return false;
      advance();
    }
    return true;
  }
  void wait() override {
    while (phase_ < 2) {
      MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
      advance();
    }
  }

 private:
  std::size_t lo(int q) const { return n_ * static_cast<std::size_t>(q) / static_cast<std::size_t>(size_); }
  std::size_t len(int q) const { return lo(q + 1) - lo(q); }
  std::size_t slot(int q) const { return static_cast<std::size_t>(q < rank_ ? q : q - 1); }
  // One Isend or Irecv (several past INT_MAX elements: same peer and tag, so they match in order).
  void message(bool receive, T* p, std::size_t count, int peer, int tag) {
    chunked(count, [&](std::size_t at, int c) {
      reqs_.emplace_back();
      if (receive) MPI_Irecv(p + at, c, mpi_type<T>(), peer, tag, comm_, &reqs_.back());
      else MPI_Isend(p + at, c, mpi_type<T>(), peer, tag, comm_, &reqs_.back());
    });
  }
  // Phase 0 done: my chunk ← Σ_q x_q in rank order; phase 1 sends it and receives the other chunks' sums.
  void advance() {
    reqs_.clear();
    if (phase_++ == 1) return;
    const std::size_t mine = len(rank_);
    T* out = buf_ + lo(rank_);
    auto part = [&](int q) -> const T* { return q == rank_ ? out : recv_.data() + slot(q) * mine; };
    constexpr std::size_t kBlock = 512;  // the running sums stay in L1
    T acc[kBlock];
    for (std::size_t at = 0; at < mine; at += kBlock) {
      const std::size_t m = std::min(kBlock, mine - at);
      std::copy(part(0) + at, part(0) + at + m, acc);
      for (int q = 1; q < size_; ++q) {
        const T* x = part(q) + at;
        for (std::size_t k = 0; k < m; ++k) acc[k] += x[k];
      }
      std::copy(acc, acc + m, out + at);
    }
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      message(false, out, mine, q, tag_ + 1);
      message(true, buf_ + lo(q), len(q), q, tag_ + 1);
    }
  }

  T* buf_;
  std::size_t n_;
  std::shared_ptr<const void> owner_;  ///< keeps comm_ alive
  MPI_Comm comm_;
  int rank_, size_, tag_, phase_ = 0;
  std::vector<T> recv_;  ///< the other ranks' parts of my chunk, in rank order
  std::vector<MPI_Request> reqs_;
};

// A collective with nothing to exchange (one rank, an empty buffer).
struct NoWork final : ProcessGroup::Work {
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

template <class T> std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::start_allreduce(T* buf, std::size_t n) {
  if (size_ == 1 || n == 0) return std::make_unique<NoWork>();
  // Each allreduce gets its own pair of tags: several may be in flight, and their phases interleave.
  const int tag = 2 * static_cast<int>(sequence_++ % 16000);  // MPI guarantees tags up to 32767
  return std::make_unique<RankOrderAllreduce<T>>(buf, n, comm_, comm_->comm, rank_, size_, tag);
}

void ProcessGroupMPI::allreduce_sum(float* buf, std::size_t n) { start_allreduce(buf, n)->wait(); }
void ProcessGroupMPI::allreduce_sum(double* buf, std::size_t n) { start_allreduce(buf, n)->wait(); }
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(float* buf, std::size_t n) {
  return start_allreduce(buf, n);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(double* buf, std::size_t n) {
  return start_allreduce(buf, n);
}

void ProcessGroupMPI::broadcast(float* buf, std::size_t n, int root) {
  chunked(n, [&](std::size_t at, int len) { MPI_Bcast(buf + at, len, MPI_FLOAT, root, comm_->comm); });
}
void ProcessGroupMPI::broadcast(double* buf, std::size_t n, int root) {
  chunked(n, [&](std::size_t at, int len) { MPI_Bcast(buf + at, len, MPI_DOUBLE, root, comm_->comm); });
}

void ProcessGroupMPI::barrier() { MPI_Barrier(comm_->comm); }

void ProcessGroupMPI::abort(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "chainrule: rank %d of %d: %s\n", rank_, size_, msg.c_str());
  std::fflush(stderr);
  MPI_Abort(comm_->comm, 1);
  std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest if an implementation did
}

}  // namespace chainrule::nn
