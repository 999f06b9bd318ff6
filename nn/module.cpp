#include "module.hpp"

#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

namespace chainrule::nn {

// ---- hooks -------------------------------------------------------------------------------------------------------
// Graph nodes keep the hooks alive through a shared pointer, and reach the module through `owner`, which the
// module's destructor clears: a backward that runs after the module is gone calls nothing.
struct Module::Hooks {
  Module* owner;
  std::shared_ptr<detail::HookList<ForwardHook>> forward = std::make_shared<detail::HookList<ForwardHook>>();
  std::shared_ptr<detail::HookList<BackwardHook>> backward = std::make_shared<detail::HookList<BackwardHook>>();
};

Module::~Module() {
  if (hooks_) hooks_->owner = nullptr;
}

RemovableHandle Module::add_forward_hook(ForwardHook fn) {
  if (!hooks_) hooks_ = std::make_shared<Hooks>(Hooks{this});
  return RemovableHandle(hooks_->forward, hooks_->forward->add(std::move(fn)));
}

RemovableHandle Module::add_backward_hook(BackwardHook fn) {
  if (!hooks_) hooks_ = std::make_shared<Hooks>(Hooks{this});
  return RemovableHandle(hooks_->backward, hooks_->backward->add(std::move(fn)));
}

namespace {
// y = x      ∂x = g      ẏ = ẋ      (marks where a module's gradients are observed)
Tensor backward_hook_identity(const Tensor& x) {
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return record<T>("backward_hook", Array<T>(x.data<T>()), {x},
                     [](auto& d, const Array<T>& g, const auto& /*x*/, const Array<T>& /*y*/) { d(0, g); },
                     detail::NoTensorBackward{}, [](const auto& t, const auto&, const Tensor&) { return t[0]; });
  });
}

// Runs the backward hooks in order, each seeing the grad_input the previous one returned.
Tensor run_backward_hooks(const std::shared_ptr<Module::Hooks>& h, const Tensor& grad_input,
                          const Tensor& grad_output) {
  if (!h->owner) return Tensor();
  Tensor gi = grad_input;
  const auto hooks = h->backward->hooks;  // a copy: a hook may remove itself
  for (const auto& [id, fn] : hooks) {
    Tensor r = fn(*h->owner, gi, grad_output);
    if (r.defined()) gi = r;
  }
  return gi.same(grad_input) ? Tensor() : gi;
}
}  // namespace

Tensor Module::call_with_hooks(const Tensor& x) {
  const std::shared_ptr<Hooks> h = hooks_;  // alive even if a hook unregisters everything
  const bool watch_backward = !h->backward->hooks.empty() && grad_enabled();
  // The input passes through an identity node, so that its gradient from this call alone can be observed.
  const Tensor in = watch_backward && x.requires_grad() ? backward_hook_identity(x) : x;
  Tensor y = forward(in);
  const auto forward_hooks = h->forward->hooks;
  for (const auto& [id, fn] : forward_hooks) {
    Tensor r = fn(*this, x, y);
    if (r.defined()) y = r;
  }
  if (!watch_backward || !y.requires_grad()) return y;
  y = backward_hook_identity(y);
  auto grad_output = std::make_shared<Tensor>();
  const bool input_watched = !in.same(x);
  y.register_hook([h, grad_output, input_watched](const Tensor& g) {
    *grad_output = g;
    if (!input_watched) run_backward_hooks(h, Tensor(), g);
    return Tensor();
  });
  if (input_watched)
    in.register_hook([h, grad_output](const Tensor& g) { return run_backward_hooks(h, g, *grad_output); });
  return y;
}

Tensor Module::register_parameter(std::string name, Tensor t) {
  if (!t.is_leaf()) t = t.detach();
  t.requires_grad_(true);
  params_.emplace_back(std::move(name), t);
  return t;
}

Tensor Module::register_buffer(std::string name, Tensor t) {
  buffers_.emplace_back(std::move(name), t);
  return t;
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
  for (const auto& [n, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  collect("", out, true);
  return out;
}

void Module::load_state_dict(const NamedTensors& dict, bool strict) {
  NamedTensors own = state_dict();
  std::map<std::string, Tensor*> by_name;
  for (auto& [n, t] : own) by_name.emplace(n, &t);
  std::vector<std::pair<Tensor*, const Tensor*>> copies;
  std::set<std::string> given;
  for (const auto& [n, t] : dict) {
    auto it = by_name.find(n);
    if (it == by_name.end())
      throw std::invalid_argument("load_state_dict: unexpected key '" + n + "' (the module has no such parameter or "
                                  "buffer)");
    if (!given.insert(n).second) throw std::invalid_argument("load_state_dict: key '" + n + "' given twice");
    if (t.shape() != it->second->shape())
      throw std::invalid_argument("load_state_dict: '" + n + "' is " + shape_str(t.shape()) + " in the dict, " +
                                  shape_str(it->second->shape()) + " in the module");
    copies.emplace_back(it->second, &t);
  }
  if (strict)
    for (const auto& [n, t] : own)
      if (!given.count(n)) throw std::invalid_argument("load_state_dict: missing key '" + n + "'");
  for (auto& [dst, src] : copies) dst->copy_(*src);
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::size_t Module::parameter_count() const {
  std::size_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

void Module::zero_grad(bool set_to_none) {
  for (auto& t : parameters()) t.zero_grad(set_to_none);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

namespace {
void print(std::ostream& os, const Module& m, int indent) {
  os << m.name() << "(" << m.extra_repr();
  if (m.children().empty()) {
    os << ")";
    return;
  }
  os << "\n";
  for (const auto& [n, c] : m.children()) {
    os << std::string(indent + 2, ' ') << "(" << n << "): ";
    print(os, *c, indent + 2);
    os << "\n";
  }
  os << std::string(indent, ' ') << ")";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Module& m) {
  print(os, m, 0);
  return os;
}

}  // namespace chainrule::nn
