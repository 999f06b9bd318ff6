#include "functional.hpp"

#include <stdexcept>
#include <string>

#include "forward_ad.hpp"
#include "ops.hpp"

namespace chainrule {
namespace {

// The inputs as the leaves f is differentiated at: fresh leaves, or with create_graph a recorded copy of an
// input that has a graph, so that the results reach back to it.
std::vector<Tensor> functional_inputs(const std::vector<Tensor>& inputs, bool create_graph) {
  std::vector<Tensor> xs;
  for (const auto& t : inputs) xs.push_back(create_graph && t.requires_grad() ? clone(t) : t.detach().requires_grad_());
  return xs;
}

Tensor functional_output(const char* fn, const Function& f, const std::vector<Tensor>& xs) {
  AutoGradMode on(true);  // f is recorded even under a NoGradGuard: its derivatives are asked for
  Tensor y = f(xs);
  if (!y.defined()) throw std::invalid_argument(std::string(fn) + ": f returned an undefined tensor");
  return y;
}

void functional_check(const char* fn, const char* what, const Tensor& v, const Tensor& like, std::size_t i) {
  if (v.dtype() != like.dtype() || v.shape() != like.shape())
    throw std::invalid_argument(std::string(fn) + ": " + what + " #" + std::to_string(i) + " is " +
                                dtype_name(v.dtype()) + " " + shape_str(v.shape()) + ", expected " +
                                dtype_name(like.dtype()) + " " + shape_str(like.shape()));
}

// ∂⟨ys, vs⟩/∂xs, with zeros for inputs the outputs do not depend on; outputs without a graph count as constants.
std::vector<Tensor> functional_grad(const std::vector<Tensor>& ys, const std::vector<Tensor>& vs,
                                    const std::vector<Tensor>& xs, bool create_graph) {
  std::vector<Tensor> live, seeds;
  for (std::size_t i = 0; i < ys.size(); ++i)
    if (ys[i].defined() && ys[i].requires_grad()) live.push_back(ys[i]), seeds.push_back(vs[i]);
  std::vector<Tensor> out(xs.size());
  if (!live.empty()) {
    GradOptions o;
    o.grad_outputs = seeds;
    o.retain_graph = true;
    o.create_graph = create_graph;
    o.allow_unused = true;
    out = grad(live, xs, o);
  }
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!out[i].defined()) out[i] = zeros_like(xs[i]);
  return out;
}

Tensor functional_result(const Tensor& t, bool create_graph) { return create_graph ? t : t.detach(); }

// The Jacobian of y with respect to xs, one tensor per input of shape y.shape + x.shape: one vjp per element of y.
std::vector<Tensor> jacobian_of(const Tensor& y, const std::vector<Tensor>& xs, bool create_graph) {
  const std::size_t m = y.numel();
  std::vector<std::vector<Tensor>> rows(xs.size());
  for (std::size_t k = 0; k < m; ++k) {
    Tensor e = zeros(y.shape(), y.dtype());
    detail::dispatch(y.dtype(), [&](auto tag) { e.data<decltype(tag)>().data()[k] = 1; });
    std::vector<Tensor> g = functional_grad({y}, {e}, xs, create_graph);
    for (std::size_t i = 0; i < xs.size(); ++i) rows[i].push_back(reshape(g[i], {1, -1}));
  }
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    std::vector<long> shape(y.shape().begin(), y.shape().end());
    shape.insert(shape.end(), xs[i].shape().begin(), xs[i].shape().end());
    Tensor j = m ? concat(rows[i], 0) : zeros({0, xs[i].numel()}, y.dtype());
    out.push_back(functional_result(reshape(j, shape), create_graph));
  }
  return out;
}

void functional_check_scalar(const char* fn, const Tensor& y) {
  if (y.numel() != 1)
    throw std::invalid_argument(std::string(fn) + ": f must return a single value, got shape " + shape_str(y.shape()));
}

Function functional_lift(const UnaryFunction& f) {
  return [f](const std::vector<Tensor>& x) { return f(x[0]); };
}

}  // namespace

std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& inputs, const Tensor& v,
                                           bool create_graph) {
  std::vector<Tensor> xs = functional_inputs(inputs, create_graph);
  Tensor y = functional_output("vjp", f, xs);
  functional_check("vjp", "v", v, y, 0);
  std::vector<Tensor> g = functional_grad({y}, {v}, xs, create_graph);
  for (auto& t : g) t = functional_result(t, create_graph);
  return {functional_result(y, create_graph), g};
}
std::pair<Tensor, Tensor> vjp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  auto [y, g] = vjp(functional_lift(f), {x}, v, create_graph);
  return {y, g[0]};
}

std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                              bool create_graph) {
  if (v.size() != inputs.size())
    throw std::invalid_argument("jvp: " + std::to_string(v.size()) + " tangents for " +
                                std::to_string(inputs.size()) + " inputs");
  // Without create_graph nothing is recorded: f runs once, carrying x + v·ε.
  std::vector<Tensor> xs;
  for (const auto& t : inputs) xs.push_back(create_graph ? functional_inputs({t}, true)[0] : t.detach());
  for (std::size_t i = 0; i < xs.size(); ++i) functional_check("jvp", "v", v[i], xs[i], i);
  forward_ad::DualLevel level;
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = forward_ad::make_dual(xs[i], v[i]);
  Tensor y;
  {
    AutoGradMode mode(create_graph);
    y = f(xs);
  }
  if (!y.defined()) throw std::invalid_argument("jvp: f returned an undefined tensor");
  Tensor jv = forward_ad::unpack_dual(y).tangent;
  if (!jv.defined()) jv = zeros_like(y);  // y does not depend on the inputs
  return {functional_result(y, create_graph), functional_result(jv, create_graph)};
}
std::pair<Tensor, Tensor> jvp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  return jvp(functional_lift(f), {x}, {v}, create_graph);
}

std::vector<Tensor> jacobian(const Function& f, const std::vector<Tensor>& inputs, bool create_graph) {
  std::vector<Tensor> xs = functional_inputs(inputs, create_graph);
  return jacobian_of(functional_output("jacobian", f, xs), xs, create_graph);
}
Tensor jacobian(const UnaryFunction& f, const Tensor& x, bool create_graph) {
  return jacobian(functional_lift(f), {x}, create_graph)[0];
}

std::vector<std::vector<Tensor>> hessian(const Function& f, const std::vector<Tensor>& inputs, bool create_graph) {
  std::vector<Tensor> xs = functional_inputs(inputs, create_graph);
  Tensor y = functional_output("hessian", f, xs);
  functional_check_scalar("hessian", y);
  std::vector<Tensor> g = functional_grad({y}, {ones_like(y)}, xs, true);
  std::vector<std::vector<Tensor>> h;
  for (const auto& gi : g) h.push_back(jacobian_of(gi, xs, create_graph));
  return h;
}
Tensor hessian(const UnaryFunction& f, const Tensor& x, bool create_graph) {
  return hessian(functional_lift(f), {x}, create_graph)[0][0];
}

namespace {
// H·v by forward over reverse (jax.jvp(jax.grad(f))): xs + v·ε through f and through its backward, whose Tensor
// ops carry the tangents without being recorded; the tangent of ∇f is H·v. One forward and one backward pass,
// each with its tangents, where double backward walks a graph of the backward as large again.
std::pair<Tensor, std::vector<Tensor>> hvp_forward_over_reverse(const Function& f, const std::vector<Tensor>& xs,
                                                                const std::vector<Tensor>& v) {
  forward_ad::DualLevel level;
  std::vector<Tensor> duals;
  {
    AutoGradMode on(true);  // the duals are recorded copies of xs, even under a NoGradGuard
    for (std::size_t i = 0; i < xs.size(); ++i) duals.push_back(forward_ad::make_dual(xs[i], v[i]));
  }
  Tensor y = functional_output("hvp", f, duals);
  functional_check_scalar("hvp", y);
  std::vector<Tensor> hv(xs.size());
  if (y.requires_grad()) {
    const std::vector<Tensor> g = detail::run_grad(y, ones_like(y), duals, {false, true}, true, /*record=*/false);
    for (std::size_t i = 0; i < g.size(); ++i)
      if (g[i].defined()) hv[i] = forward_ad::unpack_dual(g[i]).tangent;
  }
  for (std::size_t i = 0; i < hv.size(); ++i) hv[i] = hv[i].defined() ? hv[i].detach() : zeros_like(xs[i]);
  return {y.detach(), hv};
}
}  // namespace

std::pair<Tensor, std::vector<Tensor>> hvp(const Function& f, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, bool create_graph) {
  if (v.size() != inputs.size())
    throw std::invalid_argument("hvp: " + std::to_string(v.size()) + " vectors for " +
                                std::to_string(inputs.size()) + " inputs");
  std::vector<Tensor> xs = functional_inputs(inputs, create_graph);
  for (std::size_t i = 0; i < xs.size(); ++i) functional_check("hvp", "v", v[i], xs[i], i);
  if (!create_graph && !forward_ad::dual_level_active()) try {
      return hvp_forward_over_reverse(f, xs, v);
    } catch (const forward_ad::NoTangentRuleError&) {  // f has an op without a tangent rule: double backward
    }
  Tensor y = functional_output("hvp", f, xs);
  functional_check_scalar("hvp", y);
  std::vector<Tensor> g = functional_grad({y}, {ones_like(y)}, xs, true);  // ∇f, with its graph
  std::vector<Tensor> hv = functional_grad(g, v, xs, create_graph);         // ∂⟨∇f, v⟩/∂x = H·v
  for (auto& t : hv) t = functional_result(t, create_graph);
  return {functional_result(y, create_graph), hv};
}
std::pair<Tensor, Tensor> hvp(const UnaryFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  auto [y, hv] = hvp(functional_lift(f), {x}, {v}, create_graph);
  return {y, hv[0]};
}

}  // namespace chainrule
