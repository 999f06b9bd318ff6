#pragma once
// How an op is recorded. Elementwise ops are written as scalar functions, the forward and one derivative
// per input, which reads like a row of a derivative table:
//
//   // y = a ⊙ b        ∂L/∂a = g ⊙ b        ∂L/∂b = g ⊙ a
//   Tensor mul(const Tensor& a, const Tensor& b) {
//     return binary("mul", a, b, [](auto a, auto b) { return a * b; },
//                   [](auto g, auto /*a*/, auto b, auto /*y*/) { return g * b; },
//                   [](auto g, auto a, auto /*b*/, auto /*y*/) { return g * a; });
//   }
//
// The helpers run them as plain loops (vectorised by the compiler; no expression templates, so small tensors
// cost a few nanoseconds and the library compiles quickly; large ones are split over the intra-op threads, so
// the lambdas must be pure), broadcast by numpy rules, skip the derivative of an
// input that needs no gradient (PyTorch's needs_input_grad), and let the engine sum each gradient back to its
// input's shape (sum_to, in one place).
//
// Other ops call record() with a backward function back(d, g, x, y): g = ∂L/∂y, x the inputs' values, y the
// output, and d(i, array) adds a contribution to input i. The same machinery is public: users can define their
// own differentiable ops with it.
//
// Higher order (backward with create_graph): the engine then calls each node's Tensor backward instead,
// backt(d, g, x, y) with Tensors (g, the inputs x, the output y) and d(i, tensor), under grad mode, so the
// gradient is itself recorded and can be differentiated again. unary() and binary() get theirs for free: the
// derivative lambdas are instantiated with Tensor arguments too, so one line serves both paths. For that they
// are written with the calls of namespace math below (math::cos, math::select, ...), which take scalars and
// Tensors alike. Other ops pass backt as record()'s argument after back.
//
// Forward mode (autograd/forward_ad.hpp): under a dual level, record() gives the output the tangent
// fwd(t, x, y) = Σᵢ ∂y/∂xᵢ · tᵢ from the inputs' tangents t (Tangents), the inputs x and the output y, all
// Tensors. unary() and binary() derive it from the same derivative lambdas: an elementwise Jacobian is
// diagonal, so dx(t, x, y) (g = t) is the tangent. Other ops pass fwd as record()'s last argument; an op
// without one throws, naming itself, when a tangent reaches it.
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <tuple>
#include <utility>

#include "forward_ad.hpp"
#include "ops.hpp"
#include "parallel.hpp"
#include "tensor.hpp"
#include "vectorized.hpp"

namespace chainrule {

/// The same call for a scalar (float, double) and a Tensor, so that one derivative lambda serves the fast
/// first-order kernels and the recorded (differentiable) backward.
namespace math {
using std::abs;
using std::cos;
using std::exp;
using std::log;
using std::pow;
using std::sin;
using std::sqrt;
using std::tanh;
using chainrule::abs;
using chainrule::cos;
using chainrule::exp;
using chainrule::log;
using chainrule::pow;
using chainrule::sin;
using chainrule::sqrt;
using chainrule::tanh;
/// v as a constant of x's type (a plain number for arithmetic types).
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> T constant(T, double v) { return T(v); }
/// v as a constant of x's type (a 0-D tensor of x's dtype for a Tensor).
inline Tensor constant(const Tensor& x, double v) { return scalar_like(x, v); }
/// Zero of x's type (a plain number for arithmetic types).
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> T zero(T) { return T(0); }
/// Zeros like x (a constant: nothing flows back through it).
inline Tensor zero(const Tensor& x) { return zeros_like(x); }
/// c ? a : b, elementwise for Tensors (where: the condition is not differentiated).
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> T select(bool c, T a, T b) { return c ? a : b; }
/// c ? a : b elementwise (where): the condition is not differentiated.
inline Tensor select(const Tensor& c, const Tensor& a, const Tensor& b) { return where(c, a, b); }
/// a == b (1/0 for Tensors).
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> bool equal(T a, T b) { return a == b; }
/// a == b elementwise, 1 or 0.
inline Tensor equal(const Tensor& a, const Tensor& b) { return eq(a, b); }
}  // namespace math

namespace detail {

/// Numpy broadcast of two shapes; throws "<op>: shapes [..] and [..] cannot broadcast".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
/// x broadcast (copied) to shape.
template <class T> Array<T> expand(const Array<T>& x, const Shape& shape);
/// Sums g over its first k axes, each result in xt::sum's order (from 0, first index first), split over threads.
template <class T> Array<T> sum_leading(const Array<T>& g, std::size_t k);
/// Sums g over the axes that were broadcast to reach it from `to` (the one unbroadcast of the engine).
template <class T> Array<T> sum_to(const char* op, std::size_t input, const Array<T>& g, const Shape& to);
/// Adds an evaluated gradient (of n's shape or broadcast from it) into node n's grad, creating it on first use.
template <class T> void accumulate(const char* op, std::size_t input, Node& n, Array<T>&& g);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
/// Tensor hooks in the engine's walk (autograd/hooks.cpp): a hooked leaf's earlier gradient is set aside before
/// the walk, its hooks run when the walk reaches it, then the earlier gradient is added back (restore_leaf_grad
/// also runs if the walk stops on an exception).
void stash_leaf_grad(Node& n);
void run_tensor_hooks(Node& n);
void restore_leaf_grad(Node& n);
/// The engine's walk: seeds root's gradient with the given array (one of the two, by dtype) and runs backward.
void run_backward(const std::shared_ptr<Node>& root, Array<float>* gf, Array<double>* gd, BackwardOptions o);
/// Same, seeded with a Tensor (kept as it is under create_graph, so a seed with a graph stays differentiable).
void run_backward(const std::shared_ptr<Node>& root, const Tensor& seed, BackwardOptions o);
/// chainrule::grad's walk: the gradients of root (seeded with seed) with respect to inputs; no .grad changes.
/// record = false (with create_graph): each node's Tensor backward runs, so the tangents of a forward_ad level
/// flow through it (forward over reverse), but nothing is recorded; and where every gradient a node computes
/// goes to `inputs`, only its tangent is wanted (Watch::tangent_only), as hvp reads only the inputs' tangents.
std::vector<Tensor> run_grad(const Tensor& root, const Tensor& seed, const std::vector<Tensor>& inputs,
                             BackwardOptions o, bool allow_unused, bool record = true);
/// sum_to with recorded ops (create_graph).
Tensor sum_to(const char* op, std::size_t input, const Tensor& g, const Shape& to);
/// create_graph: adds g to node n's grad with recorded ops.
void accumulate(const char* op, std::size_t input, Node& n, Tensor g);

/// Watches backward on behalf of the chain-rule trace (teach/trace.hpp). Called by the engine only.
class BackwardObserver {
 public:
  virtual ~BackwardObserver() = default;
  /// A backward walk starts; `order` is the engine's: each node before its inputs.
  virtual void begin(const std::vector<std::shared_ptr<Node>>& order) = 0;
  /// Backward reaches n: its gradient is complete, its backward has not run yet.
  virtual void visit(Node& n) = 0;
  /// The running node sends g (already summed to the input's shape) to its input #input, `to`, whose grad
  /// does not include g yet.
  virtual void contribution(std::size_t input, const Node& to, const Array<float>& g) = 0;
  virtual void contribution(std::size_t input, const Node& to, const Array<double>& g) = 0;
};

/// What watches ops on this thread: a chain-rule trace, anomaly mode (teach/anomaly.hpp). Both are off
/// (null, 0) unless their guard lives, so record() and the engine pay one predictable branch for them.
struct Watch {
  BackwardObserver* trace = nullptr;
  int anomaly = 0;                  ///< nesting depth of AnomalyMode guards
  const Node* current = nullptr;    ///< the node whose backward is running
  DualState* dual = nullptr;        ///< forward mode: the active dual level (autograd/forward_ad.hpp), or null
  /// Forward over reverse (hvp): the running node's gradients are read only for their tangents, so matmul_t
  /// computes the tangent alone and leaves its value zero (set by the engine's walk; inert under DualPause).
  bool tangent_only = false;
  bool any() const { return trace != nullptr || anomaly != 0; }
};
inline thread_local Watch g_watch;

/// Anomaly mode's checks: throw std::runtime_error naming the op, when an array holds NaN or ±inf.
void check_forward(const char* op, const Tensor& y, const std::vector<Tensor>& inputs);
void check_contribution(const char* op, std::size_t input, const Array<float>& g);
void check_contribution(const char* op, std::size_t input, const Array<double>& g);
template <class T> bool all_finite(const Array<T>& a) {
  bool ok = true;
  for (std::size_t i = 0, n = a.size(); i < n; ++i) ok &= std::isfinite(a.data()[i]);
  return ok;
}

/// The `d` of a backward function: routes each input's gradient contribution.
template <class T> class Accumulator {
 public:
  Accumulator(const char* op, std::vector<std::shared_ptr<Node>>& inputs) : op_(op), inputs_(inputs) {}
  /// Whether input i wants a gradient: skip computing it otherwise.
  bool needs(std::size_t i) const { return inputs_[i]->requires_grad; }
  /// Adds g (input i's shape, or broadcast from it) to input i's gradient.
  void operator()(std::size_t i, Array<T>&& g) const {
    if (needs(i)) accumulate<T>(op_, i, *inputs_[i], std::move(g));
  }
  void operator()(std::size_t i, const Array<T>& g) const {
    if (needs(i)) accumulate<T>(op_, i, *inputs_[i], Array<T>(g));
  }
  /// For BLAS-style kernels: fn(out, beta) must compute out = result + beta·out on a buffer of input i's
  /// shape; beta is 1 when a gradient already exists (accumulate in place) and 0 on first use.
  template <class F> void into(std::size_t i, F&& fn) const {
    Node& in = *inputs_[i];
    if (!in.requires_grad) return;
    if (in.grad && in.grad->inputs.empty() && !g_watch.any()) {  // watched: each contribution is seen on its own
      fn(as<T>(*in.grad).value, T(1));
    } else {
      Array<T> out = Array<T>::from_shape(as<T>(in).value.shape());
      fn(out, T(0));
      accumulate<T>(op_, i, in, std::move(out));
    }
  }

 private:
  const char* op_;
  std::vector<std::shared_ptr<Node>>& inputs_;
};

/// The `d` of a Tensor backward function (create_graph): collects each input's gradient as a Tensor.
class TensorGrads {
 public:
  explicit TensorGrads(const std::vector<std::shared_ptr<Node>>& in) : in_(in), out_(in.size()) {}
  bool needs(std::size_t i) const { return in_[i]->requires_grad; }
  /// Adds g (input i's shape, or broadcast from it) to input i's gradient.
  void operator()(std::size_t i, const Tensor& g) {
    if (!needs(i)) return;
    out_[i] = out_[i].defined() ? out_[i] + g : g;
  }
  /// The inputs as Tensors (sharing their nodes: the gradient's graph reaches them).
  std::vector<Tensor> inputs() const;
  std::vector<Tensor> take() { return std::move(out_); }
 private:
  const std::vector<std::shared_ptr<Node>>& in_;
  std::vector<Tensor> out_;
};

/// Marks an op recorded without a Tensor backward: create_graph through it throws.
struct NoTensorBackward {};

/// Read-only view of the inputs' values inside a backward function.
template <class T> class InputValues {
 public:
  explicit InputValues(const std::vector<std::shared_ptr<Node>>& in) : in_(in) {}
  const Array<T>& operator[](std::size_t i) const { return as<T>(*in_[i]).value; }
  std::size_t size() const { return in_.size(); }
 private:
  const std::vector<std::shared_ptr<Node>>& in_;
};

/// A recorded op: its value, inputs, backward function B(d, g, inputs, y) on arrays and, for create_graph,
/// G(d, g, inputs, y) on Tensors.
template <class T, class B, class G = NoTensorBackward> struct OpNode final : Value<T> {
  B back;
  G backt;
  OpNode(const char* name, Array<T>&& v, std::vector<std::shared_ptr<Node>>&& in, B b, G bt = {})
      : Value<T>(std::move(v)), back(std::move(b)), backt(std::move(bt)) {
    this->op = name;
    this->inputs = std::move(in);
    this->requires_grad = true;
    this->save_versions();  // back() reads the inputs' values and this one: backward checks they did not change
  }
  void backward() override {
    Accumulator<T> d(this->op, this->inputs);
    back(d, as<T>(*this->grad).value, InputValues<T>(this->inputs), this->value);
  }
  std::vector<Tensor> backward_tensors(const Tensor& y, const Tensor& g) override {
    if constexpr (std::is_same_v<G, NoTensorBackward>) {
      return Node::backward_tensors(y, g);
    } else {
      TensorGrads d(this->inputs);
      backt(d, g, d.inputs(), y);
      return d.take();
    }
  }
};

bool any_requires_grad(std::initializer_list<Tensor> inputs);

/// Forward mode: the tangents of an op's inputs, as its tangent rule sees them. t[i] is undefined where input i
/// has no tangent (a zero tangent); at least one is defined.
class Tangents {
 public:
  Tangents(const std::vector<Tensor>& t, const std::vector<Tensor>& x) : t_(t), x_(x) {}
  bool has(std::size_t i) const { return t_[i].defined(); }
  const Tensor& operator[](std::size_t i) const { return t_[i]; }
  /// t[i], or zeros of input i's shape where it has none (for rules that take every tangent, as concat).
  Tensor or_zero(std::size_t i) const { return has(i) ? t_[i] : zeros_like(x_[i]); }
  std::size_t size() const { return t_.size(); }
 private:
  const std::vector<Tensor>& t_;
  const std::vector<Tensor>& x_;
};

/// a + b where both are defined, else the defined one (tangent contributions: undefined means zero).
inline Tensor add_defined(const Tensor& a, const Tensor& b) { return !a.defined() ? b : !b.defined() ? a : a + b; }

/// Marks an op recorded without a tangent rule: a tangent reaching it throws.
struct NoTangentRule {};

/// Forward mode, the slow path of record(): y's tangent from the inputs' by fwd(t, x, y), if any input has one.
template <class It, class J> [[gnu::noinline]] void propagate_tangent(const char* op, const Tensor& y, It first,
                                                                      It last, J& fwd) {
  std::vector<Tensor> t, x(first, last);
  bool any = false;
  for (const Tensor& xi : x) {
    t.emplace_back(xi.node().tangent);
    any |= t.back().defined();
  }
  if (!any) return;
  if constexpr (std::is_same_v<J, NoTangentRule>) {
    (void)fwd;
    throw_no_tangent(op);
  } else {
    Tensor ty;
    {
      DualPause pause;  // the rule's own ops carry no tangent
      ty = fwd(Tangents(t, x), x, y);
    }
    set_tangent(op, y, std::move(ty));
  }
}

// ---- elementwise loops ----------------------------------------------------------------------------------------
// map_n sees the output as rows × `inner` values, and reads operand k's values for row r from column j on at
// p[k] + r·rs[k] + j·cs[k], contiguous for up to `step` values: a full operand (rs = inner, cs = 1), one repeated on
// every row (0, 1: a bias [out] added to [N, out]) or a single value (0, 0), read from a buffer of copies of it
// (step = min(inner, kChunk) then). Other broadcasts get a broadcast copy. So every loop is the same tight loop over
// contiguous arrays, compiled once per op and vectorised, and the common broadcasts cost no copy.
enum class Layout : std::uint8_t { Full, Scalar, Row, Copy };

inline Layout layout_of(const Shape& a, std::size_t size, const Shape& out) {
  if (size == 1) return Layout::Scalar;
  if (a == out) return Layout::Full;
  std::size_t lead = 0;  // a's shape without leading 1s must equal out's last axes
  while (lead < a.size() && a[lead] == 1) ++lead;
  const std::size_t k = a.size() - lead;
  if (k == 0 || k > out.size()) return Layout::Copy;
  for (std::size_t i = 0; i < k; ++i)
    if (a[lead + i] != out[out.size() - k + i]) return Layout::Copy;
  return Layout::Row;
}

/// a == b, for shapes of a few axes (std::equal calls memcmp, which costs more than the loop here).
template <class S> bool same_shape(const S& a, const Shape& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

/// map_n's walk over N operands broadcast to `out` (n > 0 values); see above. The broadcasting case is not
/// inlined: one copy per dtype and N.
template <class T, std::size_t N> struct Broadcast {
  static constexpr std::size_t kChunk = 512;
  Broadcast(const Shape& out, std::size_t n, const std::array<const Array<T>*, N>& xs) {
    if (!std::all_of(xs.begin(), xs.end(), [&](const Array<T>* x) { return same_shape(x->shape(), out); })) {
      broadcast(out, n, xs);
      return;
    }
    inner = step = n;  // no broadcasting (the common case): no layouts to work out
    for (std::size_t k = 0; k < N; ++k) p[k] = xs[k]->data(), rs[k] = n, cs[k] = 1;
  }
  [[gnu::noinline]] void broadcast(const Shape& out, std::size_t n, const std::array<const Array<T>*, N>& xs) {
    for (const Array<T>* x : xs)  // the row period: the size of the first row-repeated operand, else everything
      if (!inner && layout_of(x->shape(), x->size(), out) == Layout::Row) inner = x->size();
    if (!inner) inner = n;
    rows = n / inner, step = inner;
    for (std::size_t k = 0; k < N; ++k) {
      const Array<T>& x = *xs[k];
      Layout l = layout_of(x.shape(), x.size(), out);
      if (l == Layout::Row && x.size() != inner) l = Layout::Copy;  // a second, different row period
      p[k] = x.data(), rs[k] = l == Layout::Row ? 0 : inner, cs[k] = 1;
      if (l == Layout::Copy) {
        copies[k] = std::make_unique<Array<T>>(expand(x, out));
        p[k] = copies[k]->data();
      } else if (l == Layout::Scalar) {
        p[k] = ones[k].data(), rs[k] = cs[k] = 0, step = std::min(inner, kChunk);
      }
    }
    for (std::size_t k = 0; k < N; ++k)  // as many copies of a single value as one chunk reads
      if (p[k] == ones[k].data()) std::fill_n(ones[k].data(), step, xs[k]->data()[0]);
  }
  std::size_t rows = 1, inner = 0, step = 0;
  std::array<const T*, N> p;
  std::array<std::size_t, N> rs, cs;
  std::array<std::unique_ptr<Array<T>>, N> copies;  ///< only where broadcasting needs one
  std::array<std::array<T, kChunk>, N> ones;        ///< copies of single-value operands (left uninitialised else)
};

/// y[i] = f(q₀[i], q₁[i], …) for i < m: the one loop of map_n (y never overlaps the q's).
template <class T, class F, class... P> void map_chunk(T* __restrict y, std::size_t m, F& f, const P*... q) {
  for (std::size_t i = 0; i < m; ++i) y[i] = f(q[i]...);
}

/// Rows lo..hi (or, with one row, its values lo..hi) of map_n's output y.
template <class T, std::size_t N, class F, std::size_t... K>
void map_rows(const Broadcast<T, N>& b, T* y, F& f, std::size_t lo, std::size_t hi, std::index_sequence<K...>) {
  const bool one = b.rows == 1;
  for (std::size_t r = one ? 0 : lo, r1 = one ? 1 : hi; r < r1; ++r)
    for (std::size_t j = one ? lo : 0, j1 = one ? hi : b.inner; j < j1; j += b.step)
      map_chunk(y + r * b.inner + j, std::min(b.step, j1 - j), f, (b.p[K] + r * b.rs[K] + j * b.cs[K])...);
}

/// y[i] = f(a[i]). Large arrays are split over the intra-op threads (autograd/parallel.hpp): f must be pure.
template <class T, class F> Array<T> map(const Array<T>& a, F&& f) {
  Array<T> y = Array<T>::from_shape(a.shape());
  const T* pa = a.data();
  T* py = y.data();
  parallel_for(y.size(), 1, [&](std::size_t b, std::size_t e) { map_chunk(py + b, e - b, f, pa + b); });
  return y;
}

/// y[i] = f(x[i]): float32 batches where f is vectorized, else one scalar call per value.
template <class T, class F> Array<T> map_unary(const Array<T>& x, const F& f) {
  if constexpr (std::is_same_v<T, float> && is_vectorized<F>::value)
    return map_batches(x, f);
  else
    return map(x, [&f](T v) { return static_cast<T>(f(v)); });
}

/// y[i] = f(x₀[i], x₁[i], …) over `shape`, every operand broadcast to it. Large outputs are split over the
/// intra-op threads (whole rows, or ranges of one row): each y[i] is computed as on one thread.
template <class T, class F, class... A> Array<T> map_n(const Shape& shape, F&& f, const A&... xs) {
  Array<T> y = Array<T>::from_shape(shape);
  const std::size_t n = y.size();
  if (n == 0) return y;
  constexpr std::size_t N = sizeof...(A);
  const Broadcast<T, N> b(shape, n, {&xs...});
  T* py = y.data();
  parallel_for(b.rows == 1 ? b.inner : b.rows, b.rows == 1 ? 1 : b.inner, [&](std::size_t lo, std::size_t hi) {
    map_rows(b, py, f, lo, hi, std::make_index_sequence<N>());
  });
  return y;
}
}  // namespace detail

/// Records `value` as the result of op `name` on the inputs [first, last) with backward function
/// back(d, g, x, y) (x: InputValues) and, optionally, the Tensor backward backt(d, g, x, y) (x: the inputs as
/// Tensors) that create_graph uses, and the tangent rule fwd(t, x, y) -> Tensor (t: detail::Tangents, x: the
/// inputs, y: the output; undefined: a zero tangent) that forward mode uses. Records nothing when no input needs
/// a gradient or under NoGradGuard (forward mode still runs: it does not depend on grad mode, as in torch).
template <class T, class It, class B, class G = detail::NoTensorBackward, class J = detail::NoTangentRule>
Tensor record_n(const char* name, Array<T>&& value, It first, It last, B&& back, G&& backt = {}, J&& fwd = {}) {
  if (detail::g_watch.anomaly && !detail::all_finite(value))
    detail::check_forward(name, Tensor(Array<T>(value)), std::vector<Tensor>(first, last));
  bool needs = false;
  for (It t = first; t != last && !needs; ++t) needs = t->requires_grad();
  Tensor y;
  if (!grad_enabled() || !needs) {
    auto n = detail::make_node<detail::Value<T>>(std::move(value));
    n->op = name;
    y = Tensor(std::move(n));
  } else {
    std::vector<std::shared_ptr<detail::Node>> in;
    in.reserve(static_cast<std::size_t>(std::distance(first, last)));
    for (It t = first; t != last; ++t) in.push_back(t->node_ptr());
    y = Tensor(detail::make_node<detail::OpNode<T, std::decay_t<B>, std::decay_t<G>>>(
        name, std::move(value), std::move(in), std::forward<B>(back), std::forward<G>(backt)));
  }
  if (__builtin_expect(detail::g_watch.dual != nullptr, 0)) detail::propagate_tangent(name, y, first, last, fwd);
  return y;
}

/// Same, for inputs listed in braces: record<T>("mul", y, {a, b}, back, backt, fwd).
template <class T, class B, class G = detail::NoTensorBackward, class J = detail::NoTangentRule>
Tensor record(const char* name, Array<T>&& value, std::initializer_list<Tensor> inputs, B&& back, G&& backt = {},
              J&& fwd = {}) {
  return record_n<T>(name, std::move(value), inputs.begin(), inputs.end(), std::forward<B>(back),
                     std::forward<G>(backt), std::forward<J>(fwd));
}
/// Elementwise y = f(x), with ∂L/∂x = dx(g, x, y) per element; dx is also called with Tensors (create_graph).
template <class F, class DX> Tensor unary(const char* name, const Tensor& x, F f, DX dx) {
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor y = record<T>(name, detail::map_unary<T>(x.data<T>(), f), {x},
                         [dx](auto& d, const Array<T>& g, const auto& in, const Array<T>& y) {
                           d(0, detail::map_n<T>(g.shape(), [&dx](T gi, T xi, T yi) { return static_cast<T>(dx(gi, xi, yi)); },
                                                 g, in[0], y));
                         },
                         [dx](auto& d, const Tensor& g, const auto& x, const Tensor& y) { d(0, dx(g, x[0], y)); },
                         // ẏ = ∂y/∂x ⊙ ẋ: the derivative with g = ẋ (a diagonal Jacobian)
                         [dx](const auto& t, const auto& x, const Tensor& y) { return dx(t[0], x[0], y); });
    y.node().elementwise = true;
    return y;
  });
}

/// Elementwise y = f(a, b) with numpy broadcasting, ∂L/∂a = da(g, a, b, y) and ∂L/∂b = db(g, a, b, y) per
/// element of the output (the engine sums them back to a's and b's shapes); da and db are also called with
/// Tensors (create_graph).
template <class F, class DA, class DB>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, F f, DA da, DB db) {
  detail::check_same_dtype(name, a, b);
  const Shape out = detail::broadcast_shapes(name, a.shape(), b.shape());
  return detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = detail::map_n<T>(out, [&f](T u, T v) { return static_cast<T>(f(u, v)); }, a.data<T>(), b.data<T>());
    Tensor r = record<T>(name, std::move(y), {a, b},
                         [da, db](auto& d, const Array<T>& g, const auto& in, const Array<T>& y) {
                           auto grad = [&](const auto& fn) {
                             return detail::map_n<T>(
                                 g.shape(), [&fn](T gi, T u, T v, T yi) { return static_cast<T>(fn(gi, u, v, yi)); },
                                 g, in[0], in[1], y);
                           };
                           if (d.needs(0)) d(0, grad(da));
                           if (d.needs(1)) d(1, grad(db));
                         },
                         [da, db](auto& d, const Tensor& g, const auto& x, const Tensor& y) {
                           if (d.needs(0)) d(0, da(g, x[0], x[1], y));
                           if (d.needs(1)) d(1, db(g, x[0], x[1], y));
                         },
                         // ẏ = ∂y/∂a ⊙ ȧ + ∂y/∂b ⊙ ḃ: each derivative with g = the tangent (diagonal Jacobians)
                         [da, db](const auto& t, const auto& x, const Tensor& y) {
                           return detail::add_defined(t.has(0) ? da(t[0], x[0], x[1], y) : Tensor(),
                                                      t.has(1) ? db(t[1], x[0], x[1], y) : Tensor());
                         });
    r.node().elementwise = true;
    return r;
  });
}

}  // namespace chainrule
