#pragma once
// Intra-op parallelism: large elementwise loops, reductions over many outputs, batch gathers, optimizer updates and
// GEMMs are split over a small persistent pool of threads, as torch's intra-op pool does. set_num_threads(n) sizes
// the pool (n − 1 workers plus the calling thread). OpenBLAS runs one thread per call, always: a large GEMM is split
// into blocks of C's rows or columns, one single-threaded OpenBLAS (or ops/sgemm.hpp) call per thread of this pool.
// So there is one pool, never two competing for the cores (OpenBLAS' idle workers spin after each call, and took the
// core our workers needed: a 2-thread step of a small net was slower than a 1-thread one).
//
// Results do not depend on the thread count: every split gives each thread whole outputs (elements of an
// elementwise op, whole sums of a reduction, whole dot products of a GEMM), computed exactly as one thread computes
// them, so 1 and n threads give the same bits. Small tensors (below kParallelMin elements) never touch the pool:
// one load and a compare.
//
// Each worker is pinned to one of the process's CPUs other than the one the pool's first caller was on (when there
// are enough), so that the scheduler does not put it beside the caller; the caller's own thread is left free.
//
// The workers run each task with the calling thread's floating-point mode (x86's MXCSR: rounding, FTZ/DAZ), so
// set_flush_denormal on the calling thread covers the loops it hands out.
#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace chainrule {

/// Threads used by one op (the calling thread included), like torch::set_num_threads. Default:
/// the CPUs this process may run on (OMP_NUM_THREADS, when set, as torch). n >= 1, else std::invalid_argument.
/// Call it between ops, not while another thread is running one.
void set_num_threads(int n);
/// The current setting (torch::get_num_threads).
int get_num_threads();

namespace detail {

/// Below this many elements of work an op runs on the calling thread alone: handing out a task costs ~2 µs
/// (waking a worker), what a loop over ~16k floats takes (bench/README.md, "Both cores": the crossover).
inline constexpr std::size_t kParallelMin = 32768;
/// A float32 GEMM is cut into blocks only when each block takes more multiply-adds than this: below, a block is
/// not worth a thread's wake-up, and OpenBLAS 0.3.21's small-matrix kernels (products of up to 100³) would take it.
inline constexpr double kGemmPartMin = 1e6;
/// A float32 GEMM past kGemmPartMin is cut into this many blocks, by its shape alone (ops/linalg.cpp): at most this
/// many threads share one product.
inline constexpr std::size_t kGemmParts = 2;

extern std::atomic<int> g_num_threads;  ///< 0 before static initialisation: treated as 1

/// Runs fn(begin, end) over [0, n) split into contiguous ranges, one per thread, each a multiple of `align`
/// elements except the last; fn(0, n) on the calling thread with one thread, inside a worker, or while another
/// thread is using the pool. fn must not throw.
void parallel_run(std::size_t n, std::size_t align, void (*call)(void*, std::size_t, std::size_t), void* fn);

/// fn(begin, end) over [0, n), split over the threads (parallel_run) or not. Both ways call the same function, never
/// inlined, so fn's loop is compiled once, not once inlined for the serial case and again for the threads (that
/// doubled the elementwise ops' code).
template <class F> void run_ranges(std::size_t n, std::size_t align, bool split, F& fn) {
  const auto call = [](void* f, std::size_t b, std::size_t e) __attribute__((noinline)) {
    (*static_cast<F*>(f))(b, e);
  };
  void* const f = const_cast<void*>(static_cast<const void*>(&fn));
  if (split) {
    parallel_run(n, align, call, f);
  } else {
    call(f, 0, n);  // a direct call of the same, not inlined, function
  }
}

/// parallel_blocks(n, align, fn): fn(begin, end) over [0, n) split into one range per thread, each a multiple of
/// `align` indices except the last; for callers that have decided the work is worth splitting.
template <class F> void parallel_blocks(std::size_t n, std::size_t align, F&& fn) { run_ranges(n, align, true, fn); }

/// parallel_for(n, cost, fn): fn(begin, end) over [0, n), where each index costs about `cost` elements of work.
/// Ranges are whole cache lines (16 floats) when each index is an element, so threads never share a line.
template <class F> void parallel_for(std::size_t n, std::size_t cost, F&& fn) {
  const bool split = n * cost >= kParallelMin && n >= 2 && g_num_threads.load(std::memory_order_relaxed) > 1;
  run_ranges(n, cost < 16 ? 16 : 1, split, fn);
}

}  // namespace detail
}  // namespace chainrule
