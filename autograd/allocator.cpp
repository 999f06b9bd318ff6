#include "allocator.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <utility>
#include <vector>

namespace chainrule {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;  // let ASan see every free
#else
constexpr bool kCaching = true;
#endif

constexpr std::size_t kHugePage = 2u << 20;
// Tiny arrays (scalars, biases) come from the small-block free lists, with malloc's 16-byte alignment:
// aligned_alloc would bypass every cache; a vector loop over them is a few iterations anyway.
constexpr std::size_t kTiny = 256;

std::size_t rounded(std::size_t bytes) {
  return (bytes + detail::kBufferAlign - 1) / detail::kBufferAlign * detail::kBufferAlign;
}

void* system_allocate(std::size_t bytes) {
#if defined(MADV_HUGEPAGE)
  // Blocks of 2 MiB and more start on a 2 MiB boundary and ask for transparent huge pages (where the kernel's
  // setting is "madvise", as on Debian): one TLB entry per 2 MiB instead of per 4 KiB. Gathering a batch's rows
  // from a large training set, a TLB miss per row otherwise, gets ~20% faster.
  if (bytes >= kHugePage) {
    const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, size);
    if (!p) throw std::bad_alloc();
    ::madvise(p, size, MADV_HUGEPAGE);  // only a hint: without huge pages nothing changes
    return p;
  }
#endif
  void* p = std::aligned_alloc(detail::kBufferAlign, rounded(bytes == 0 ? 1 : bytes));
  if (!p) throw std::bad_alloc();
  return p;
}

/// One thread's free blocks, (rounded size, pointer). A training step reuses a few dozen sizes, so a linear search
/// from the most recently freed block finds them at once.
struct Cache {
  std::vector<std::pair<std::size_t, void*>> blocks;
  std::size_t bytes = 0;

  void* take(std::size_t size) {
    for (std::size_t i = blocks.size(); i-- > 0;)
      if (blocks[i].first == size) {
        void* p = blocks[i].second;
        blocks[i] = blocks.back();
        blocks.pop_back();
        bytes -= size;
        return p;
      }
    return nullptr;
  }
  bool keep(void* p, std::size_t size) {
    if (bytes + size > detail::kCacheLimit) return false;
    blocks.emplace_back(size, p);
    bytes += size;
    return true;
  }
  void clear() {
    for (auto& b : blocks) std::free(b.second);
    blocks.clear();
    bytes = 0;
  }
  ~Cache();
};

/// One thread's small free blocks: a singly linked list per 64-byte class (the link is stored in the block). Every
/// block up to kSmallMax bytes is allocated with its whole class size, so any block of a class can serve any request
/// of that class, whichever thread allocated it.
struct SmallPool {
  static constexpr std::size_t kClass = 64, kLimit = 8u << 20;  // per thread: beyond this, frees go to the system
  static std::size_t class_of(std::size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kClass; }
  static std::size_t class_size(std::size_t c) { return (c + 1) * kClass; }

  void* heads[detail::kSmallMax / kClass] = {};
  std::size_t bytes = 0;

  void* take(std::size_t c) {
    void* p = heads[c];
    if (p) heads[c] = *static_cast<void**>(p), bytes -= class_size(c);
    return p;
  }
  bool keep(void* p, std::size_t c) {
    if (bytes + class_size(c) > kLimit) return false;
    *static_cast<void**>(p) = heads[c];
    heads[c] = p, bytes += class_size(c);
    return true;
  }
  void clear() {
    for (void*& head : heads)
      while (head) {
        void* next = *static_cast<void**>(head);
        std::free(head);
        head = next;
      }
    bytes = 0;
  }
  ~SmallPool();
};

// Arrays and nodes can outlive the caches (thread_local and static objects destroyed after them): after their
// destruction frees go to the system. Trivially destructible flags stay readable then.
thread_local bool t_cache_gone = false, t_small_gone = false;
thread_local Cache t_cache;
thread_local SmallPool t_small;
thread_local std::size_t t_misses = 0;
Cache::~Cache() {
  clear();
  t_cache_gone = true;
}
SmallPool::~SmallPool() {
  clear();
  t_small_gone = true;
}

}  // namespace

std::size_t cached_bytes() { return t_cache_gone ? 0 : t_cache.bytes; }
std::size_t cache_misses() { return t_misses; }
void empty_cache() {
  if (!t_cache_gone) t_cache.clear();
  if (!t_small_gone) t_small.clear();
}

namespace detail {

void* small_allocate(std::size_t bytes) {
  if (bytes > kSmallMax) return ::operator new(bytes);
  const std::size_t c = SmallPool::class_of(bytes);
  if (kCaching && !t_small_gone)
    if (void* p = t_small.take(c)) return p;
  void* p = std::malloc(SmallPool::class_size(c));
  if (!p) throw std::bad_alloc();
  return p;
}

void small_free(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (bytes > kSmallMax) return ::operator delete(p);
  if (kCaching && !t_small_gone && t_small.keep(p, SmallPool::class_of(bytes))) return;
  std::free(p);
}

void* buffer_allocate(std::size_t bytes) {
  if (bytes <= kTiny) return small_allocate(bytes);
  if (bytes >= kCachedMin) {
    if (kCaching && !t_cache_gone)
      if (void* p = t_cache.take(rounded(bytes))) return p;
    ++t_misses;
  }
  return system_allocate(bytes);
}

void buffer_free(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (bytes <= kTiny) return small_free(p, bytes);
  if (kCaching && bytes >= kCachedMin && !t_cache_gone) try {
      if (t_cache.keep(p, rounded(bytes))) return;
    } catch (const std::bad_alloc&) {  // no room to remember the block: give it back
    }
  std::free(p);
}

}  // namespace detail
}  // namespace chainrule
