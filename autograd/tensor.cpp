// Tensor handle: accessors, backward entry points, factories, seeded random numbers, printing.
#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "function.hpp"
#include "ops.hpp"

namespace chainrule {

const char* dtype_name(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }
std::ostream& operator<<(std::ostream& os, Dtype d) { return os << dtype_name(d); }

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

detail::Node& Tensor::node() const {
  if (!node_) throw std::logic_error("Tensor: use of an undefined tensor (default-constructed or an absent grad)");
  return *node_;
}

const Shape& Tensor::shape() const {
  const auto& n = node();
  return n.dtype == kFloat32 ? detail::as<float>(n).value.shape() : detail::as<double>(n).value.shape();
}

std::size_t Tensor::numel() const {
  const auto& n = node();
  return n.dtype == kFloat32 ? detail::as<float>(n).value.size() : detail::as<double>(n).value.size();
}

std::size_t Tensor::size(long axis) const {
  const long d = static_cast<long>(dim());
  const long a = axis < 0 ? axis + d : axis;
  if (a < 0 || a >= d)
    throw std::out_of_range("Tensor::size: axis " + std::to_string(axis) + " out of range for shape " +
                            shape_str(shape()));
  return shape()[static_cast<std::size_t>(a)];
}

Tensor& Tensor::requires_grad_(bool r) {
  if (!is_leaf())
    throw std::logic_error(std::string("requires_grad_: only leaves can be marked; this tensor comes from '") +
                           op() + "' (use detach() first)");
  node().requires_grad = r;
  return *this;
}

Tensor& Tensor::retain_grad() {
  node().retains_grad = true;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(node().grad); }

void Tensor::zero_grad(bool set_to_none) {
  auto& g = node().grad;
  if (set_to_none) g.reset();
  if (!g) return;
  detail::dispatch(g->dtype, [&](auto tag) { detail::as<decltype(tag)>(*g).value.fill(0); });
}

void Tensor::backward(BackwardOptions o) const {
  if (numel() != 1)
    throw std::logic_error("backward: tensor of shape " + shape_str(shape()) +
                           " is not a scalar; pass its gradient explicitly: t.backward(gradient)");
  if (o.create_graph) return detail::run_backward(node_, ones_like(*this), o);
  detail::dispatch(dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> seed = xt::ones<T>(shape());
    if constexpr (std::is_same_v<T, float>) detail::run_backward(node_, &seed, nullptr, o);
    else detail::run_backward(node_, nullptr, &seed, o);
  });
}

void Tensor::backward(const Tensor& gradient, BackwardOptions o) const {
  if (gradient.dtype() != dtype() || gradient.shape() != shape())
    throw std::invalid_argument("backward: gradient is " + std::string(dtype_name(gradient.dtype())) + " " +
                                shape_str(gradient.shape()) + " but the tensor is " + dtype_name(dtype()) + " " +
                                shape_str(shape()));
  if (o.create_graph) return detail::run_backward(node_, gradient, o);
  detail::dispatch(dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> seed = gradient.data<T>();
    if constexpr (std::is_same_v<T, float>) detail::run_backward(node_, &seed, nullptr, o);
    else detail::run_backward(node_, nullptr, &seed, o);
  });
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::logic_error("item: tensor of shape " + shape_str(shape()) + " has " + std::to_string(numel()) +
                           " elements, not 1");
  return detail::dispatch(dtype(), [&](auto tag) { return static_cast<double>(*data<decltype(tag)>().begin()); });
}

Tensor Tensor::detach() const {
  // Shares nothing with the tape; the value is copied so later in-place updates of one do not touch the other.
  return detail::dispatch(dtype(), [&](auto tag) { return Tensor(Array<decltype(tag)>(data<decltype(tag)>())); });
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.shape() != shape())
    throw std::invalid_argument("copy_: source " + shape_str(src.shape()) + " and destination " + shape_str(shape()) +
                                " differ in shape");
  const Tensor s = src.to(dtype());
  detail::dispatch(dtype(), [&](auto tag) {  // element by element into the existing storage: views of it stay valid
    using T = decltype(tag);
    const Array<T>& from = s.data<T>();
    std::copy(from.data(), from.data() + from.size(), data<T>().data());
  });
  return *this;
}

// y = convert(x)        ∂L/∂x = convert_back(g)        ẏ = convert(ẋ)
Tensor Tensor::to(Dtype d) const {
  if (d == dtype()) return *this;
  if (__builtin_expect(detail::g_watch.dual != nullptr, 0) && node().tangent) {
    Tensor y, t;
    {
      detail::DualPause pause;
      y = to(d), t = Tensor(node().tangent).to(d);
    }
    detail::set_tangent("to", y, t);
    return y;
  }
  auto convert = [](const Tensor& src, auto to_tag) {
    using To = decltype(to_tag);
    return detail::dispatch(src.dtype(), [&](auto from_tag) -> Array<To> {
      return xt::cast<To>(src.data<decltype(from_tag)>());
    });
  };
  return detail::dispatch(d, [&](auto to_tag) {
    using To = decltype(to_tag);
    Array<To> y = convert(*this, to_tag);
    if (detail::g_watch.anomaly && !detail::all_finite(y))  // float64 → float32 overflows to ±inf above 3.4e38
      detail::check_forward("to", Tensor(Array<To>(y)), {*this});
    if (!grad_enabled() || !requires_grad()) return Tensor(std::move(y));
    // The input has the other dtype, so this op cannot use Accumulator<To>: it converts g itself.
    struct CastNode final : detail::Value<To> {
      explicit CastNode(Array<To> v) : detail::Value<To>(std::move(v)) {}
      void backward() override {
        auto& in = *this->inputs[0];
        const Array<To>& g = detail::as<To>(*this->grad).value;
        detail::dispatch(in.dtype, [&](auto from_tag) {
          using From = decltype(from_tag);
          detail::accumulate<From>("to", 0, in, Array<From>(xt::cast<From>(g)));
        });
      }
      std::vector<Tensor> backward_tensors(const Tensor&, const Tensor& g) override {
        return {g.to(this->inputs[0]->dtype)};
      }
    };
    auto n = std::make_shared<CastNode>(std::move(y));
    n->op = "to";
    n->inputs.push_back(node_);
    n->requires_grad = true;
    return Tensor(std::move(n));
  });
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, GradOptions o) {
  if (outputs.empty()) throw std::invalid_argument("grad: no outputs given");
  if (!o.grad_outputs.empty() && o.grad_outputs.size() != outputs.size())
    throw std::invalid_argument("grad: " + std::to_string(o.grad_outputs.size()) + " grad_outputs for " +
                                std::to_string(outputs.size()) + " outputs");
  std::vector<Tensor> seeds;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& y = outputs[i];
    if (!y.requires_grad())
      throw std::logic_error("grad: output #" + std::to_string(i) + " does not require grad");
    if (o.grad_outputs.empty() || !o.grad_outputs[i].defined()) {
      if (y.numel() != 1)
        throw std::logic_error("grad: output #" + std::to_string(i) + " has shape " + shape_str(y.shape()) +
                               "; pass grad_outputs for outputs that are not scalars");
      seeds.push_back(ones_like(y));
    } else {
      const Tensor& v = o.grad_outputs[i];
      if (v.dtype() != y.dtype() || v.shape() != y.shape())
        throw std::invalid_argument("grad: grad_outputs #" + std::to_string(i) + " is " + dtype_name(v.dtype()) +
                                    " " + shape_str(v.shape()) + " but output #" + std::to_string(i) + " is " +
                                    dtype_name(y.dtype()) + " " + shape_str(y.shape()));
      seeds.push_back(v);
    }
  }
  const BackwardOptions bo{o.retain_graph, o.create_graph};
  if (outputs.size() == 1) return detail::run_grad(outputs[0], seeds[0], inputs, bo, o.allow_unused);
  // Several outputs: one walk from Σᵢ ⟨yᵢ, vᵢ⟩, whose gradient is Σᵢ Jᵢᵀvᵢ.
  Tensor root;
  {
    AutoGradMode on(true);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      Tensor t = sum(outputs[i] * seeds[i]);
      root = root.defined() ? root + t : t;
    }
  }
  return detail::run_grad(root, ones_like(root), inputs, bo, o.allow_unused);
}

// ---- factories ----------------------------------------------------------------------------------------------
namespace {
Tensor make(Array<double>&& v, TensorOptions o) {
  if (o.dtype() == kFloat64) return Tensor(std::move(v), o.requires_grad());
  return Tensor(Array<float>(xt::cast<float>(v)), o.requires_grad());
}
}  // namespace

Tensor tensor(double v, TensorOptions o) { return make(Array<double>(v), o); }
Tensor tensor(const std::vector<double>& v, TensorOptions o) { return from_vector(v, {v.size()}, o); }
Tensor tensor(xt::nested_initializer_list_t<double, 2> v, TensorOptions o) { return make(Array<double>(v), o); }
Tensor tensor(xt::nested_initializer_list_t<double, 3> v, TensorOptions o) { return make(Array<double>(v), o); }
Tensor tensor(xt::nested_initializer_list_t<double, 4> v, TensorOptions o) { return make(Array<double>(v), o); }

Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions o) {
  std::size_t n = 1;
  for (auto s : shape) n *= s;
  if (n != values.size())
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                                shape_str(shape) + " (" + std::to_string(n) + " elements)");
  Array<double> a = Array<double>::from_shape(shape);
  std::copy(values.begin(), values.end(), a.begin());
  return make(std::move(a), o);
}

Tensor full(const Shape& shape, double value, TensorOptions o) {
  return detail::dispatch(o.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> a = Array<T>::from_shape(shape);
    a.fill(static_cast<T>(value));
    return Tensor(std::move(a), o.requires_grad());
  });
}
Tensor zeros(const Shape& shape, TensorOptions o) { return full(shape, 0, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return full(shape, 1, o); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }

Tensor arange(double start, double end, double step, TensorOptions o) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    std::ostringstream s;
    s << "arange: need finite start/end and a nonzero step, got start " << start << ", end " << end << ", step "
      << step;
    throw std::invalid_argument(s.str());
  }
  double count = std::ceil((end - start) / step);
  if (count > 0x1p48) {  // converting more than size_t holds would be undefined; 2^48 elements exceed any memory
    std::ostringstream s;
    s << "arange: [" << start << ", " << end << ") in steps of " << step << " has " << count << " elements, too many";
    throw std::invalid_argument(s.str());
  }
  std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  Array<double> a = Array<double>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) a(i) = start + static_cast<double>(i) * step;
  return make(std::move(a), o);
}
Tensor arange(double end, TensorOptions o) { return arange(0, end, 1, o); }

// ---- random -------------------------------------------------------------------------------------------------
namespace {
std::mt19937_64& generator() {
  thread_local std::mt19937_64 g(0x5eed);
  return g;
}
template <class Dist> Tensor sample(const Shape& shape, TensorOptions o, Dist dist) {
  Array<double> a = Array<double>::from_shape(shape);
  for (auto& v : a) v = dist(generator());
  return make(std::move(a), o);
}
}  // namespace

void manual_seed(std::uint64_t seed) { generator().seed(seed); }
std::uint64_t random_u64() { return generator()(); }

Tensor randn(const Shape& shape, TensorOptions o, double mean, double std) {
  if (!(std >= 0)) throw std::invalid_argument("randn: std must be >= 0, got " + std::to_string(std));
  return sample(shape, o, std::normal_distribution<double>(mean, std));
}
Tensor rand(const Shape& shape, TensorOptions o, double low, double high) {
  if (!(low < high)) {
    std::ostringstream s;
    s << "rand: need low < high, got low " << low << ", high " << high;
    throw std::invalid_argument(s.str());
  }
  return sample(shape, o, std::uniform_real_distribution<double>(low, high));
}

// ---- printing -----------------------------------------------------------------------------------------------
namespace {
// torch-like: tensor([[ 1.0000, -2.0000], ...], dtype=float64, requires_grad=true): values right-aligned to a
// common width, long axes shown as 3 items per end.
template <class T> void print_array(std::ostream& os, const Array<T>& a, std::size_t axis, std::size_t offset,
                                    std::size_t indent, int width) {
  const auto& s = a.shape();
  if (s.empty()) { os << std::setw(0) << a(); return; }
  const std::size_t n = s[axis];
  std::size_t stride = 1;
  for (std::size_t i = axis + 1; i < s.size(); ++i) stride *= s[i];
  const bool cut = n > 6;
  os << "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (cut && i == 3) {
      os << (axis + 1 == s.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - 3;
    }
    if (axis + 1 == s.size()) os << std::setw(width) << a.data()[offset + i];
    else print_array(os, a, axis + 1, offset + i * stride, indent + 1, width);
    if (i + 1 < n) os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::ostringstream s;
  s << std::fixed << std::setprecision(4);
  detail::dispatch(t.dtype(), [&](auto tag) {
    const auto& a = t.data<decltype(tag)>();
    int width = 0;
    for (const auto& v : a) {
      std::ostringstream one;
      one << std::fixed << std::setprecision(4) << v;
      width = std::max(width, static_cast<int>(one.str().size()));
    }
    print_array(s, a, 0, 0, 7, width);
  });
  os << "tensor(" << s.str();
  if (t.dtype() != kFloat32) os << ", dtype=" << t.dtype();
  if (!t.is_leaf()) os << ", grad_fn=<" << t.op() << ">";
  else if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

bool set_flush_denormal(bool on) {
#if defined(__SSE2__)
  constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;  // MXCSR bits 15 (FTZ) and 6 (DAZ)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? csr | kFlushToZero | kDenormalsAreZero : csr & ~(kFlushToZero | kDenormalsAreZero));
  return true;
#else
  (void)on;
  return false;
#endif
}

FlushDenormalGuard::FlushDenormalGuard(bool on) {
#if defined(__SSE2__)
  saved_ = _mm_getcsr();
  if (on) set_flush_denormal(true);
#else
  (void)on;
#endif
}

FlushDenormalGuard::~FlushDenormalGuard() {
#if defined(__SSE2__)
  _mm_setcsr(saved_);
#endif
}

}  // namespace chainrule
