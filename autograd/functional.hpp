#pragma once
// Derivatives of whole functions, as torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp, for
// f(x) of one tensor or f(x₀, x₁, …) of several, returning one tensor. The reverse-mode ones are built on
// chainrule::grad; jvp runs forward mode (autograd/forward_ad.hpp): one pass of f carrying the tangents v, no tape
// (so it cannot run inside a forward_ad::DualLevel of the caller's: nested levels are not supported). The inputs
// are taken as fresh leaves (torch's semantics), so nothing touches the callers' tensors or their .grad. With
// create_graph the results keep a graph back to the inputs (to differentiate again); without, they have none.
#include <functional>
#include <utility>
#include <vector>

#include "gradcheck.hpp"
#include "tensor.hpp"

namespace chainrule {

/// A function of one tensor (the one-input forms below).
using UnaryFunction = std::function<Tensor(const Tensor&)>;

/// (f(x), vᵀJ): v has f(x)'s shape; one vjp per input, of its shape.
///@{
std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& inputs, const Tensor& v,
                                           bool create_graph = false);
std::pair<Tensor, Tensor> vjp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
///@}

/// (f(x), J·v) = (f(x), Σᵢ Jᵢ·vᵢ): one v per input, of its shape; the result has f(x)'s shape. One forward pass
/// with tangents (forward mode); with create_graph, J·v is differentiable with respect to x and v.
///@{
std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                              bool create_graph = false);
std::pair<Tensor, Tensor> jvp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
///@}

/// ∂f/∂xᵢ for each input, of shape f(x).shape + xᵢ.shape (one reverse pass per output element).
///@{
std::vector<Tensor> jacobian(const Function& f, const std::vector<Tensor>& inputs, bool create_graph = false);
Tensor jacobian(const UnaryFunction& f, const Tensor& x, bool create_graph = false);
///@}

/// ∂²f/∂xᵢ∂xⱼ of a scalar f: [i][j] of shape xᵢ.shape + xⱼ.shape (one reverse pass per input element).
///@{
std::vector<std::vector<Tensor>> hessian(const Function& f, const std::vector<Tensor>& inputs,
                                         bool create_graph = false);
Tensor hessian(const UnaryFunction& f, const Tensor& x, bool create_graph = false);
///@}

/// (f(x), H·v) of a scalar f, one H·v per input, never the full Hessian. Forward over reverse: one pass of f
/// carrying the tangents v and one reverse pass carrying theirs (the tangent of ∇f along v is H·v, as
/// jax.jvp(jax.grad(f))); with create_graph, inside a caller's forward_ad::DualLevel, or when f uses an op without
/// a tangent rule: double backward, ∂⟨∇f, v⟩/∂x (as torch.autograd.functional.hvp).
///@{
std::pair<Tensor, std::vector<Tensor>> hvp(const Function& f, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, bool create_graph = false);
std::pair<Tensor, Tensor> hvp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
///@}

}  // namespace chainrule
