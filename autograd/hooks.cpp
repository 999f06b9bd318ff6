// Tensor hooks and the saved-tensor version check: what the engine calls when a node has hooks or a saved value
// was modified in place.
#include <utility>

#include <xtensor/xnoalias.hpp>

#include "function.hpp"
#include "ops.hpp"

namespace chainrule {

RemovableHandle Tensor::add_hook(std::function<Tensor(const Tensor&)> fn) const {
  detail::Node& n = node();
  if (!n.requires_grad)
    throw std::logic_error("register_hook: the tensor does not require grad, so backward never computes its "
                           "gradient (set requires_grad on it or on an input it comes from)");
  if (!n.hooks) n.hooks = std::make_unique<detail::TensorHooks>();
  const std::uint64_t id = n.hooks->list->add(std::move(fn));
  return RemovableHandle(n.hooks->list, id);
}

RemovableHandle Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> fn) const {
  detail::Node& n = node();
  if (!n.requires_grad || !n.inputs.empty())
    throw std::logic_error(std::string("register_post_accumulate_grad_hook: only a leaf that requires grad "
                                       "accumulates a gradient; this tensor is ") +
                           (n.requires_grad ? std::string("the output of '") + n.op + "'" : "not requiring grad"));
  if (!n.hooks) n.hooks = std::make_unique<detail::TensorHooks>();
  const std::uint64_t id = n.hooks->post->add(std::move(fn));
  return RemovableHandle(n.hooks->post, id);
}

namespace detail {
namespace {
std::string describe_saved(const Node& n) {
  std::string s = std::string(dtype_name(n.dtype)) + " " +
                  shape_str(n.dtype == kFloat32 ? as<float>(n).value.shape() : as<double>(n).value.shape());
  if (!n.label.empty()) s += " '" + n.label + "'";
  return s + (n.inputs.empty() && !n.freed ? ", a leaf" : std::string(", output of '") + n.op + "'");
}
}  // namespace

void Node::throw_modified() const {
  std::string what = std::string("the output of '") + op + "' [" + describe_saved(*this) + "]";
  std::uint32_t now = version, expected = 0;
  for (std::size_t i = inputs.size(); i-- > 0;) {  // the first input that moved, else the output
    const std::uint32_t e = i < 3 ? saved.in[i] : saved.more[i - 3];
    if (inputs[i]->version != e)
      what = "input #" + std::to_string(i) + " of '" + op + "' [" + describe_saved(*inputs[i]) + "]",
      now = inputs[i]->version, expected = e;
  }
  throw std::runtime_error(
      "backward: one of the variables needed for gradient computation has been modified by an inplace operation: " +
      what + " is at version " + std::to_string(now) + "; expected version " + std::to_string(expected) +
      " instead (written through the mutable data<T>() or updated by an optimizer between the forward pass and "
      "backward; modify a copy, or run backward first; read values through std::as_const(t).data<T>() or item())");
}

void stash_leaf_grad(Node& n) {
  if (!n.inputs.empty()) return;  // a non-leaf's grad was just cleared
  if (n.hooks->list->hooks.empty()) return;  // post-accumulate hooks only: they see the accumulated gradient
  n.hooks->earlier = std::move(n.grad);
  n.hooks->stashed = true;
}

void restore_leaf_grad(Node& n) {
  TensorHooks& h = *n.hooks;
  if (!h.stashed) return;
  h.stashed = false;
  std::shared_ptr<Node> earlier = std::move(h.earlier);
  if (!earlier) return;  // first gradient: this call's is all of it
  if (n.grad && grad_enabled()) {  // create_graph: a recorded sum, so the gradient keeps its graph
    n.grad = add(Tensor(earlier), Tensor(n.grad)).node_ptr();
    return;
  }
  if (n.grad)  // add into the earlier buffer, which grad() handles taken before still share
    dispatch(n.dtype, [&](auto tag) { xt::noalias(as<decltype(tag)>(*earlier).value) += as<decltype(tag)>(*n.grad).value; });
  n.grad = std::move(earlier);
}

void run_tensor_hooks(Node& n) {
  if (n.grad && !n.hooks->list->hooks.empty()) {
    const auto hooks = n.hooks->list->hooks;  // a copy: a hook may remove itself
    for (const auto& [id, fn] : hooks) {
      Tensor r = fn(Tensor(n.grad));
      if (!r.defined() || r.node_ptr() == n.grad) continue;
      if (r.dtype() != n.dtype || r.shape() != Tensor(n.grad).shape())
        throw std::invalid_argument("hook on '" + std::string(n.op) + "': returned a gradient of " +
                                    dtype_name(r.dtype()) + " " + shape_str(r.shape()) + ", expected " +
                                    describe_saved(n));
      if (grad_enabled() && r.requires_grad()) {  // create_graph: the replacement's graph is the gradient's
        n.grad = r.node_ptr();
        continue;
      }
      // A fresh node holding the values: the hook's result may be a tensor the caller keeps using.
      n.grad = dispatch(n.dtype, [&](auto tag) -> std::shared_ptr<Node> {
        using T = decltype(tag);
        return make_node<Value<T>>(Array<T>(std::as_const(r).data<T>()));
      });
    }
  }
  restore_leaf_grad(n);
}

void run_post_accumulate_hooks(const std::shared_ptr<Node>& n) {
  if (!n->grad || n->hooks->post->hooks.empty()) return;
  const auto hooks = n->hooks->post->hooks;  // a copy: a hook may remove itself
  const Tensor self(n);
  for (const auto& [id, fn] : hooks) fn(self);
}

}  // namespace detail
}  // namespace chainrule
