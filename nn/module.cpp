#include "nn/module.hpp"

#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

namespace chainrule::nn {

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
