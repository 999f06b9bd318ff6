// The chain-rule trace: an engine observer that copies what backward sees at each node (its printers, text and
// Markdown, are in teach/trace_text.cpp); and the Graphviz export of the tape.
#include "trace.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "../autograd/files.hpp"
#include "../autograd/function.hpp"

namespace chainrule {
using detail::Node;

// ---- formatting ------------------------------------------------------------------------------------------------
namespace {
std::string num(double v, int precision) {
  if (v == 0) v = 0;  // -0 prints as 0: the sign of a zero is noise to a reader of the trace
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

template <class T> void nested(std::ostream& os, const Array<T>& a, std::size_t axis, std::size_t offset, int p) {
  const auto& s = a.shape();
  std::size_t stride = 1;
  for (std::size_t i = axis + 1; i < s.size(); ++i) stride *= s[i];
  os << "[";
  for (std::size_t i = 0; i < s[axis]; ++i) {
    if (i) os << ", ";
    if (axis + 1 == s.size()) os << num(double(a.data()[offset + i]), p);
    else nested(os, a, axis + 1, offset + i * stride, p);
  }
  os << "]";
}
}  // namespace

std::string format_value(const Tensor& t, const TraceOptions& o) {
  if (!t.defined()) return "(none)";
  return detail::dispatch(t.dtype(), [&](auto tag) {
    const auto& a = t.data<decltype(tag)>();
    if (a.size() == 1 && a.dimension() <= 1) return num(double(a.data()[0]), o.precision);
    std::ostringstream s;
    if (o.full || a.size() <= o.max_elements) {
      if (a.dimension() == 0) return num(double(a()), o.precision);
      nested(s, a, 0, 0, o.precision);
      return s.str();
    }
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (auto v : a) sum += double(v), lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
    s << shape_str(a.shape()) << " mean " << num(sum / double(a.size()), o.precision) << " min "
      << num(lo, o.precision) << " max " << num(hi, o.precision);
    return s.str();
  });
}

// ---- node names and the walk shared by the trace and the graph ---------------------------------------------------
namespace {
// Every node below root, inputs before the nodes that use them (a depth-first post-order, iterative).
std::vector<const Node*> walk(const Node& root) {
  std::vector<const Node*> order;
  std::unordered_set<const Node*> seen{&root};
  std::vector<std::pair<const Node*, std::size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      const Node* in = n->inputs[next++].get();
      if (seen.insert(in).second) stack.emplace_back(in, 0);
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace

// The user's label, else <op>_k for results and leaf_k for parameters, const_k for constants, numbered in the
// order of walk() so that a trace and a graph of the same tape agree. (Not in the anonymous namespace: the
// recorder, a class of the public header, holds one.)
namespace detail {
class Names {
 public:
  Names() = default;
  explicit Names(const Node& root) {
    for (const Node* n : walk(root)) (*this)(*n);
  }
  const std::string& operator()(const Node& n) {
    auto it = names_.find(&n);
    if (it != names_.end()) return it->second;
    std::string name = n.label;
    if (name.empty()) {
      const std::string prefix = n.requires_grad ? n.op : "const";
      name = prefix + "_" + std::to_string(++counts_[prefix]);
    }
    return names_.emplace(&n, std::move(name)).first->second;
  }
 private:
  std::unordered_map<const Node*, std::string> names_;
  std::map<std::string, std::size_t> counts_;
};
}  // namespace detail
using detail::Names;

namespace {

Tensor snapshot(const Node& n) {
  return detail::dispatch(n.dtype, [&](auto tag) {
    using T = decltype(tag);
    return Tensor(Array<T>(detail::as<T>(n).value));
  });
}
std::size_t numel(const Node& n) {
  return detail::dispatch(n.dtype, [&](auto tag) { return detail::as<decltype(tag)>(n).value.size(); });
}
const Shape& shape(const Node& n) {
  return n.dtype == kFloat32 ? detail::as<float>(n).value.shape() : detail::as<double>(n).value.shape();
}

// Runs n's backward with upstream `seed` into fresh copies of its inputs and returns their gradients: the real
// gradients stay untouched, and an input used twice (a in a·a) gets one result per slot. Watchers are off.
std::vector<Tensor> scratch_backward(Node& n, std::shared_ptr<Node> seed) {
  std::vector<std::shared_ptr<Node>> copies;
  for (const auto& in : n.inputs) {
    copies.push_back(detail::dispatch(in->dtype, [&](auto tag) -> std::shared_ptr<Node> {
      using T = decltype(tag);
      return std::make_shared<detail::Value<T>>(detail::as<T>(*in).value);
    }));
    copies.back()->requires_grad = in->requires_grad;
  }
  struct Restore {
    Node& n;
    std::vector<std::shared_ptr<Node>> inputs;
    std::shared_ptr<Node> grad;
    detail::Watch watch;
    ~Restore() {
      n.inputs = std::move(inputs);
      n.grad = std::move(grad);
      detail::g_watch = watch;
    }
  } restore{n, std::move(n.inputs), std::move(n.grad), detail::g_watch};
  n.inputs = copies;
  n.grad = std::move(seed);
  detail::g_watch = {};
  n.backward();
  std::vector<Tensor> grads;
  for (const auto& c : copies) grads.push_back(c->grad ? Tensor(c->grad) : Tensor());
  return grads;
}

// An upstream for scratch_backward: all ones (k = npos) or the k-th unit vector, of n's dtype and shape.
std::shared_ptr<Node> seed_like(const Node& n, std::size_t k) {
  return detail::dispatch(n.dtype, [&](auto tag) -> std::shared_ptr<Node> {
    using T = decltype(tag);
    Array<T> s = Array<T>::from_shape(detail::as<T>(n).value.shape());
    s.fill(k == std::string::npos ? T(1) : T(0));
    if (k != std::string::npos) s.data()[k] = T(1);
    return std::make_shared<detail::Value<T>>(std::move(s));
  });
}

// ∂out/∂in for each input that needs a gradient: one backward with ones for elementwise inputs of the output's
// shape (the Jacobian is diagonal), one per output element for small Jacobians, nothing for the others.
void local_partials(Node& n, TraceEntry& e, const TraceOptions& o) {
  const std::size_t out_n = numel(n);
  bool any_elementwise = false;
  std::vector<std::size_t> jacobian;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) {
    const Node& in = *n.inputs[i];
    if (!in.requires_grad) continue;
    if (n.elementwise && shape(in) == shape(n)) {
      e.inputs[i].local_kind = LocalKind::Elementwise;
      any_elementwise = true;
    } else if (out_n * numel(in) <= o.jacobian_max) {
      e.inputs[i].local_kind = LocalKind::Jacobian;
      jacobian.push_back(i);
    }
  }
  if (any_elementwise) {
    std::vector<Tensor> g = scratch_backward(n, seed_like(n, std::string::npos));
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (e.inputs[i].local_kind == LocalKind::Elementwise)
        e.inputs[i].local = g[i].defined() ? g[i] : zeros(shape(*n.inputs[i]), n.inputs[i]->dtype);
  }
  if (jacobian.empty()) return;
  std::vector<Tensor> rows(jacobian.size());  // J[k, ...] = ∂out_k/∂in, for out_k the k-th output element
  for (std::size_t j = 0; j < jacobian.size(); ++j) {
    const Node& in = *n.inputs[jacobian[j]];
    std::vector<std::size_t> s(shape(n).begin(), shape(n).end());
    s.insert(s.end(), shape(in).begin(), shape(in).end());
    rows[j] = zeros(Shape(s.begin(), s.end()), in.dtype);
  }
  for (std::size_t k = 0; k < out_n; ++k) {
    std::vector<Tensor> g = scratch_backward(n, seed_like(n, k));
    for (std::size_t j = 0; j < jacobian.size(); ++j) {
      const Tensor& gi = g[jacobian[j]];
      if (!gi.defined()) continue;
      detail::dispatch(gi.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const Array<T>& src = gi.data<T>();
        std::copy(src.data(), src.data() + src.size(), rows[j].data<T>().data() + k * src.size());
      });
    }
  }
  for (std::size_t j = 0; j < jacobian.size(); ++j) e.inputs[jacobian[j]].local = rows[j];
}
}  // namespace

// ---- the recorder ----------------------------------------------------------------------------------------------
class ChainRuleTrace::Recorder final : public detail::BackwardObserver {
 public:
  explicit Recorder(const TraceOptions& o) : options_(o), previous_(detail::g_watch.trace) {
    detail::g_watch.trace = this;
  }
  ~Recorder() override { detail::g_watch.trace = previous_; }

  void begin(const std::vector<std::shared_ptr<Node>>& order) override {
    ++pass_;
    step_ = 0;
    names_ = Names(*order.front());
    received_.clear();
    ids_.clear();
  }

  void visit(Node& n) override {
    TraceEntry e;
    e.pass = pass_;
    e.step = ++step_;
    e.name = names_(n);
    e.node = id(n);
    e.op = n.op;
    e.value = snapshot(n);
    if (n.grad) e.grad = snapshot(*n.grad);
    if (auto it = received_.find(&n); it != received_.end()) e.paths = std::move(it->second);
    for (const auto& in : n.inputs) {
      TraceInput t;
      t.name = names_(*in);
      t.node = id(*in);
      t.op = in->op;
      t.value = snapshot(*in);
      t.requires_grad = in->requires_grad;
      e.inputs.push_back(std::move(t));
    }
    if (n.grad && !n.inputs.empty()) local_partials(n, e, options_);
    entries_.push_back(std::move(e));
  }

  void contribution(std::size_t input, const Node& to, const Array<float>& g) override { add(input, to, g); }
  void contribution(std::size_t input, const Node& to, const Array<double>& g) override { add(input, to, g); }

  std::vector<TraceEntry> entries_;

 private:
  std::size_t id(const Node& n) { return ids_.emplace(&n, ids_.size()).first->second; }
  // The running node is the last one visited: the engine visits a node just before running its backward.
  template <class T> void add(std::size_t input, const Node& to, const Array<T>& g) {
    TraceEntry& e = entries_.back();
    TraceInput& in = e.inputs.at(input);
    Tensor c{Array<T>(g)};
    in.contribution = in.contribution.defined() ? Tensor(Array<T>(in.contribution.data<T>() + g)) : c;
    in.accumulated = to.grad ? Tensor(Array<T>(detail::as<T>(*to.grad).value + g)) : c;
    auto& paths = received_[&to];
    paths.push_back({e.name, input, c});
    in.paths_so_far = paths.size();
  }

  TraceOptions options_;
  detail::BackwardObserver* previous_;
  std::size_t pass_ = 0, step_ = 0;
  Names names_;
  std::unordered_map<const Node*, std::vector<TracePath>> received_;  // this pass's contributions, by receiver
  std::unordered_map<const Node*, std::size_t> ids_;                   // this pass's node numbers
};

ChainRuleTrace::ChainRuleTrace(TraceOptions o) : options_(o), recorder_(std::make_unique<Recorder>(o)) {}
ChainRuleTrace::~ChainRuleTrace() = default;
const std::vector<TraceEntry>& ChainRuleTrace::entries() const { return recorder_->entries_; }
void ChainRuleTrace::clear() { recorder_->entries_.clear(); }

const TraceEntry& ChainRuleTrace::entry(const std::string& name) const {
  const auto& es = entries();
  for (auto it = es.rbegin(); it != es.rend(); ++it)
    if (it->name == name) return *it;
  std::string names;
  for (const auto& e : es) names += (names.empty() ? "" : ", ") + e.name;
  throw std::out_of_range("ChainRuleTrace::entry: no node named '" + name + "' was traced (traced: " +
                          (names.empty() ? "nothing; did backward run while the trace lived?" : names) + ")");
}

// ---- Graphviz --------------------------------------------------------------------------------------------------
namespace {
// A field of a record label: Graphviz reserves { } | < > and quotes.
std::string field(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (std::strchr("{}|<>\"\\", c)) r += '\\';
    r += c;
  }
  return r;
}
}  // namespace

namespace {
// The nodes on a path from the root to the highlighted tensor: those from which it can be reached (none without one).
std::unordered_set<const Node*> dot_highlighted_path(const std::vector<const Node*>& nodes,
                                                     const std::unordered_map<const Node*, std::size_t>& id,
                                                     const Tensor& root, const DotOptions& o, Names& names) {
  std::unordered_set<const Node*> on_path;
  if (!o.highlight.defined()) return on_path;
  const Node* target = &o.highlight.node();
  if (!id.count(target))
    throw std::invalid_argument("to_dot: the tensor to highlight" +
                                (target->label.empty() ? std::string() : " '" + target->label + "'") +
                                " is not in the graph of '" + names(root.node()) + "'");
  for (const Node* n : nodes) {  // inputs come first, so one pass suffices
    bool reaches = n == target;
    for (const auto& in : n->inputs) reaches = reaches || on_path.count(in.get());
    if (reaches) on_path.insert(n);
  }
  return on_path;
}

// A node as a record: name | op and shape | value | grad (if it has one); leaves filled, the path in red.
std::string dot_node(const Node& n, std::size_t id, Names& names, bool highlighted, const DotOptions& o) {
  Tensor t = snapshot(n);
  const std::string dims = numel(n) == 1 && shape(n).size() <= 1 ? "" : " " + shape_str(shape(n));  // scalars: none
  std::string label = "{" + field(names(n)) + " | " + field(n.requires_grad ? n.op : "constant") + dims +
                      " | value " + field(format_value(t, o.format));
  if (n.grad) label += " | grad " + field(format_value(snapshot(*n.grad), o.format));
  label += "}";
  std::ostringstream s;
  s << "  n" << id << " [label=\"" << label << "\"";
  if (n.inputs.empty()) s << ", fillcolor=" << (n.requires_grad ? "lightblue" : "gray92");
  if (highlighted) s << ", color=red, penwidth=2";
  s << "];\n";
  return s.str();
}

// The edges into n. Each carries its local derivative ∂n/∂input (elementwise, or a Jacobian up to jacobian_max
// entries), computed by a scratch backward that leaves the real gradients alone.
std::string dot_edges_into(const Node& n, const std::unordered_map<const Node*, std::size_t>& id,
                           const std::unordered_set<const Node*>& on_path, const DotOptions& o) {
  TraceEntry local;
  local.inputs.resize(n.inputs.size());
  // (the scratch backward swaps n's inputs and gradient for copies and puts them back: n is unchanged after)
  if (n.requires_grad && !n.inputs.empty()) local_partials(const_cast<Node&>(n), local, o.format);
  std::ostringstream s;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) {
    const Node* in = n.inputs[i].get();
    std::vector<std::string> attrs;
    if (local.inputs[i].local.defined()) {
      TraceOptions f = o.format;
      f.max_elements = std::max<std::size_t>(f.max_elements, 16);
      std::string text;
      for (char c : format_value(local.inputs[i].local, f)) text += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
      attrs.push_back("label=\"" + text + "\"");
    }
    if (on_path.count(in) && on_path.count(&n)) attrs.push_back("color=red, penwidth=2");
    s << "  n" << id.at(in) << " -> n" << id.at(&n);
    for (std::size_t k = 0; k < attrs.size(); ++k) s << (k ? ", " : " [") << attrs[k];
    s << (attrs.empty() ? "" : "]") << ";\n";
  }
  return s.str();
}
}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& o) {
  const std::vector<const Node*> nodes = walk(root.node());
  for (const Node* n : nodes)
    if (n->freed)
      throw std::logic_error(std::string("to_dot: the graph through '") + n->op +
                             "' was freed by backward(); export it before backward, or call backward(retain_graph) "
                             "(and retain_grad() on the non-leaves whose gradient you want shown)");
  Names names(root.node());
  std::unordered_map<const Node*, std::size_t> id;
  for (const Node* n : nodes) id.emplace(n, id.size());
  const std::unordered_set<const Node*> on_path = dot_highlighted_path(nodes, id, root, o, names);
  std::ostringstream s;
  s << "digraph chainrule {\n  rankdir=" << o.rankdir << ";\n"
    << "  node [shape=record, style=filled, fillcolor=white, fontname=\"Helvetica\", fontsize=11];\n";
  for (const Node* n : nodes) s << dot_node(*n, id[n], names, on_path.count(n) != 0, o);
  for (const Node* n : nodes) s << dot_edges_into(*n, id, on_path, o);
  s << "}\n";
  return s.str();
}

void detail::write_text_file(const char* who, const std::string& path, const std::string& text) {
  files::check_save_target(path, who);  // never replace a FIFO, a device or a directory
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* what) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return std::runtime_error(std::string(who) + "cannot " + what + " '" + path + "': " + why);
  };
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw fail("create");
    f << text;
    f.flush();
    if (!f) throw fail("write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename into place");
}

void write_dot(const std::string& path, const Tensor& root, const DotOptions& o) {
  files::check_save_target(path, "write_dot: ");  // before the work of rendering
  detail::write_text_file("write_dot: ", path, to_dot(root, o));
}

}  // namespace chainrule
