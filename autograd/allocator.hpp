#pragma once
// Where tensor buffers come from. A training step allocates the same arrays every step (activations, their
// gradients, the batch); glibc returns large freed blocks to the kernel (mmap/munmap, heap trimming), so each step
// paid again for page faults and page clearing: a third of a Fashion-MNIST epoch (perf, 1 thread). Blocks of
// kCachedMin bytes and more are therefore kept, per thread, in a cache keyed by exact size, as libtorch's caching
// allocator does. A page is the bound: blocks of 4 to 64 KiB, left to malloc, still faulted when glibc trimmed the
// top of its heap on free (a Hessian-vector product of a 784-128-64-10 MLP, batch 64: 35 page faults per call and
// half its time); smaller blocks go to malloc, whose bins recycle them.
//
// Small blocks, graph nodes and tiny arrays (up to kSmallMax bytes), are recycled per thread as well, in free lists
// of 64-byte classes: a chain of ops allocates thousands of them and frees them all at once in backward, a pattern
// that glibc's per-thread cache (7 blocks per size) cannot absorb.
//
// Under AddressSanitizer nothing is cached, so that a use after free is still caught.
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace chainrule {

/// Bytes held in the calling thread's buffer cache (freed blocks kept for reuse).
std::size_t cached_bytes();
/// Returns the calling thread's cached blocks, large and small, to the system (as torch.cuda.empty_cache).
void empty_cache();
/// How many blocks of kCachedMin bytes or more the calling thread got from the system because its cache had none
/// of that size. In steady-state training this stops growing after the first steps.
std::size_t cache_misses();

namespace detail {

inline constexpr std::size_t kBufferAlign = 64;           ///< a cache line: every SIMD width (blocks over 256 bytes)
inline constexpr std::size_t kCachedMin = 4 * 1024;       ///< a page; smaller blocks: plain aligned malloc
inline constexpr std::size_t kCacheLimit = 512ull << 20;  ///< per thread: beyond this, frees go to the system
inline constexpr std::size_t kSmallMax = 1024;            ///< blocks up to this size: the small-block free lists

void* buffer_allocate(std::size_t bytes);
void buffer_free(void* p, std::size_t bytes) noexcept;
void* small_allocate(std::size_t bytes);
void small_free(void* p, std::size_t bytes) noexcept;

/// The allocator of graph nodes (std::allocate_shared): small blocks recycled per thread.
template <class T> struct NodeAllocator {
  using value_type = T;
  NodeAllocator() noexcept = default;
  template <class U> NodeAllocator(const NodeAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "the free lists hand out malloc-aligned blocks");
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(small_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { small_free(p, n * sizeof(T)); }
  friend bool operator==(const NodeAllocator&, const NodeAllocator&) noexcept { return true; }
  friend bool operator!=(const NodeAllocator&, const NodeAllocator&) noexcept { return false; }
};

/// std::make_shared for graph nodes, from the small-block free lists.
template <class N, class... A> std::shared_ptr<N> make_node(A&&... args) {
  return std::allocate_shared<N>(NodeAllocator<N>(), std::forward<A>(args)...);
}

/// The allocator of tensor arrays (Array<T>): 64-byte aligned, large blocks recycled.
template <class T> struct BufferAllocator {
  using value_type = T;
  BufferAllocator() noexcept = default;
  template <class U> BufferAllocator(const BufferAllocator<U>&) noexcept {}
  template <class U> struct rebind { using other = BufferAllocator<U>; };

  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(buffer_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { buffer_free(p, n * sizeof(T)); }

  friend bool operator==(const BufferAllocator&, const BufferAllocator&) noexcept { return true; }
  friend bool operator!=(const BufferAllocator&, const BufferAllocator&) noexcept { return false; }
};

}  // namespace detail
}  // namespace chainrule
