// ProcessGroupMPI: MPI_Allreduce / MPI_Iallreduce / MPI_Bcast / MPI_Barrier / MPI_Abort on a duplicate of MPI_COMM_WORLD.
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

struct ProcessGroupMPI::Comm {
  MPI_Comm comm = MPI_COMM_NULL;
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

ProcessGroupMPI::~ProcessGroupMPI() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_->comm);
}

void ProcessGroupMPI::allreduce_sum(float* buf, std::size_t n) {
  chunked(n, [&](std::size_t at, int len) { MPI_Allreduce(MPI_IN_PLACE, buf + at, len, MPI_FLOAT, MPI_SUM, comm_->comm); });
}
void ProcessGroupMPI::allreduce_sum(double* buf, std::size_t n) {
  chunked(n, [&](std::size_t at, int len) { MPI_Allreduce(MPI_IN_PLACE, buf + at, len, MPI_DOUBLE, MPI_SUM, comm_->comm); });
}

namespace {
// A started MPI_Iallreduce (one request per chunk of at most INT_MAX elements).
struct MpiWork final : ProcessGroup::Work {
  std::vector<MPI_Request> reqs;
  bool test() override {
    int done = 0;
    MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE);
    return done != 0;
  }
  void wait() override { MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE); }
  ~MpiWork() override { wait(); }  // the buffer must not go while MPI still writes it
};
template <class T> std::unique_ptr<ProcessGroup::Work> start_iallreduce(T* buf, std::size_t n, MPI_Comm comm) {
  auto w = std::make_unique<MpiWork>();
  chunked(n, [&](std::size_t at, int len) {
    w->reqs.emplace_back();
    MPI_Iallreduce(MPI_IN_PLACE, buf + at, len, std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, comm,
                   &w->reqs.back());
  });
  return w;
}
}  // namespace

std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(float* buf, std::size_t n) {
  return start_iallreduce(buf, n, comm_->comm);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroupMPI::iallreduce_sum(double* buf, std::size_t n) {
  return start_iallreduce(buf, n, comm_->comm);
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
