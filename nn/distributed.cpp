// ProcessGroupMPI on a duplicate of MPI_COMM_WORLD: allreduce and reduce by point-to-point messages (below),
// MPI_Bcast / MPI_Ibcast, MPI_Barrier, MPI_Abort.
#include "distributed.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
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

// out[k] ← part(0)[k] + part(1)[k] + ... + part(P−1)[k], added in that order (out may be one of the parts).
template <class T, class Part> void add_in_rank_order(T* out, Part part, int size, std::size_t len) {
  constexpr std::size_t kBlock = 512;  // the running sums stay in L1
  T acc[kBlock];
  for (std::size_t at = 0; at < len; at += kBlock) {
    const std::size_t m = std::min(kBlock, len - at);
    std::copy(part(0) + at, part(0) + at + m, acc);
    for (int q = 1; q < size; ++q) {
      const T* x = part(q) + at;
      for (std::size_t k = 0; k < m; ++k) acc[k] += x[k];
    }
    std::copy(acc, acc + m, out + at);
  }
}

// A collective made of nonblocking messages in phases. MPI moves a message only inside MPI calls: test() and
// wait() complete the current phase's messages, then next_phase() computes and posts the next phase's, or says
// the collective is done. A subclass's destructor calls wait(): its buffers must outlive the messages.
template <class T> class Exchange : public ProcessGroup::Work {
 public:
  bool test() override {
    while (!done_) {
      int flag = 0;
      MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &flag, MPI_STATUSES_IGNORE);
      if (!flag) return false;
      reqs_.clear(), done_ = !next_phase();
    }
    return true;
  }
  void wait() override {
    while (!done_) {
      MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
      reqs_.clear(), done_ = !next_phase();
    }
  }

 protected:
  Exchange(std::shared_ptr<const void> owner, MPI_Comm comm, int tag)
      : owner_(std::move(owner)), comm_(comm), tag_(tag) {}
  virtual bool next_phase() = 0;
  // One Isend or Irecv (several past INT_MAX elements: same peer and tag, so they match in order).
  void message(bool receive, T* p, std::size_t count, int peer, int tag) {
    chunked(count, [&](std::size_t at, int c) {
      reqs_.emplace_back();
      if (receive) MPI_Irecv(p + at, c, mpi_type<T>(), peer, tag, comm_, &reqs_.back());
      else MPI_Isend(p + at, c, mpi_type<T>(), peer, tag, comm_, &reqs_.back());
    });
  }
  void collective(MPI_Request r) { reqs_.push_back(r); }

  std::shared_ptr<const void> owner_;  ///< keeps comm_ alive: a later phase posts messages on it
  MPI_Comm comm_;
  int tag_;

 private:
  std::vector<MPI_Request> reqs_;
  bool done_ = false;
};

// Allreduce as reduce-scatter then allgather over point-to-point messages (Rabenseifner's scheme, as gloo and
// NCCL run it). The buffer splits into P chunks, chunk q = [⌊n·q/P⌋, ⌊n·(q+1)/P⌋); rank r receives chunk r from
// every other rank, sums the P contributions in rank order, x_0 + x_1 + ... + x_{P−1}, then sends the sum to the
// others and receives theirs. Each rank sends and receives 2·(P−1)/P of the buffer once; Open MPI's own in-place
// Iallreduce on 2 ranks (binomial) has rank 0 receive and add all of it and send all of it back, the blocking
// MPI_Allreduce picks yet another algorithm by size. And every element is the same sum in the same order whatever
// the buffer's length or where it starts, so a step reduced in buckets gives the bits of one flat allreduce.
template <class T> class RankOrderAllreduce final : public Exchange<T> {
 public:
  RankOrderAllreduce(T* buf, std::size_t n, std::shared_ptr<const void> owner, MPI_Comm comm, int rank, int size,
                     int tag)
      : Exchange<T>(std::move(owner), comm, tag), buf_(buf), n_(n), rank_(rank), size_(size),
        recv_(new T[len(rank) * static_cast<std::size_t>(size - 1)]) {  // not zeroed: the messages fill it
    const std::size_t mine = len(rank_);
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      this->message(true, recv_.get() + slot(q) * mine, mine, q, tag);  // their part of my chunk
      this->message(false, buf_ + lo(q), len(q), q, tag);                // my part of theirs
    }
  }
  ~RankOrderAllreduce() override { this->wait(); }

 private:
  std::size_t lo(int q) const { return n_ * static_cast<std::size_t>(q) / static_cast<std::size_t>(size_); }
  std::size_t len(int q) const { return lo(q + 1) - lo(q); }
  std::size_t slot(int q) const { return static_cast<std::size_t>(q < rank_ ? q : q - 1); }
  // Reduce-scatter done: my chunk ← Σ_q x_q in rank order; the allgather sends it and receives the others' sums.
  bool next_phase() override {
    if (gathered_) return false;
    gathered_ = true;
    const std::size_t mine = len(rank_);
    T* out = buf_ + lo(rank_);
    add_in_rank_order(out, [&](int q) -> const T* { return q == rank_ ? out : recv_.get() + slot(q) * mine; },
                      size_, mine);
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      this->message(false, out, mine, q, this->tag_ + 1);
      this->message(true, buf_ + lo(q), len(q), q, this->tag_ + 1);
    }
    return true;
  }

  T* buf_;
  std::size_t n_;
  int rank_, size_;
  bool gathered_ = false;
  std::unique_ptr<T[]> recv_;  ///< the other ranks' parts of my chunk, in rank order
};

// Reduce to one rank: the others send it their buffers, and it adds the P of them in rank order, as the allreduce
// above adds each element, so the root gets the allreduce's bits.
template <class T> class RankOrderReduce final : public Exchange<T> {
 public:
  RankOrderReduce(T* buf, std::size_t n, int root, std::shared_ptr<const void> owner, MPI_Comm comm, int rank,
                  int size, int tag)
      : Exchange<T>(std::move(owner), comm, tag), buf_(buf), n_(n), rank_(rank), size_(size), root_(rank == root) {
    if (!root_) {
      this->message(false, buf_, n_, root, tag);
      return;
    }
    recv_.reset(new T[n_ * static_cast<std::size_t>(size_ - 1)]);  // not zeroed: the messages fill it
    for (int q = 0; q < size_; ++q)
      if (q != rank_) this->message(true, recv_.get() + slot(q) * n_, n_, q, tag);
  }
  ~RankOrderReduce() override { this->wait(); }

 private:
  std::size_t slot(int q) const { return static_cast<std::size_t>(q < rank_ ? q : q - 1); }
  bool next_phase() override {
    if (root_)
      add_in_rank_order(buf_, [&](int q) -> const T* { return q == rank_ ? buf_ : recv_.get() + slot(q) * n_; },
                        size_, n_);
    return false;
  }

  T* buf_;
  std::size_t n_;
  int rank_, size_;
  bool root_;
  std::unique_ptr<T[]> recv_;  ///< at the root: the other ranks' buffers, in rank order
};

// MPI_Ibcast, in pieces of at most INT_MAX elements.
template <class T> class Broadcast final : public Exchange<T> {
 public:
  Broadcast(T* buf, std::size_t n, int root, std::shared_ptr<const void> owner, MPI_Comm comm)
      : Exchange<T>(std::move(owner), comm, 0) {
    chunked(n, [&](std::size_t at, int len) {
      MPI_Request r;
      MPI_Ibcast(buf + at, len, mpi_type<T>(), root, comm, &r);
      this->collective(r);
    });
  }
  ~Broadcast() override { this->wait(); }

 private:
  bool next_phase() override { return false; }
};

// A collective with nothing to exchange (one rank, an empty buffer).
struct NoWork final : ProcessGroup::Work {
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

int ProcessGroupMPI::next_tag() {
  // Each reduction gets its own pair of tags: several may be in flight, and their phases interleave.
  return 2 * static_cast<int>(sequence_++ % 16000);  // MPI guarantees tags up to 32767
}

template <class T> std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::start_allreduce(T* buf, std::size_t n) {
  if (size_ == 1 || n == 0) return std::make_unique<NoWork>();
  return std::make_unique<RankOrderAllreduce<T>>(buf, n, comm_, comm_->comm, rank_, size_, next_tag());
}

template <class T>
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::start_reduce(T* buf, std::size_t n, int root) {
  check_root("ireduce_sum", root);
  if (size_ == 1 || n == 0) return std::make_unique<NoWork>();
  return std::make_unique<RankOrderReduce<T>>(buf, n, root, comm_, comm_->comm, rank_, size_, next_tag());
}

void ProcessGroupMPI::check_root(const char* op, int root) const {
  if (root < 0 || root >= size_)
    throw std::invalid_argument(std::string("ProcessGroupMPI::") + op + ": root " + std::to_string(root) +
                                " is not a rank of this group of " + std::to_string(size_));
}

void ProcessGroupMPI::allreduce_sum(float* buf, std::size_t n) { start_allreduce(buf, n)->wait(); }
void ProcessGroupMPI::allreduce_sum(double* buf, std::size_t n) { start_allreduce(buf, n)->wait(); }
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(float* buf, std::size_t n) {
  return start_allreduce(buf, n);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(double* buf, std::size_t n) {
  return start_allreduce(buf, n);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::ireduce_sum(float* buf, std::size_t n, int root) {
  return start_reduce(buf, n, root);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::ireduce_sum(double* buf, std::size_t n, int root) {
  return start_reduce(buf, n, root);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::ibroadcast(float* buf, std::size_t n, int root) {
  check_root("ibroadcast", root);
  return std::make_unique<Broadcast<float>>(buf, n, root, comm_, comm_->comm);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::ibroadcast(double* buf, std::size_t n, int root) {
  check_root("ibroadcast", root);
  return std::make_unique<Broadcast<double>>(buf, n, root, comm_, comm_->comm);
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
