#pragma once
// Forward-mode automatic differentiation (dual numbers), as torch.autograd.forward_ad:
//
//   forward_ad::DualLevel level;                        // tangents live while it does
//   Tensor x = forward_ad::make_dual(p, v);              // x = p + v·ε
//   Tensor y = f(x);                                     // every op carries its tangent along
//   Tensor jv = forward_ad::unpack_dual(y).tangent;      // J_f(p)·v, in one forward pass
//
// Each op's tangent comes from the derivative table of the reverse mode (autograd/function.hpp): an elementwise
// op's tangent is Σᵢ ∂y/∂xᵢ ⊙ ẋᵢ, computed by the very derivative lambdas backward uses (their Jacobian is
// diagonal, so g·∂y/∂x with g = ẋ is the tangent); a linear op applies itself to the tangents (sum, reshape,
// narrow, ...); matmul's is ȧ·b + a·ḃ. An op without a tangent rule throws, naming it, when a tangent reaches it.
// Tangents are computed with Tensor ops, so they are recorded like any value when they require a gradient
// (reverse-over-forward), and a backward with create_graph under a level carries tangents too
// (forward-over-reverse: the tangent of ∇f along v is H·v).
// Outside a level forward mode costs one predictable branch per op.
#include <memory>
#include <stdexcept>

#include "tensor.hpp"

namespace chainrule {
namespace forward_ad {
/// What a tangent reaching an op without a tangent rule throws (a std::logic_error naming the op).
class NoTangentRuleError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
}  // namespace forward_ad

namespace detail {
struct DualState;
/// While it lives, ops propagate no tangent (tangent rules run on primal values; a custom op's forward is one op).
class DualPause {
 public:
  DualPause();
  ~DualPause();
  DualPause(const DualPause&) = delete;
  DualPause& operator=(const DualPause&) = delete;
 private:
  DualState* prev_;
};
/// Gives y the tangent t computed by op's tangent rule (undefined t: a zero tangent, none stored); t is broadcast
/// to y's shape if it is smaller; a wrong dtype or shape throws naming the op.
void set_tangent(const char* op, const Tensor& y, Tensor t);
/// "<op>: no tangent rule (forward-mode AD) ...": a tangent reached an op that has none.
[[noreturn]] void throw_no_tangent(const char* op);
}  // namespace detail

namespace forward_ad {

/// RAII (torch's forward_ad.dual_level): while it lives, make_dual attaches tangents and every op propagates
/// them. When it ends, every tangent made under it is dropped. One level per thread; a second while one lives
/// throws std::logic_error (nested forward mode is not supported, as in torch).
class DualLevel {
 public:
  DualLevel();
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
 private:
  std::unique_ptr<detail::DualState> state_;
};

/// True while a DualLevel lives on this thread.
bool dual_level_active();

/// A tensor with primal's values and the tangent `tangent` (same dtype and shape) at the active level. In reverse
/// mode it is a copy of primal (the gradient flows back to primal). Throws without an active level.
Tensor make_dual(const Tensor& primal, const Tensor& tangent);

/// A tensor's primal and tangent (torch's UnpackedDualTensor).
struct UnpackedDual {
  Tensor primal;   ///< the same values without the tangent (a copy; in reverse mode, differentiable like t)
  Tensor tangent;  ///< undefined when t has none (zero), or no level is active
};
UnpackedDual unpack_dual(const Tensor& t);

}  // namespace forward_ad
}  // namespace chainrule
