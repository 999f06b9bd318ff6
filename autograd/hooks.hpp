#pragma once
// Hooks: functions called while backward runs (Tensor::register_hook) or around a module's forward
// (nn::Module::register_forward_hook, register_full_backward_hook). Each registration returns a RemovableHandle,
// as in torch; remove() unregisters the hook, and is harmless after the tensor or module is gone.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace chainrule {

namespace detail {
/// Something hooks are registered on; handles reach it through a weak pointer.
struct HookOwner {
  virtual ~HookOwner() = default;
  virtual void remove_hook(std::uint64_t id) = 0;
};
}  // namespace detail

/// Returned by every register_*hook: remove() unregisters that hook (once; later calls do nothing).
class RemovableHandle {
 public:
  RemovableHandle() = default;
  /// A handle to hook id of owner (register_*hook makes it).
  RemovableHandle(std::weak_ptr<detail::HookOwner> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}
  /// Unregisters the hook; later calls do nothing.
  void remove() {
    if (auto o = owner_.lock()) o->remove_hook(id_);
    owner_.reset();
  }

 private:
  std::weak_ptr<detail::HookOwner> owner_;
  std::uint64_t id_ = 0;
};

namespace detail {
/// Hooks of one kind, called in registration order.
template <class F> struct HookList final : HookOwner {
  std::vector<std::pair<std::uint64_t, F>> hooks;
  std::uint64_t next_id = 0;
  std::uint64_t add(F f) {
    hooks.emplace_back(++next_id, std::move(f));
    return next_id;
  }
  void remove_hook(std::uint64_t id) override {
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(), [id](const auto& h) { return h.first == id; }),
                hooks.end());
  }
};
}  // namespace detail

}  // namespace chainrule
