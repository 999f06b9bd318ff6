// The intra-op pool (autograd/parallel.hpp): n − 1 workers, each waiting for the next task's generation number.
// A task is handed out by bumping the generation under a mutex (no lost wake-up) and notifying; then the caller
// and the workers claim its ranges from one counter, so that on a busy machine, where a worker may not get a
// core for milliseconds, the caller runs the ranges nobody has claimed instead of waiting. A worker spins 50 µs
// after each task (ops come in bursts) before sleeping on the condition variable. Measured on a 2-vCPU virtual
// machine (bench/README.md, "One pool"): a sleeping worker takes ~100 µs to wake there, so not spinning made the
// Fashion-MNIST epoch slower (0.31 → 0.38 s at 2 threads), and spinning through whole steps (1 ms) made it slower
// still (0.53 s), presumably as the host schedules a spinning vCPU against the busy one.
#include "parallel.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

extern "C" void openblas_set_num_threads(int);  // OpenBLAS' own call (the library links OpenBLAS by name)

namespace chainrule {
namespace detail {
namespace {

unsigned read_fp_mode() {
#if defined(__SSE2__)
  return _mm_getcsr();
#else
  return 0;
#endif
}
void write_fp_mode(unsigned csr) {
#if defined(__SSE2__)
  if (_mm_getcsr() != csr) _mm_setcsr(csr);
#else
  (void)csr;
#endif
}
void cpu_relax() {
#if defined(__SSE2__)
  _mm_pause();
#endif
}

int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

constexpr std::chrono::microseconds kSpin{50};

// CPUs for n workers: the ones this process may run on, less the one the calling thread is on now; empty (no
// pinning) when there are fewer than n of them. Unpinned, a worker woken by the caller can be placed on the caller's
// CPU (the scheduler's wake-affine choice) and spin there, taking turns with the caller: on the 2-vCPU machine a
// 784-128-64-10 Adam step at 2 threads took 220–360 µs from one process to the next (bimodal; 1 thread: 213–255),
// and 189–202 µs in every process with the worker kept off the caller's CPU. The calling thread is never pinned.
std::vector<int> worker_cpus(int n) {
  cpu_set_t set;
  if (n <= 0 || sched_getaffinity(0, sizeof set, &set) != 0) return {};
  const int here = sched_getcpu();
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set) && c != here) cpus.push_back(c);
  if (cpus.size() < std::size_t(n)) return {};
  return cpus;
}
void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort: unpinned if refused
}

thread_local bool t_in_worker = false;

class Pool {
 public:
  explicit Pool(int threads) {
    const std::vector<int> cpus = worker_cpus(threads - 1);
    for (int w = 1; w < threads; ++w)
      workers_.emplace_back([this, cpu = cpus.empty() ? -1 : cpus[std::size_t(w - 1)]] {
        if (cpu >= 0) pin_to(cpu);
        work();
      });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  std::size_t threads() const { return workers_.size() + 1; }

  // Runs the task over the threads; returns false, doing nothing, when another thread holds the pool.
  bool run(std::size_t n, std::size_t align, void (*call)(void*, std::size_t, std::size_t), void* fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    // Ranges: n split in threads() parts of whole `align` blocks; the last takes the remainder.
    const std::size_t parts = threads(), blocks = (n + align - 1) / align;
    step_ = (blocks + parts - 1) / parts * align;
    n_ = n, call_ = call, fn_ = fn, fp_mode_ = read_fp_mode();
    done_.store(0, std::memory_order_relaxed);
    next_.store(0, std::memory_order_release);  // the fields above are visible to whoever claims a range
    {
      std::lock_guard<std::mutex> lk(m_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    claim_ranges();  // the caller works too, and takes the workers' ranges if they have not started them
    for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
      if (spins < 256) cpu_relax();
      else std::this_thread::yield();  // a worker without a core (a busy machine): let it run
    }
    return true;
  }

 private:
  // Claims and runs ranges until none is left. A range's results do not depend on which thread runs it.
  void claim_ranges() {
    for (;;) {
      const std::size_t i = next_.fetch_add(1, std::memory_order_acq_rel);
      if (i >= threads()) return;  // (fixed for the pool's life: read before any claim succeeds)
      write_fp_mode(fp_mode_);
      const std::size_t b = std::min(n_, i * step_), e = std::min(n_, b + step_);
      if (b < e) call_(fn_, b, e);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void work() {
    t_in_worker = true;
    std::uint64_t seen = 0;
    for (;;) {
      // kSpin of spinning before sleeping: the ops of one step come in bursts and find the worker awake.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
        for (int k = 0; k < 16; ++k) cpu_relax();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      const unsigned own_mode = read_fp_mode();
      claim_ranges();
      write_fp_mode(own_mode);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;  // one task at a time: a second calling thread runs its loop alone
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> next_{0}, done_{0};  // ranges claimed, ranges finished
  std::atomic<bool> stop_{false};
  // The current task (written by the caller before next_ is reset, read by a thread after it claims a range).
  std::size_t n_ = 0, step_ = 0;
  void (*call_)(void*, std::size_t, std::size_t) = nullptr;
  void* fn_ = nullptr;
  unsigned fp_mode_ = 0;
};

std::mutex g_pool_mutex;  // guards g_pool's creation and replacement
std::shared_ptr<Pool> g_pool;
std::atomic<bool> g_pool_alive{true};
struct PoolLifetime {  // after static destruction starts, ops run serially
  ~PoolLifetime() {
    g_pool_alive.store(false);
    std::lock_guard<std::mutex> lk(g_pool_mutex);
    g_pool.reset();
  }
} g_pool_lifetime;

std::shared_ptr<Pool> pool_for(int threads) {
  std::lock_guard<std::mutex> lk(g_pool_mutex);
  if (!g_pool_alive.load()) return nullptr;
  if (!g_pool || g_pool->threads() != static_cast<std::size_t>(threads)) g_pool = std::make_shared<Pool>(threads);
  return g_pool;  // shared: a pool replaced by a new thread count lives until its last task ends
}

}  // namespace

// OpenBLAS runs one thread per call from the start: the GEMMs are split over this pool (autograd/ops/linalg.cpp).
static int start_threads() {
  openblas_set_num_threads(1);
  return default_threads();
}
std::atomic<int> g_num_threads{start_threads()};

void parallel_run(std::size_t n, std::size_t align, void (*call)(void*, std::size_t, std::size_t), void* fn) {
  const int threads = g_num_threads.load(std::memory_order_relaxed);
  const std::shared_ptr<Pool> pool = t_in_worker || threads <= 1 ? nullptr : pool_for(threads);
  if (!pool || !pool->run(n, align, call, fn)) call(fn, 0, n);
}

}  // namespace detail

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: the thread count must be >= 1, got " + std::to_string(n));
  detail::g_num_threads.store(n);
  openblas_set_num_threads(1);  // in case the program changed it: one pool, ours (autograd/parallel.hpp)
}

int get_num_threads() { return std::max(1, detail::g_num_threads.load()); }

}  // namespace chainrule
