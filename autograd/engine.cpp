// The engine: topological walk, gradient accumulation with sum_to, graph release, grad mode.
#include <algorithm>
#include <atomic>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xreducer.hpp>

#include "autograd/function.hpp"

namespace chainrule {
namespace {
thread_local bool g_grad_enabled = true;
std::atomic<std::uint64_t> g_walk_stamp{0};
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

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

template <class T> Array<T> expand(const Array<T>& x, const Shape& shape) { return xt::broadcast(x, shape); }
template Array<float> expand(const Array<float>&, const Shape&);
template Array<double> expand(const Array<double>&, const Shape&);

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
  Array<T> r = axes.empty() ? g : Array<T>(xt::sum(g, axes, xt::evaluation_strategy::immediate));
  r.reshape(to);
  return r;
}
template Array<float> sum_to(const char*, std::size_t, const Array<float>&, const Shape&);
template Array<double> sum_to(const char*, std::size_t, const Array<double>&, const Shape&);

template <class T> void accumulate(const char* op, std::size_t input, Node& n, Array<T>&& g) {
  const Shape& s = as<T>(n).value.shape();
  const bool same = g.shape().size() == s.size() && std::equal(s.begin(), s.end(), g.shape().begin());
  if (!same) g = sum_to<T>(op, input, g, s);  // in place otherwise: an xarray move costs ~150 instructions
  if (g_watch.any()) {  // anomaly mode, chain-rule trace: see each contribution on its own
    if (g_watch.anomaly) check_contribution(op, input, g);
    if (g_watch.trace && g_watch.current) g_watch.trace->contribution(input, n, g);
  }
  if (n.grad) {
    xt::noalias(as<T>(*n.grad).value) += g;
  } else {
    n.grad = make_node<Value<T>>(std::move(g));
  }
}
template void accumulate<float>(const char*, std::size_t, Node&, Array<float>&&);
template void accumulate<double>(const char*, std::size_t, Node&, Array<double>&&);

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

void run_backward(const std::shared_ptr<Node>& rootp, Array<float>* gf, Array<double>* gd, BackwardOptions o) {
  Node& root = *rootp;
  if (!root.requires_grad)
    throw std::logic_error("backward: tensor does not require grad (no input of it has requires_grad set)");
  NoGradGuard no_grad;  // backward functions compute with plain arrays; nothing they do is recorded
  std::vector<std::shared_ptr<Node>> order = topological_order(rootp);
  struct Hooked {  // hooked leaves get their earlier gradients back however the walk ends
    const std::vector<std::shared_ptr<Node>>& order;
    bool any = false;
    ~Hooked() {
      if (any)
        for (const auto& n : order)
          if (n->hooks) restore_leaf_grad(*n);
    }
  } hooked{order};
  for (const auto& n : order) {
    if (n->freed)
      throw std::logic_error(std::string("backward: the graph through '") + n->op +
                             "' was already freed by an earlier backward; pass retain_graph = true to the first one");
    // A non-leaf's grad buffer carries this backward's flow only (a retained one from an earlier call would add in).
    if (!n->inputs.empty()) n->grad.reset();
    if (n->hooks) hooked.any = true, stash_leaf_grad(*n);
  }
  if (gf) accumulate<float>("backward", 0, root, std::move(*gf));
  if (gd) accumulate<double>("backward", 0, root, std::move(*gd));
  struct Current {  // which node's backward runs, for the watchers; cleared however the walk ends
    ~Current() { g_watch.current = nullptr; }
  } current;
  if (g_watch.trace) g_watch.trace->begin(order);
  for (const auto& n : order) {
    if (g_watch.trace) g_watch.trace->visit(*n);
    if (n->hooks) run_tensor_hooks(*n);  // n's gradient is complete: its hooks may replace it
    if (n->inputs.empty()) continue;  // leaf: its grad is the result
    g_watch.current = n.get();
    if (n->grad) {
      n->check_versions();  // saved values modified in place since the forward pass: refuse, as torch
      n->backward();
    }
    if (!n->retains_grad) n->grad.reset();  // as torch: only leaves (and retain_grad tensors) keep a .grad
    if (!o.retain_graph) {
      n->inputs.clear();  // saved inputs go; the nodes themselves live on in `order` until the walk ends
      n->freed = true;
    }
  }
}

}  // namespace detail
}  // namespace chainrule
