#pragma once
// Tensor: a cheap, shared handle to one node of the tape. A node holds its value (an xt::xarray of float or
// double), the node's gradient once backward has reached it, and, for results of ops, the inputs and the
// backward function that sends a gradient on to them (autograd/function.hpp).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>

#include "allocator.hpp"
#include "hooks.hpp"

namespace chainrule {

/// Element type of a tensor. float32 is the default, as in torch and Keras; gradcheck works in float64.
enum class Dtype : std::uint8_t { Float32, Float64 };
/// Shorthands for the two dtypes (as torch::kFloat32).
///@{
inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
///@}
/// "float32" or "float64".
const char* dtype_name(Dtype d);
/// The Dtype of a C++ element type (float or double).
///@{
template <class T> constexpr Dtype dtype_of();
template <> constexpr Dtype dtype_of<float>() { return Dtype::Float32; }
template <> constexpr Dtype dtype_of<double>() { return Dtype::Float64; }
///@}

/// Dense, row-major; buffers from the caching allocator (autograd/allocator.hpp).
template <class T> using Array = xt::xarray<T, xt::layout_type::row_major, detail::BufferAllocator<T>>;
using Shape = xt::dynamic_shape<std::size_t>;             ///< small-vector shape, as xarray uses
std::string shape_str(const Shape& s);                    ///< "[32,784]"

class Tensor;

namespace detail {
struct TensorHooks;
/// Versions of the inputs an op's backward reads, taken when it was recorded (torch's saved-variable versions).
struct SavedVersions {
  std::uint32_t in[3] = {};               ///< inputs 0-2
  std::unique_ptr<std::uint32_t[]> more;  ///< inputs 3.. (concat of many tensors)
  bool active = false;                    ///< set by save(): nodes that read no input values check nothing
};

/// One vertex of the tape. Leaves have no inputs; op results override backward().
struct Node {
  Dtype dtype;
  bool requires_grad = false;
  bool retains_grad = false;       ///< keep grad on a non-leaf after backward (Tensor::retain_grad)
  bool freed = false;              ///< backward already ran without retain_graph: saved state is gone
  bool elementwise = false;        ///< made by unary()/binary(): ∂y/∂x is diagonal (the chain-rule trace shows it)
  /// matmul, matmul_t, affine: y is linear in each input, so each gradient its recorded backward returns is one
  /// product (a matmul_t, or a sum for affine's bias) and nothing else: forward over reverse, reading a gradient
  /// only for its tangent, may skip the product's value (Watch::tangent_only, autograd/engine.cpp).
  bool bilinear = false;
  std::uint32_t version = 0;       ///< bumped by every write access to the value (Tensor::data<T>() non-const)
  const char* op = "leaf";         ///< static name of the op that made this node
  std::string label;               ///< user's name for the node ("w5"); empty if none
  std::vector<std::shared_ptr<Node>> inputs;
  std::shared_ptr<Node> grad;      ///< leaf node holding dL/d(this); null until backward reaches it
  std::shared_ptr<Node> tangent;   ///< forward mode: d(this)/dε at the active dual level; null outside one
  std::uint64_t mark = 0;          ///< visit stamp of the topological walk
  SavedVersions saved;             ///< the inputs' versions when recorded; backward refuses to run if one moved
  std::unique_ptr<TensorHooks> hooks;  ///< Tensor::register_hook; null unless one was registered

  explicit Node(Dtype d) : dtype(d) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node();                 ///< releases long input chains iteratively (no recursion)
  virtual void backward() {}       ///< adds grad's contributions into the inputs' grads
  /// The differentiable backward (create_graph): ∂L/∂inputs from g = ∂L/∂y, computed with Tensor ops (which the
  /// engine records, as it runs this with grad mode on), one tensor per input, undefined where the input needs no
  /// gradient; each of the output's shape or the input's (the engine sums it to the input's shape, differentiably).
  /// y is this node. The default throws "<op>: backward is not differentiable (create_graph)".
  virtual std::vector<Tensor> backward_tensors(const Tensor& y, const Tensor& g);
  bool is_leaf() const { return inputs.empty() && !freed; }
  /// Remembers the inputs' versions (an op's constructor calls it: its backward reads them and its own value).
  void save_versions() {
    saved.active = true;
    const std::size_t n = inputs.size();
    for (std::size_t i = 0; i < n && i < 3; ++i) saved.in[i] = inputs[i]->version;
    if (n > 3) {
      saved.more.reset(new std::uint32_t[n - 3]);
      for (std::size_t i = 3; i < n; ++i) saved.more[i - 3] = inputs[i]->version;
    }
  }
  /// Before backward: throws, as torch, if the node's value or an input's was modified in place since it was
  /// recorded. One integer compare per saved value.
  void check_versions() const {
    if (!saved.active) return;
    bool same = version == 0;
    const std::size_t n = inputs.size();
    for (std::size_t i = 0; i < n && i < 3; ++i) same &= inputs[i]->version == saved.in[i];
    for (std::size_t i = 3; i < n; ++i) same &= inputs[i]->version == saved.more[i - 3];
    if (!same) throw_modified();
  }
  [[noreturn]] void throw_modified() const;
};

template <class T> struct Value : Node {
  Array<T> value;
  /// flatten: the xarray move (three svector swaps) is inlined here, as GCC did on its own before the op files
  /// grew the Tensor backward instantiations (callgrind, train case a: 2.8% more instructions without it).
  [[gnu::flatten]] explicit Value(Array<T>&& v) : Node(dtype_of<T>()), value(std::move(v)) {}
  explicit Value(const Array<T>& v) : Node(dtype_of<T>()), value(v) {}
};

template <class T> Value<T>& as(Node& n) { return static_cast<Value<T>&>(n); }
template <class T> const Value<T>& as(const Node& n) { return static_cast<const Value<T>&>(n); }

/// Calls f(T{}) with T = float or double, the element type named by d.
template <class F> decltype(auto) dispatch(Dtype d, F&& f) {
  if (d == Dtype::Float32) return f(float{});
  return f(double{});
}
}  // namespace detail

/// How a new tensor is made, builder style as in libtorch: TensorOptions().dtype(kFloat64).requires_grad(true).
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(Dtype d) : dtype_(d) {}  ///< NOLINT: implicit, so a Dtype can stand for options
  /// These options with another dtype.
  TensorOptions dtype(Dtype d) const { auto o = *this; o.dtype_ = d; return o; }
  /// These options with requires_grad set to r.
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  /// The element type.
  Dtype dtype() const { return dtype_; }
  /// Whether the tensor is a leaf that backward computes a gradient for.
  bool requires_grad() const { return requires_grad_; }
 private:
  Dtype dtype_ = kFloat32;
  bool requires_grad_ = false;
};

/// How backward runs (torch's retain_graph and create_graph).
struct BackwardOptions {
  /// Keep saved state so backward can run through the graph again; unset: as create_graph (torch's default).
  std::optional<bool> retain_graph{};
  /// Record the backward pass itself: the gradients get a grad_fn and can be differentiated again. As in torch,
  /// a leaf's .grad then refers to the leaf through its graph (a reference cycle): clear it with
  /// zero_grad(true) when done, or use chainrule::grad(), which leaves .grad alone.
  bool create_graph = false;
};
/// y.backward(retain_graph): keep the graph for another backward.
inline constexpr BackwardOptions retain_graph{true};

/// A cheap, shared handle to one node of the tape: a float32 or float64 array, its gradient and how it was made.
class Tensor {
 public:
  Tensor() = default;  ///< undefined: defined() is false
  /// A handle to an existing node (ops make their results this way).
  explicit Tensor(std::shared_ptr<detail::Node> n) : node_(std::move(n)) {}
  /// A leaf holding value; requires_grad marks it as a parameter.
  template <class T> explicit Tensor(Array<T> value, bool requires_grad = false)
      : node_(detail::make_node<detail::Value<T>>(std::move(value))) { node_->requires_grad = requires_grad; }

  /// False for a default-constructed handle (no node).
  bool defined() const { return node_ != nullptr; }
  /// The element type.
  Dtype dtype() const { return node().dtype; }
  /// The shape, one size per axis (empty for a 0-D tensor).
  const Shape& shape() const;
  /// The number of axes.
  std::size_t dim() const { return shape().size(); }
  /// The number of elements (the product of the shape).
  std::size_t numel() const;
  /// Size along one axis; negative axes count from the end.
  std::size_t size(long axis) const;

  /// Whether backward computes (or sends on) a gradient for this tensor.
  bool requires_grad() const { return node().requires_grad; }
  /// Marks a leaf as a parameter whose gradient backward should compute.
  Tensor& requires_grad_(bool r = true);
  /// True for inputs and parameters: tensors not made by a recorded op.
  bool is_leaf() const { return node().is_leaf(); }
  /// Keep this non-leaf tensor's gradient after backward (leaves always keep theirs).
  Tensor& retain_grad();
  /// dL/d(this) accumulated by backward, an undefined tensor before. Shares storage with the node.
  Tensor grad() const;
  /// Clears the accumulated gradient: sets it to zero, keeping the buffer, or with set_to_none drops it (grad()
  /// is then undefined until the next backward, which writes it afresh instead of adding to zeros).
  void zero_grad(bool set_to_none = false);

  /// Backward from a scalar: seeds dL/dL = 1.
  void backward(BackwardOptions o = {}) const;
  /// Backward from any tensor with an explicit upstream gradient of the same shape.
  void backward(const Tensor& gradient, BackwardOptions o = {}) const;

  /// The single element as a double (numel must be 1).
  double item() const;
  /// The single element converted to T (numel must be 1).
  template <class T> T item() const { return static_cast<T>(item()); }
  /// Same values, cut from the tape: no gradient flows through the result.
  Tensor detach() const;
  /// Copy converted to another dtype; differentiable (the gradient is converted back).
  Tensor to(Dtype d) const;
  /// In place: this tensor's values ← src's, converted to this dtype (torch's copy_); same shape, else
  /// std::invalid_argument "copy_: source [2,3] and destination [3,2] differ in shape". Not recorded on the tape:
  /// for loading weights. Returns *this.
  Tensor& copy_(const Tensor& src);

  /// The value array; throws if T is not this tensor's dtype. Through a non-const handle it counts as an in-place
  /// write: it bumps the version, so a backward that needs the old values refuses to run. Read through a const
  /// handle (std::as_const(t).data<T>(), item()) or a temporary one (x.grad().data<T>()) to leave it unchanged.
  template <class T> const Array<T>& data() const& { return detail::as<T>(checked<T>()).value; }
  /// The value array of a temporary handle (not counted as a write).
  template <class T> const Array<T>& data() && { return detail::as<T>(checked<T>()).value; }
  /// The value array for writing: bumps the version (see above).
  template <class T> Array<T>& data() & {
    detail::Node& n = checked<T>();
    ++n.version;
    return detail::as<T>(n).value;
  }
  /// How many times the value was written in place (torch's _version).
  std::uint32_t version() const { return node().version; }

  /// Calls fn(grad) each time backward computes this tensor's gradient, in registration order; a returned
  /// (defined) tensor replaces the gradient, as torch's Tensor::register_hook. A leaf's hooks see the gradient
  /// of the current backward call, before it is added into grad(). fn returns Tensor or void.
  template <class F> RemovableHandle register_hook(F&& fn) const {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const Tensor&>>)
      return add_hook([f = std::forward<F>(fn)](const Tensor& g) mutable { f(g); return Tensor(); });
    else
      return add_hook(std::function<Tensor(const Tensor&)>(std::forward<F>(fn)));
  }

  /// Calls fn(*this) when backward has accumulated this leaf's gradient into grad(), which is then final for that
  /// backward call (torch's register_post_accumulate_grad_hook). Leaves only; chainrule::grad, which leaves .grad
  /// alone, does not call it. Data parallelism starts each bucket's allreduce from here.
  RemovableHandle register_post_accumulate_grad_hook(std::function<void(const Tensor&)> fn) const;

  /// Name shown by printing, traces and graph export.
  const std::string& label() const { return node().label; }
  /// Sets the name shown by printing, traces and graph export; returns *this.
  Tensor& label(std::string name) { node().label = std::move(name); return *this; }
  /// Name of the op that produced this tensor ("leaf" for inputs and parameters).
  const char* op() const { return node().op; }

  /// The tape node (throws on an undefined tensor).
  detail::Node& node() const;
  /// The shared pointer to the tape node (null if undefined).
  const std::shared_ptr<detail::Node>& node_ptr() const { return node_; }
  /// True when both handles refer to the same node.
  bool same(const Tensor& o) const { return node_ == o.node_; }

 private:
  template <class T> detail::Node& checked() const {
    auto& n = node();
    if (n.dtype != dtype_of<T>())
      throw std::invalid_argument(std::string("Tensor::data: tensor is ") + dtype_name(n.dtype) +
                                  ", asked for " + dtype_name(dtype_of<T>()));
    return n;
  }
  RemovableHandle add_hook(std::function<Tensor(const Tensor&)> fn) const;
  std::shared_ptr<detail::Node> node_;
};

/// Options of chainrule::grad, as torch.autograd.grad's arguments.
struct GradOptions {
  std::vector<Tensor> grad_outputs{};  ///< one per output (its shape): the v of Jᵀv; empty: 1 for scalar outputs
  std::optional<bool> retain_graph{};  ///< unset: as create_graph
  bool create_graph = false;         ///< the results have a graph, to differentiate again
  bool allow_unused = false;         ///< an input the outputs do not depend on gives an undefined tensor, not an error
};
/// ∂(Σᵢ ⟨outputsᵢ, grad_outputsᵢ⟩)/∂inputs: one tensor per input, as torch.autograd.grad. No .grad is read or
/// changed.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, GradOptions o = {});

namespace detail {
/// A node's tensor hooks; for a leaf during backward, also its gradient from earlier calls, set aside so that
/// the hooks see this call's gradient alone (engine: stash_leaf_grad, run_tensor_hooks, restore_leaf_grad).
struct TensorHooks {
  using Hook = std::function<Tensor(const Tensor&)>;
  using PostHook = std::function<void(const Tensor&)>;
  std::shared_ptr<HookList<Hook>> list = std::make_shared<HookList<Hook>>();
  std::shared_ptr<HookList<PostHook>> post = std::make_shared<HookList<PostHook>>();  ///< post-accumulate (leaves)
  std::shared_ptr<Node> earlier;
  bool stashed = false;
};
/// Calls a leaf's post-accumulate-grad hooks (engine: after the walk reaches the leaf, when backward fills .grad).
void run_post_accumulate_hooks(const std::shared_ptr<Node>& n);
}  // namespace detail

/// Prints the tensor (values, shape, dtype, grad_fn) or the dtype's name.
///@{
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, Dtype d);
///@}

// ---- factories ----------------------------------------------------------------------------------------------
/// From nested initializer lists: tensor({{1, 2}, {3, 4}}, kFloat64). (1-D takes a vector, so that {{1}, {2}}
/// is unambiguously 2-D; a literal whose innermost lists all hold one value is ambiguous above 2-D: use from_vector.)
///@{
Tensor tensor(double v, TensorOptions o = {});
Tensor tensor(const std::vector<double>& v, TensorOptions o = {});
Tensor tensor(xt::nested_initializer_list_t<double, 2> v, TensorOptions o = {});
Tensor tensor(xt::nested_initializer_list_t<double, 3> v, TensorOptions o = {});
Tensor tensor(xt::nested_initializer_list_t<double, 4> v, TensorOptions o = {});
///@}
/// From any xtensor expression; the dtype follows the expression's value type (float or double).
template <class E> Tensor from_xt(const xt::xexpression<E>& e, bool requires_grad = false) {
  using T = typename E::value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "chainrule tensors are float or double");
  return Tensor(Array<T>(e), requires_grad);
}
/// From a flat vector of values and a shape.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions o = {});
/// Filled with 0, 1 or value (the _like forms: the shape and dtype of t).
///@{
Tensor zeros(const Shape& shape, TensorOptions o = {});
Tensor ones(const Shape& shape, TensorOptions o = {});
Tensor full(const Shape& shape, double value, TensorOptions o = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
///@}
/// start, start+step, ... < end (1-D).
///@{
Tensor arange(double start, double end, double step = 1, TensorOptions o = {});
Tensor arange(double end, TensorOptions o = {});
///@}

/// Seeds the thread's generator used by randn/rand (and nn initializers): same seed, same numbers.
void manual_seed(std::uint64_t seed);
/// The next number from the thread's generator (what randn and rand draw from).
std::uint64_t random_u64();
/// Normal(mean, std) samples.
Tensor randn(const Shape& shape, TensorOptions o = {}, double mean = 0, double std = 1);
/// Uniform[low, high) samples.
Tensor rand(const Shape& shape, TensorOptions o = {}, double low = 0, double high = 1);

// ---- recording control --------------------------------------------------------------------------------------
/// True while ops record onto the tape (per thread).
bool grad_enabled();
/// RAII: sets grad mode to `enabled` while it lives (per thread), like torch::AutoGradMode.
class AutoGradMode {
 public:
  /// Sets grad mode to enabled until destroyed.
  explicit AutoGradMode(bool enabled);
  ~AutoGradMode();
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;
 private:
  bool prev_;
};
/// RAII: no op records while it lives (per thread), like torch::NoGradGuard.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool prev_;
};

// ---- floating point -----------------------------------------------------------------------------------------
/// Flushes subnormal numbers to zero on the calling thread, like torch.set_flush_denormal: results below
/// 1.2·10⁻³⁸ (float) or 2.2·10⁻³⁰⁸ (double) become 0, and such inputs count as 0 (x86's FTZ and DAZ flags). Off by
/// default, as in torch. Arithmetic on subnormals is slow: Adam's first moments of weights whose gradient stays 0
/// (always-black pixels) decay into them, and the optimizer step then takes twice as long. Returns false, changing
/// nothing, on a CPU without these flags. Threads started by OpenBLAS keep their own setting.
bool set_flush_denormal(bool on);
/// RAII: flushes subnormals to zero on the calling thread while it lives if `on` (else changes nothing), then
/// restores the thread's previous mode. Model::fit holds one (FitOptions::flush_denormal). The intra-op threads
/// run each task in the calling thread's mode (autograd/parallel.hpp).
class FlushDenormalGuard {
 public:
  explicit FlushDenormalGuard(bool on);  ///< flush while alive if `on`
  ~FlushDenormalGuard();  ///< restores the previous mode
  FlushDenormalGuard(const FlushDenormalGuard&) = delete;
  FlushDenormalGuard& operator=(const FlushDenormalGuard&) = delete;
 private:
  unsigned saved_ = 0;  ///< the thread's MXCSR before
};

}  // namespace chainrule
