// The engine: topological walk, gradient accumulation with sum_to, graph release, grad mode.
#include <algorithm>
#include <atomic>
#include <exception>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xreducer.hpp>

#include "function.hpp"
#include "ops.hpp"

namespace chainrule {
namespace {
thread_local bool g_grad_enabled = true;
std::atomic<std::uint64_t> g_walk_stamp{0};
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }
AutoGradMode::AutoGradMode(bool enabled) : prev_(g_grad_enabled) { g_grad_enabled = enabled; }
AutoGradMode::~AutoGradMode() { g_grad_enabled = prev_; }

namespace detail {

// NOTE: destroying the last handle of a 10^6-op chain would recurse once per node through shared_ptr
// destructors and overflow the stack. Instead, inputs that this node owns alone are moved onto an explicit
// stack and emptied there, so every destructor below runs with no inputs left.
Node::~Node() {
  if (inputs.empty() && !grad) return;
  std::vector<std::shared_ptr<Node>> stack = std::move(inputs);
  if (grad) stack.push_back(std::move(grad));
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n.use_count() == 1) {
      for (auto& in : n->inputs) stack.push_back(std::move(in));
      n->inputs.clear();
      if (n->grad) stack.push_back(std::move(n->grad));
    }
  }
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtypes differ: " + dtype_name(a.dtype()) + " and " +
                                dtype_name(b.dtype()) + " (convert one with .to())");
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::size_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    std::size_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " cannot broadcast (axis " + std::to_string(i) + ": " + std::to_string(da) +
                                  " vs " + std::to_string(db) + ")");
    out[i] = std::max(da, db);
  }
  return out;
}

// Plain block copies when x repeats as one block (its shape without leading 1s is a suffix of `shape`: a scalar
// filling, a row [M] or [1,M] over [R,M], sum's and the bias' backward); else xtensor's broadcast (stepper-based,
// ~10× slower per element).
template <class T> Array<T> expand(const Array<T>& x, const Shape& shape) {
  const Shape& s = x.shape();
  std::size_t lead = 0;
  while (lead < s.size() && s[lead] == 1) ++lead;
  const std::size_t rest = s.size() - lead;
  bool block = s.size() <= shape.size() && x.size() > 0;
  for (std::size_t i = 0; block && i < rest; ++i) block = s[lead + i] == shape[shape.size() - rest + i];
  if (!block) return xt::broadcast(x, shape);
  Array<T> y = Array<T>::from_shape(shape);
  const std::size_t n = x.size(), total = y.size();
  const T* src = x.data();
  T* dst = y.data();
  if (n == 1) std::fill_n(dst, total, src[0]);
  else
    for (std::size_t at = 0; at < total; at += n)
      for (std::size_t j = 0; j < n; ++j) dst[at + j] = src[j];
  return y;
}
template Array<float> expand(const Array<float>&, const Shape&);
template Array<double> expand(const Array<double>&, const Shape&);

template <class T> Array<T> sum_leading(const Array<T>& g, std::size_t k) {
  const Shape& s = g.shape();
  const Shape out(s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
  Array<T> r = Array<T>::from_shape(out);
  const std::size_t inner = r.size(), outer = inner ? g.size() / inner : 0;
  const T* pg = g.data();
  T* pr = r.data();
  // y[c] = ((0 + g[0, c]) + g[1, c]) + …: xt::sum's order, so the bits are the same as before and at any thread count
  parallel_for(inner, outer, [&](std::size_t b, std::size_t e) {
    std::fill(pr + b, pr + e, T(0));
    for (std::size_t i = 0; i < outer; ++i) {
      const T* row = pg + i * inner;
      for (std::size_t c = b; c < e; ++c) pr[c] += row[c];
    }
  });
  return r;
}
template Array<float> sum_leading(const Array<float>&, std::size_t);
template Array<double> sum_leading(const Array<double>&, std::size_t);

template <class T> Array<T> sum_to(const char* op, std::size_t input, const Array<T>& g, const Shape& to) {
  const Shape& from = g.shape();
  auto fail = [&] {
    return std::logic_error(std::string(op) + ": grad shape " + shape_str(from) + " cannot reduce to input #" +
                            std::to_string(input) + " shape " + shape_str(to));
  };
  if (from.size() < to.size()) throw fail();
  std::size_t lead = from.size() - to.size();
  std::vector<std::size_t> axes;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (i < lead) {
      axes.push_back(i);
    } else if (to[i - lead] != from[i]) {
      if (to[i - lead] != 1) throw fail();
      axes.push_back(i);
    }
  }
  // Only leading axes (a bias's gradient [N, out] → [out]): column sums split over the threads.
  const bool leading = !axes.empty() && axes.back() + 1 == axes.size() && axes.size() < from.size();
  Array<T> r = axes.empty() ? g
               : leading  ? sum_leading(g, axes.size())
                          : Array<T>(xt::sum(g, axes, xt::evaluation_strategy::immediate));
  r.reshape(to);
  return r;
}
template Array<float> sum_to(const char*, std::size_t, const Array<float>&, const Shape&);
template Array<double> sum_to(const char*, std::size_t, const Array<double>&, const Shape&);

// The same reduction with recorded ops (sum, reshape), for create_graph.
Tensor sum_to(const char* op, std::size_t input, const Tensor& g, const Shape& to) {
  const Shape& from = g.shape();
  if (from == to) return g;
  auto fail = [&] {
    return std::logic_error(std::string(op) + ": grad shape " + shape_str(from) + " cannot reduce to input #" +
                            std::to_string(input) + " shape " + shape_str(to));
  };
  if (from.size() < to.size()) throw fail();
  const std::size_t lead = from.size() - to.size();
  std::vector<long> axes;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (i < lead) {
      axes.push_back(static_cast<long>(i));
    } else if (to[i - lead] != from[i]) {
      if (to[i - lead] != 1) throw fail();
      axes.push_back(static_cast<long>(i));
    }
  }
  return reshape(axes.empty() ? g : sum(g, axes, true), std::vector<long>(to.begin(), to.end()));
}

std::vector<Tensor> TensorGrads::inputs() const {
  std::vector<Tensor> x;
  x.reserve(in_.size());
  for (const auto& n : in_) x.emplace_back(n);
  return x;
}

template <class T> void accumulate(const char* op, std::size_t input, Node& n, Array<T>&& g) {
  const Shape& s = as<T>(n).value.shape();
  const bool same = g.shape().size() == s.size() && std::equal(s.begin(), s.end(), g.shape().begin());
  if (!same) g = sum_to<T>(op, input, g, s);  // in place otherwise: an xarray move costs ~150 instructions
  if (g_watch.any()) {  // anomaly mode, chain-rule trace: see each contribution on its own
    if (g_watch.anomaly) check_contribution(op, input, g);
    if (g_watch.trace && g_watch.current) g_watch.trace->contribution(input, n, g);
  }
  if (n.grad && n.grad->inputs.empty() && as<T>(*n.grad).value.size() == g.size()) {
    T* acc = as<T>(*n.grad).value.data();
    const T* pg = g.data();
    parallel_for(g.size(), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) acc[i] += pg[i];
    });
  } else if (n.grad && n.grad->inputs.empty()) {
    xt::noalias(as<T>(*n.grad).value) += g;
  } else if (n.grad) {  // a gradient with a graph (from create_graph): never changed in place
    n.grad = make_node<Value<T>>(Array<T>(as<T>(*n.grad).value + g));
  } else {
    n.grad = make_node<Value<T>>(std::move(g));
  }
}
template void accumulate<float>(const char*, std::size_t, Node&, Array<float>&&);
template void accumulate<double>(const char*, std::size_t, Node&, Array<double>&&);

// create_graph: n.grad += g with recorded ops (out of place: the old gradient may be part of a graph).
void accumulate(const char* op, std::size_t input, Node& n, Tensor g) {
  dispatch(n.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (g.dtype() != n.dtype)
      throw std::logic_error(std::string(op) + ": backward gave a " + dtype_name(g.dtype()) + " gradient for " +
                             dtype_name(n.dtype) + " input #" + std::to_string(input));
    g = sum_to(op, input, g, as<T>(n).value.shape());
    if (g_watch.any()) {
      if (g_watch.anomaly) check_contribution(op, input, g.data<T>());
      if (g_watch.trace && g_watch.current) g_watch.trace->contribution(input, n, g.data<T>());
    }
  });
  if (n.grad) {
    n.grad = add(Tensor(n.grad), g).node_ptr();
  } else {
    // A leaf keeps its grad, and a later first-order backward adds into it in place: it must own that node
    // (backward functions pass g on unchanged, so two inputs could otherwise share one).
    if (n.inputs.empty() && g.node_ptr().use_count() > 1) g = clone(g);
    n.grad = g.node_ptr();
  }
}

std::vector<Tensor> Node::backward_tensors(const Tensor&, const Tensor&) {
  throw std::logic_error(std::string(op) + ": backward is not differentiable (create_graph = true)");
}

namespace {
// Reverse topological order of the nodes that need a gradient, reachable from root: an iterative depth-first
// post-order (no recursion, so a 10^6-node chain is fine), reversed so every node comes before its inputs.
// The order owns its nodes: releasing a node's inputs during the walk must not destroy nodes still to visit.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  const std::uint64_t stamp = ++g_walk_stamp;
  // The last walk's size and stack: reserved up front and reused, rather than grown by doubling every backward
  // (large blocks, whose malloc and free make glibc consolidate its free lists: 2% of a 1-element op). Up to
  // kKeep nodes: a walk of 10^6 nodes must not pin its 24 MB of stack.
  constexpr std::size_t kKeep = 4096;
  thread_local std::size_t last_size = 0;
  thread_local std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack;  // (node, next input to visit)
  std::vector<std::shared_ptr<Node>> order;
  order.reserve(std::min(last_size, kKeep));
  stack.clear();  // empty, unless an earlier walk was cut short by an exception
  root->mark = stamp;
  stack.emplace_back(root, 0);
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      const std::shared_ptr<Node>& in = n->inputs[next++];
      if (in->requires_grad && in->mark != stamp) {
        in->mark = stamp;
        stack.emplace_back(in, 0);
      }
    } else {
      order.push_back(std::move(n));
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());
  last_size = order.size();
  if (stack.capacity() > kKeep) stack.shrink_to_fit();  // (empty by now: gives the block back)
  return order;
}
}  // namespace

namespace {
// Runs the walk over `order` (root first, its gradient already seeded). First order: each node's array backward,
// nothing recorded. create_graph: each node's Tensor backward, recorded (grad mode on), so the gradients have a
// graph of their own.
// post_hooks: the leaves' post-accumulate-grad hooks run (backward; not grad(), which leaves .grad alone).
// targets (forward over reverse, run_grad with record = false): the inputs whose gradients are read only for their
// tangents. A bilinear node (Node::bilinear: affine, matmul, matmul_t, whose backward's products are the gradients
// themselves, not intermediates that a tangent would read) whose gradients all go to them runs its backward with
// Watch::tangent_only, which skips the products' values: the weight gradient's GEMM of each such layer.
void walk(const std::vector<std::shared_ptr<Node>>& order, bool create_graph, bool retain_graph,
          bool post_hooks = true, const std::vector<const Node*>* targets = nullptr) {
  struct Current {  // which node's backward runs, for the watchers; cleared however the walk ends
    ~Current() {
      g_watch.current = nullptr;
      g_watch.tangent_only = false;
    }
  } current;
  const auto only_targets = [targets](const Node& n) {
    if (!targets || !n.bilinear) return false;
    for (const auto& in : n.inputs)
      if (in->requires_grad && std::find(targets->begin(), targets->end(), in.get()) == targets->end()) return false;
    return true;
  };
  if (g_watch.trace) g_watch.trace->begin(order);
  for (const auto& n : order) {
    if (g_watch.trace) g_watch.trace->visit(*n);
    if (n->hooks) run_tensor_hooks(*n);  // n's gradient is complete: its hooks may replace it
    if (n->inputs.empty()) {  // leaf: its grad is the result
      if (n->hooks && post_hooks) run_post_accumulate_hooks(n);
      continue;
    }
    g_watch.current = n.get();
    if (n->grad) {
      n->check_versions();  // saved values modified in place since the forward pass: refuse, as torch
      if (!create_graph) {
        n->backward();
      } else {
        g_watch.tangent_only = only_targets(*n);
        std::vector<Tensor> gs = n->backward_tensors(Tensor(n), Tensor(n->grad));
        g_watch.tangent_only = false;
        for (std::size_t i = 0; i < gs.size() && i < n->inputs.size(); ++i)
          if (gs[i].defined() && n->inputs[i]->requires_grad) accumulate(n->op, i, *n->inputs[i], std::move(gs[i]));
      }
    }
    if (!n->retains_grad) n->grad.reset();  // as torch: only leaves (and retain_grad tensors) keep a .grad
    if (!retain_graph) {
      n->inputs.clear();  // saved inputs go; the nodes themselves live on in `order` until the walk ends
      n->freed = true;
    }
  }
}

std::vector<std::shared_ptr<Node>> prepare(const std::shared_ptr<Node>& root) {
  if (!root->requires_grad)
    throw std::logic_error("backward: tensor does not require grad (no input of it has requires_grad set)");
  std::vector<std::shared_ptr<Node>> order = topological_order(root);
  for (const auto& n : order) {
    if (n->freed)
      throw std::logic_error(std::string("backward: the graph through '") + n->op +
                             "' was already freed by an earlier backward; pass retain_graph = true to the first one");
    // A non-leaf's grad buffer carries this backward's flow only (a retained one from an earlier call would add in).
    if (!n->inputs.empty()) n->grad.reset();
  }
  return order;
}

// Hooked leaves: their gradient from earlier calls is set aside for the walk, so that their hooks see this call's
// gradient alone, and given back (added) however the walk ends.
struct HookedLeaves {
  const std::vector<std::shared_ptr<Node>>& order;
  bool any = false;
  explicit HookedLeaves(const std::vector<std::shared_ptr<Node>>& o) : order(o) {
    for (const auto& n : order)
      if (n->hooks) any = true, stash_leaf_grad(*n);
  }
  ~HookedLeaves() {
    if (any)
      for (const auto& n : order)
        if (n->hooks) restore_leaf_grad(*n);
  }
};

// If a create_graph walk stops on an exception, the non-leaf gradients it left would hold their own nodes
// (y.grad's graph refers to y): drop them.
struct DropGradsOnThrow {
  const std::vector<std::shared_ptr<Node>>& order;
  int uncaught = std::uncaught_exceptions();
  ~DropGradsOnThrow() {
    if (std::uncaught_exceptions() > uncaught)
      for (const auto& n : order)
        if (!n->inputs.empty() && !n->retains_grad) n->grad.reset();
  }
};
}  // namespace

void run_backward(const std::shared_ptr<Node>& rootp, Array<float>* gf, Array<double>* gd, BackwardOptions o) {
  if (o.create_graph) {
    Tensor seed = gf ? Tensor(std::move(*gf)) : Tensor(std::move(*gd));
    run_backward(rootp, seed, o);
    return;
  }
  Node& root = *rootp;
  NoGradGuard no_grad;  // backward functions compute with plain arrays; nothing they do is recorded
  std::vector<std::shared_ptr<Node>> order = prepare(rootp);
  HookedLeaves hooked(order);
  if (gf) accumulate<float>("backward", 0, root, std::move(*gf));
  if (gd) accumulate<double>("backward", 0, root, std::move(*gd));
  walk(order, false, o.retain_graph.value_or(false));
}

void run_backward(const std::shared_ptr<Node>& root, const Tensor& seed, BackwardOptions o) {
  if (!o.create_graph) {
    dispatch(seed.dtype(), [&](auto tag) {
      using T = decltype(tag);
      Array<T> g = seed.data<T>();
      if constexpr (std::is_same_v<T, float>) run_backward(root, &g, nullptr, o);
      else run_backward(root, nullptr, &g, o);
    });
    return;
  }
  AutoGradMode grad_mode(true);  // backward functions compute with Tensor ops, recorded
  std::vector<std::shared_ptr<Node>> order = prepare(root);
  DropGradsOnThrow drop{order};
  HookedLeaves hooked(order);
  accumulate("backward", 0, *root, seed);
  walk(order, true, o.retain_graph.value_or(true));
}

std::vector<Tensor> run_grad(const Tensor& root, const Tensor& seed, const std::vector<Tensor>& inputs,
                             BackwardOptions o, bool allow_unused, bool record) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].requires_grad())
      throw std::logic_error("grad: input #" + std::to_string(i) + " does not require grad");
  std::vector<std::shared_ptr<Node>> order = prepare(root.node_ptr());
  const std::uint64_t stamp = root.node().mark;  // every node of the walk carries it
  // The walk must not touch .grad: the leaves' gradients are put aside and given back afterwards, and the
  // inputs that are not leaves keep theirs for the walk's length.
  struct Restore {
    std::vector<std::pair<Node*, std::shared_ptr<Node>>> leaves;
    std::vector<std::pair<Node*, bool>> retains;
    ~Restore() {
      for (auto& [n, g] : leaves) n->grad = std::move(g);
      for (auto& [n, r] : retains) {
        n->retains_grad = r;
        if (!r) n->grad.reset();
      }
    }
  } restore;
  for (const auto& n : order)
    if (n->inputs.empty()) restore.leaves.emplace_back(n.get(), std::move(n->grad));
  for (const auto& t : inputs)
    if (!t.node().inputs.empty() && t.node().mark == stamp) {
      restore.retains.emplace_back(&t.node(), t.node().retains_grad);
      t.node().retains_grad = true;
    }
  {
    AutoGradMode grad_mode(o.create_graph && record);
    DropGradsOnThrow drop{order};
    HookedLeaves hooked(order);
    if (o.create_graph) {
      accumulate("backward", 0, root.node(), seed);
    } else {
      dispatch(seed.dtype(), [&](auto tag) {
        using T = decltype(tag);
        accumulate<T>("backward", 0, root.node(), Array<T>(seed.data<T>()));
      });
    }
    std::vector<const Node*> targets;
    if (!record)
      for (const auto& t : inputs) targets.push_back(&t.node());
    walk(order, o.create_graph, o.retain_graph.value_or(o.create_graph), false, record ? nullptr : &targets);
  }
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Node& n = inputs[i].node();
    if (n.mark != stamp && !allow_unused)
      throw std::logic_error("grad: input #" + std::to_string(i) +
                             " was not used to compute the outputs (pass allow_unused = true to get an undefined "
                             "tensor for it)");
    if (n.mark != stamp || !n.grad) {
      out.emplace_back(n.mark == stamp ? zeros_like(inputs[i]) : Tensor());
      continue;
    }
    out.emplace_back(n.grad);
  }
  return out;
}

}  // namespace detail
}  // namespace chainrule
