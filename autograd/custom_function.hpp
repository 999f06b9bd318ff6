#pragma once
// Custom ops with their own forward and backward, as libtorch's torch::autograd::Function<T>:
//
//   // y = log(1 + e^(βx)) / β        ∂x = g ⊙ σ(βx)
//   struct Softplus : autograd::Function<Softplus> {
//     static constexpr const char* name = "softplus";
//     static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x, double beta) {
//       ctx.save_for_backward({x});
//       ctx.saved_data["beta"] = beta;
//       return log(1.0 + exp(beta * x)) / beta;
//     }
//     static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
//       const Tensor x = ctx.get_saved_variables()[0];
//       const double beta = std::any_cast<double>(ctx.saved_data["beta"]);
//       return {g * sigmoid(beta * x), Tensor()};  // one gradient per forward argument; none for beta
//     }
//   };
//   Tensor y = Softplus::apply(x, 2.0);
//
// Optionally, a tangent rule for forward mode (autograd/forward_ad.hpp), as torch's Function.jvp: the output's
// tangent from one tangent per forward argument (zeros for a tensor argument without one, undefined for the
// others), with ctx as forward left it:
//
//     static Tensor jvp(autograd::AutogradContext& ctx, const std::vector<Tensor>& t) {   // ẏ = σ(βx) ⊙ ẋ
//       return sigmoid(std::any_cast<double>(ctx.saved_data["beta"]) * ctx.get_saved_variables()[0]) * t[0];
//     }
//
// A custom op without jvp throws, naming itself, when a tangent reaches it.
//
// forward runs with recording off (its ops are not on the tape: the op is one node); backward is written with
// Tensor ops and returns one tensor per forward argument after ctx (undefined: no gradient, always so for
// non-tensor arguments); each is summed back to its input's shape like any op's. backward runs as every backward
// function does, with recording off for a first derivative.
#include <any>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "forward_ad.hpp"
#include "tensor.hpp"

namespace chainrule {
namespace autograd {
class AutogradContext;
}
namespace detail {
using CustomBackward = std::vector<Tensor> (*)(autograd::AutogradContext&, const Tensor&);
using CustomJvp = Tensor (*)(autograd::AutogradContext&, const std::vector<Tensor>&);
/// Records out as the result of op `name`, whose backward is back(ctx, g) and tangent rule jvp(ctx, tangents)
/// (null: none); `inputs` are the tensor arguments with their positions among `arity` arguments.
/// autograd::Function::apply calls it.
Tensor apply_custom(const char* name, const std::shared_ptr<autograd::AutogradContext>& ctx, Tensor out,
                    std::vector<std::pair<std::size_t, Tensor>> inputs, std::size_t arity, CustomBackward back,
                    CustomJvp jvp = nullptr);
}  // namespace detail

namespace autograd {

/// What forward leaves for backward (torch's AutogradContext).
class AutogradContext {
 public:
  /// Tensors backward needs (inputs, or the output); modifying one in place before backward makes backward throw.
  void save_for_backward(std::vector<Tensor> tensors);
  /// The saved tensors; throws, naming the op and the tensor, if one was modified in place since it was saved.
  std::vector<Tensor> get_saved_variables() const;
  /// Whether the forward argument at position i (counting every argument after ctx) needs a gradient.
  bool needs_input_grad(std::size_t i) const { return i < needs_.size() && needs_[i]; }
  /// Other values for backward: ctx.saved_data["beta"] = 2.0; std::any_cast<double>(ctx.saved_data["beta"]).
  std::map<std::string, std::any> saved_data;

 private:
  template <class D> friend struct Function;
  friend Tensor detail::apply_custom(const char*, const std::shared_ptr<AutogradContext>&, Tensor,
                                     std::vector<std::pair<std::size_t, Tensor>>, std::size_t, detail::CustomBackward,
                                     detail::CustomJvp);
  const char* op_ = "custom";
  std::vector<Tensor> saved_;
  std::vector<std::uint32_t> versions_;
  std::vector<bool> needs_;
};

/// Base of a custom op D with static Tensor forward(AutogradContext&, args...) and static std::vector<Tensor>
/// backward(AutogradContext&, const Tensor& grad_output); optional static constexpr const char* name and static
/// Tensor jvp(AutogradContext&, const std::vector<Tensor>& tangents). D::apply(args...) runs it and records it as
/// one node.
template <class D> struct Function {
  /// Runs D::forward on args and records it on the tape as one node whose backward is D::backward.
  template <class... Args> static Tensor apply(Args&&... args) {
    auto ctx = std::make_shared<AutogradContext>();
    ctx->op_ = op_name();
    std::vector<std::pair<std::size_t, Tensor>> inputs;
    std::size_t position = 0;
    (
        [&](const auto& a) {
          if constexpr (std::is_same_v<std::decay_t<decltype(a)>, Tensor>) inputs.emplace_back(position, a);
          ++position;
        }(args),
        ...);
    ctx->needs_.assign(sizeof...(Args), false);
    for (const auto& [i, t] : inputs) ctx->needs_[i] = grad_enabled() && t.requires_grad();
    Tensor out;
    {
      NoGradGuard no_grad;          // the op is one node: what forward computes is not recorded,
      detail::DualPause no_tangent;  // nor given tangents (jvp gives the output's)
      out = D::forward(*ctx, std::forward<Args>(args)...);
    }
    return detail::apply_custom(ctx->op_, ctx, std::move(out), std::move(inputs), sizeof...(Args), &call_backward,
                                jvp_of<D>());
  }

 private:
  static std::vector<Tensor> call_backward(AutogradContext& ctx, const Tensor& g) { return D::backward(ctx, g); }
  template <class E, class = void> struct HasJvp : std::false_type {};
  template <class E> struct HasJvp<E, std::void_t<decltype(&E::jvp)>> : std::true_type {};
  template <class E> static detail::CustomJvp jvp_of() {
    if constexpr (HasJvp<E>::value) {
      return [](AutogradContext& ctx, const std::vector<Tensor>& t) -> Tensor { return E::jvp(ctx, t); };
    } else {
      return nullptr;
    }
  }
  template <class E, class = void> struct Name { static constexpr const char* value = "custom"; };
  template <class E> struct Name<E, std::void_t<decltype(E::name)>> { static constexpr const char* value = E::name; };
  static constexpr const char* op_name() { return Name<D>::value; }
};

}  // namespace autograd
}  // namespace chainrule
