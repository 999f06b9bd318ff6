// Custom ops (autograd/custom_function.hpp): the node that runs a user's backward.
#include "custom_function.hpp"

#include <utility>

#include "function.hpp"

namespace chainrule {
namespace autograd {

void AutogradContext::save_for_backward(std::vector<Tensor> tensors) {
  saved_ = std::move(tensors);
  versions_.clear();
  for (const Tensor& t : saved_) versions_.push_back(t.defined() ? t.version() : 0);
}

std::vector<Tensor> AutogradContext::get_saved_variables() const {
  for (std::size_t i = 0; i < saved_.size(); ++i)
    if (saved_[i].defined() && saved_[i].version() != versions_[i])
      throw std::runtime_error(
          std::string("backward: one of the variables needed for gradient computation has been modified by an "
                      "inplace operation: saved tensor #") + std::to_string(i) + " of '" + op_ + "' [" +
          dtype_name(saved_[i].dtype()) + " " + shape_str(saved_[i].shape()) + "] is at version " +
          std::to_string(saved_[i].version()) + "; expected version " + std::to_string(versions_[i]) + " instead");
  return saved_;
}

}  // namespace autograd

namespace detail {
namespace {
template <class T> struct CustomNode final : Value<T> {
  std::shared_ptr<autograd::AutogradContext> ctx;
  CustomBackward back;
  std::vector<std::size_t> positions;  // of inputs[i] among the forward arguments
  std::size_t arity;

  CustomNode(Array<T>&& v, std::shared_ptr<autograd::AutogradContext> c, CustomBackward b) : Value<T>(std::move(v)), ctx(std::move(c)), back(b) {}

  // The user's backward runs in the grad mode the engine sets: off for first order (its Tensor ops record
  // nothing), on with create_graph (they record themselves, so the gradients can be differentiated again).
  // Returns one gradient per input (undefined where none is needed), checked against the forward arguments.
  std::vector<Tensor> input_grads(const Tensor& g_out) {
    const std::vector<Tensor> grads = back(*ctx, g_out);
    if (grads.size() != arity)
      throw std::logic_error(std::string(this->op) + ": backward returned " + std::to_string(grads.size()) +
                             " gradients, expected " + std::to_string(arity) +
                             " (one per forward argument after ctx; an undefined Tensor for none)");
    std::vector<bool> is_input(arity, false);
    std::vector<Tensor> out(this->inputs.size());
    for (std::size_t i = 0; i < positions.size(); ++i) {
      is_input[positions[i]] = true;
      const Tensor& g = grads[positions[i]];
      if (!g.defined() || !this->inputs[i]->requires_grad) continue;
      if (g.dtype() != this->inputs[i]->dtype)
        throw std::logic_error(std::string(this->op) + ": backward returned a " + dtype_name(g.dtype()) +
                               " gradient for argument " + std::to_string(positions[i]) + ", which is " +
                               dtype_name(this->inputs[i]->dtype));
      out[i] = g;
    }
    for (std::size_t p = 0; p < arity; ++p)
      if (!is_input[p] && grads[p].defined())
        throw std::logic_error(std::string(this->op) + ": backward returned a gradient for argument " +
                               std::to_string(p) + ", which is not a tensor (return an undefined Tensor there)");
    return out;
  }
  void backward() override {
    std::vector<Tensor> gs = input_grads(Tensor(this->grad));
    for (std::size_t i = 0; i < gs.size(); ++i)
      if (gs[i].defined()) accumulate<T>(this->op, i, *this->inputs[i], Array<T>(std::as_const(gs[i]).data<T>()));
  }
  std::vector<Tensor> backward_tensors(const Tensor&, const Tensor& g) override { return input_grads(g); }
};
}  // namespace

namespace {
// Forward mode: y's tangent by the op's jvp from one tangent per forward argument (zeros for a tensor argument
// without one, undefined for the other arguments). Returns y, or a copy of it when forward returned an input
// unrecorded (the tangent must not land on the input).
Tensor custom_tangent(const char* name, autograd::AutogradContext& ctx, Tensor y,
                      const std::vector<std::pair<std::size_t, Tensor>>& inputs, std::size_t arity, CustomJvp jvp) {
  bool any = false;
  for (const auto& in : inputs) any |= bool(in.second.node().tangent);
  if (!any) return y;
  if (!jvp) throw_no_tangent(name);
  std::vector<Tensor> t(arity);
  for (const auto& [p, x] : inputs) t[p] = x.node().tangent ? Tensor(x.node().tangent) : zeros_like(x);
  Tensor ty;
  {
    DualPause pause;
    ty = jvp(ctx, t);
  }
  for (const auto& in : inputs)
    if (in.second.same(y)) y = y.detach();
  set_tangent(name, y, std::move(ty));
  return y;
}
}  // namespace

Tensor apply_custom(const char* name, const std::shared_ptr<autograd::AutogradContext>& ctx, Tensor out,
                    std::vector<std::pair<std::size_t, Tensor>> inputs, std::size_t arity, CustomBackward back,
                    CustomJvp jvp) {
  if (!out.defined()) throw std::logic_error(std::string(name) + ": forward returned an undefined tensor");
  bool needs = false;
  for (const auto& [p, t] : inputs) {
    if (!t.requires_grad()) continue;
    needs = true;
    if (t.dtype() != out.dtype())
      throw std::invalid_argument(std::string(name) + ": argument " + std::to_string(p) + " is " +
                                  dtype_name(t.dtype()) + " but forward returned " + dtype_name(out.dtype()) +
                                  " (a custom op keeps one dtype: convert with .to())");
  }
  Tensor y = out;
  if (grad_enabled() && needs) {
    y = dispatch(out.dtype(), [&](auto tag) {
      using T = decltype(tag);
      // The value moves into the node unless someone else holds it (forward returned an input, or saved its
      // output).
      out = Tensor();
      Array<T> v = y.node_ptr().use_count() == 1 ? std::move(as<T>(y.node()).value) : as<T>(y.node()).value;
      auto n = make_node<CustomNode<T>>(std::move(v), ctx, back);
      n->op = name;
      n->requires_grad = true;
      n->arity = arity;
      for (auto& [p, t] : inputs) {
        n->positions.push_back(p);
        n->inputs.push_back(t.node_ptr());
      }
      return Tensor(std::move(n));
    });
  }
  if (g_watch.dual) y = custom_tangent(name, *ctx, std::move(y), inputs, arity, jvp);
  return y;
}

}  // namespace detail
}  // namespace chainrule
