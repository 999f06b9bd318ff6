// The course's activations. Composites where a composite reads as well; fused (one node) where a fused form is
// faster or more stable: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax (tested against composites).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "../function.hpp"
#include "../ops.hpp"
#include "common.hpp"

namespace chainrule {

// y = a·x + b            composite
Tensor linear(const Tensor& x, double a, double b) { return x * a + b; }

// y = [x ≥ 0]            ∂x = 0    NOTE: the derivative is 0 wherever it exists (undefined at 0)
Tensor step(const Tensor& x) {
  return unary("step", x, [](auto x) { return x >= 0 ? decltype(x)(1) : decltype(x)(0); },
               [](auto g, auto, auto) { return math::zero(g); });
}

// y = clamp((x − x_min)/(x_max − x_min), 0, 1)      composite; at the two kinks the gradient is clamp's
Tensor piecewise_linear(const Tensor& x, double x_min, double x_max) {
  if (!(x_min < x_max))
    throw std::invalid_argument("piecewise_linear: need x_min < x_max, got " + std::to_string(x_min) + " and " +
                                std::to_string(x_max));
  return clamp((x - x_min) / (x_max - x_min), 0, 1);
}

// y = 1/(1+e⁻ˣ)          ∂x = g ⊙ y(1−y)      (x → −∞: e⁻ˣ = inf gives y = 0, no NaN)
Tensor sigmoid(const Tensor& x) {
  return unary("sigmoid", x, detail::vectorized([](auto x) {
                 const decltype(x) one(1);
                 return one / (one + math::exp(-x));
               }),
               [](auto g, auto, auto y) { return g * y * (1 - y); });
}

// y = e^(−x²)            composite: ∂x = −2x·y ⊙ g
Tensor gaussian(const Tensor& x) { return exp(-square(x)); }

// y = tanh x             ∂x = g ⊙ (1−y²)
Tensor tanh(const Tensor& x) {
  return unary("tanh", x, detail::vectorized([](auto x) { return math::tanh(x); }),
               [](auto g, auto, auto y) { return g * (1 - y * y); });
}

// y = max(x, 0)          ∂x = g·[x > 0]      NOTE: subgradient 0 at x = 0; NaN gives NaN with ∂x = g, as torch
Tensor relu(const Tensor& x) {
  return unary("relu", x, [](auto x) { return x < 0 ? decltype(x)(0) : x; },
               [](auto g, auto x, auto) { return math::select(x <= 0, math::zero(g), g); });
}

// y = x > 0 ? x : s·x    ∂x = g·(x > 0 ? 1 : s)      (slope s at x = 0, as torch)
Tensor leaky_relu(const Tensor& x, double slope) {
  if (!std::isfinite(slope))
    throw std::invalid_argument("leaky_relu: slope must be finite, got " + std::to_string(slope));
  return unary("leaky_relu", x, [slope](auto x) { return x > 0 ? x : decltype(x)(slope) * x; },
               [slope](auto g, auto x, auto) { return math::select(x > 0, g, math::constant(g, slope) * g); });
}

namespace {
// Softmax-family ops work on lines along one axis: a row-major array is outer × n × inner, and the line
// (o, ·, i) has stride `inner`.
struct Lines {
  std::size_t outer = 1, n = 1, inner = 1, axis;
  Lines(const Shape& s, std::size_t a) : axis(a) {
    for (std::size_t k = 0; k < axis; ++k) outer *= s[k];
    n = s[axis];
    for (std::size_t k = axis + 1; k < s.size(); ++k) inner *= s[k];
  }
  template <class F> void each(F&& f) const {  // f(offset of the line's first element, stride)
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t i = 0; i < inner; ++i) f(o * n * inner + i, inner);
  }
};

// y = (x − max) − log Σ e^(x − max) on every line: the stable log-softmax.
template <class T> Array<T> log_softmax_lines(const Array<T>& x, const Lines& l) {
  Array<T> y = Array<T>::from_shape(x.shape());
  l.each([&](std::size_t off, std::size_t st) {
    const T* px = x.data() + off;
    T* py = y.data() + off;
    T m = px[0];
    for (std::size_t k = 1; k < l.n; ++k) m = std::max(m, px[k * st]);
    T s = 0;
    for (std::size_t k = 0; k < l.n; ++k) s += std::exp(px[k * st] - m);
    // (x − m) − log s, not x − (m + log s): m + log s would round at m's magnitude (an ulp of 1e4 in float32 is
    // 1e-3), which at logits of 1e4 moves every output by ~1e-4; x − m is exact near the maximum. As torch.
    const T log_s = std::log(s);
    for (std::size_t k = 0; k < l.n; ++k) py[k * st] = (px[k * st] - m) - log_s;
  });
  return y;
}
}  // namespace

// y = eˣ⁻ᵐ / Σeˣ⁻ᵐ along axis (m = max: stable)      ∂x = y ⊙ (g − Σ(g ⊙ y))     ẏ = y ⊙ (ẋ − Σ(ẋ ⊙ y))
Tensor softmax(const Tensor& x, long axis) {
  const Lines l(x.shape(), detail::normalize_axis("softmax", axis, x.dim(), x.shape()));
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = log_softmax_lines(x.data<T>(), l);
    for (auto& v : y) v = std::exp(v);
    return record<T>("softmax", std::move(y), {x}, [l](auto& d, const Array<T>& g, const auto&, const Array<T>& y) {
      Array<T> dx = Array<T>::from_shape(y.shape());
      l.each([&](std::size_t off, std::size_t st) {
        T s = 0;
        for (std::size_t k = 0; k < l.n; ++k) s += g.data()[off + k * st] * y.data()[off + k * st];
        for (std::size_t k = 0; k < l.n; ++k) {
          const std::size_t e = off + k * st;
          dx.data()[e] = y.data()[e] * (g.data()[e] - s);
        }
      });
      d(0, std::move(dx));
    }, [axis = long(l.axis)](auto& d, const Tensor& g, const auto&, const Tensor& y) {
      d(0, y * (g - sum(g * y, {axis}, true)));
    }, [axis = long(l.axis)](const auto& t, const auto&, const Tensor& y) {  // the Jacobian is symmetric
      return y * (t[0] - sum(t[0] * y, {axis}, true));
    });
  });
}

// y = x − m − log Σeˣ⁻ᵐ along axis (stable)          ∂x = g − eʸ ⊙ Σg           ẏ = ẋ − Σ(eʸ ⊙ ẋ)
Tensor log_softmax(const Tensor& x, long axis) {
  const Lines l(x.shape(), detail::normalize_axis("log_softmax", axis, x.dim(), x.shape()));
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return record<T>("log_softmax", log_softmax_lines(x.data<T>(), l), {x},
                     [l](auto& d, const Array<T>& g, const auto&, const Array<T>& y) {
                       Array<T> dx = Array<T>::from_shape(y.shape());
                       l.each([&](std::size_t off, std::size_t st) {
                         T s = 0;
                         for (std::size_t k = 0; k < l.n; ++k) s += g.data()[off + k * st];
                         for (std::size_t k = 0; k < l.n; ++k) {
                           const std::size_t e = off + k * st;
                           dx.data()[e] = g.data()[e] - std::exp(y.data()[e]) * s;
                         }
                       });
                       d(0, std::move(dx));
                     },
                     [axis = long(l.axis)](auto& d, const Tensor& g, const auto&, const Tensor& y) {
                       d(0, g - exp(y) * sum(g, {axis}, true));
                     },
                     [axis = long(l.axis)](const auto& t, const auto&, const Tensor& y) {
                       return t[0] - sum(exp(y) * t[0], {axis}, true);
                     });
  });
}

}  // namespace chainrule
