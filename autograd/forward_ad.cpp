// Forward mode (autograd/forward_ad.hpp): the dual level, make_dual, unpack_dual, and storing an op's tangent.
#include "forward_ad.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "function.hpp"

namespace chainrule {
namespace detail {

/// The active level: the nodes it gave a tangent, dropped when it ends (which also breaks the cycle a recorded
/// tangent makes when its rule reads the output: y → tangent → its graph → y).
struct DualState {
  std::vector<std::weak_ptr<Node>> nodes;
};

namespace {
thread_local DualState* g_level = nullptr;  // the thread's level, even while a DualPause hides it from the ops
}  // namespace

DualPause::DualPause() : prev_(g_watch.dual) { g_watch.dual = nullptr; }
DualPause::~DualPause() { g_watch.dual = prev_; }

void set_tangent(const char* op, const Tensor& y, Tensor t) {
  if (!t.defined()) return;
  if (t.dtype() != y.dtype())
    throw std::logic_error(std::string(op) + ": tangent rule returned a " + dtype_name(t.dtype()) +
                           " tangent for a " + dtype_name(y.dtype()) + " output");
  if (t.shape() != y.shape()) {
    if (broadcast_shapes(op, t.shape(), y.shape()) != y.shape())
      throw std::logic_error(std::string(op) + ": tangent rule returned shape " + shape_str(t.shape()) +
                             " for an output of shape " + shape_str(y.shape()));
    DualPause pause;
    t = broadcast_to(t, y.shape());
  }
  y.node().tangent = t.node_ptr();
  if (g_level) g_level->nodes.push_back(y.node_ptr());
}

void throw_no_tangent(const char* op) {
  throw forward_ad::NoTangentRuleError(std::string(op) +
                                       ": no tangent rule (forward-mode AD): a tangent reached this op; give it one "
                                       "(record()'s fwd argument, or a static jvp in a custom op) or compute it "
                                       "outside the dual level");
}

}  // namespace detail

namespace forward_ad {

DualLevel::DualLevel() {
  if (detail::g_level)
    throw std::logic_error("forward_ad::DualLevel: a dual level is already active on this thread (nested forward "
                           "mode is not supported)");
  state_ = std::make_unique<detail::DualState>();
  detail::g_level = state_.get();
  detail::g_watch.dual = state_.get();
}

DualLevel::~DualLevel() {
  for (const auto& w : state_->nodes)
    if (auto n = w.lock()) n->tangent.reset();
  detail::g_level = nullptr;
  detail::g_watch.dual = nullptr;
}

bool dual_level_active() { return detail::g_level != nullptr; }

// y = p (a copy)     ∂p = g      ẏ = tangent
Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  if (!detail::g_level)
    throw std::logic_error("make_dual: no dual level is active (create a forward_ad::DualLevel first)");
  if (tangent.dtype() != primal.dtype() || tangent.shape() != primal.shape())
    throw std::invalid_argument("make_dual: tangent is " + std::string(dtype_name(tangent.dtype())) + " " +
                                shape_str(tangent.shape()) + " but primal is " + dtype_name(primal.dtype()) + " " +
                                shape_str(primal.shape()) + " (they must match)");
  Tensor y;
  {
    detail::DualPause pause;
    y = clone(primal);
  }
  detail::set_tangent("make_dual", y, tangent);
  return y;
}

UnpackedDual unpack_dual(const Tensor& t) {
  if (!t.node().tangent) return {t, Tensor()};
  detail::DualPause pause;
  return {clone(t), Tensor(t.node().tangent)};
}

}  // namespace forward_ad
}  // namespace chainrule
