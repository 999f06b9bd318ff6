// Elementwise arithmetic, one op per block: the forward and each input's derivative as scalar functions of
// (g, inputs, y), the rows of ops.hpp.
#include <cmath>

#include "../function.hpp"
#include "../ops.hpp"

namespace chainrule {

Tensor scalar_like(const Tensor& x, double v) {
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return Tensor(Array<T>(static_cast<T>(v)));
  });
}

// y = a + b              ∂a = g            ∂b = g
Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b, [](auto a, auto b) { return a + b; },
                [](auto g, auto, auto, auto) { return g; },
                [](auto g, auto, auto, auto) { return g; });
}

// y = a − b              ∂a = g            ∂b = −g
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b, [](auto a, auto b) { return a - b; },
                [](auto g, auto, auto, auto) { return g; },
                [](auto g, auto, auto, auto) { return -g; });
}

// y = a ⊙ b              ∂a = g ⊙ b        ∂b = g ⊙ a
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b, [](auto a, auto b) { return a * b; },
                [](auto g, auto, auto b, auto) { return g * b; },
                [](auto g, auto a, auto, auto) { return g * a; });
}

// y = a / b              ∂a = g / b        ∂b = −g ⊙ y / b
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b, [](auto a, auto b) { return a / b; },
                [](auto g, auto, auto b, auto) { return g / b; },
                [](auto g, auto, auto b, auto y) { return -g * y / b; });
}

// y = −x                 ∂x = −g
Tensor neg(const Tensor& x) {
  return unary("neg", x, [](auto x) { return -x; }, [](auto g, auto, auto) { return -g; });
}

// y = a^b                ∂a = g ⊙ b·a^(b−1)      ∂b = g ⊙ y·ln a   NOTE: as torch, ∂a = 0 where b = 0 (even
//                        at a = 0 or NaN), and ∂b = 0 where a = 0 and b ≥ 0 (ln 0 = −∞ counts for b < 0)
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary("pow", a, b, [](auto a, auto b) { return std::pow(a, b); },
                [](auto g, auto a, auto b, auto) {
                  return math::select(math::equal(b, math::zero(b)), math::zero(g), g * b * math::pow(a, b - 1));
                },
                [](auto g, auto a, auto b, auto y) {
                  const auto d = g * y * math::log(a);  // ln 0 = −∞ counts for b < 0 only
                  return math::select(math::equal(a, math::zero(a)), math::select(b >= 0, math::zero(g), d), d);
                });
}

// y = x^p                ∂x = g ⊙ p·x^(p−1)      (p = 0: y = 1 and ∂x = 0)
Tensor pow(const Tensor& x, double p) {
  return unary("pow", x, [p](auto x) { return std::pow(x, decltype(x)(p)); },
               [p](auto g, auto x, auto) {
                 if (p == 0) return math::zero(g);
                 return g * math::constant(x, p) * math::pow(x, math::constant(x, p - 1));
               });
}

// y = eˣ                 ∂x = g ⊙ y
Tensor exp(const Tensor& x) {
  return unary("exp", x, detail::vectorized([](auto x) { return math::exp(x); }),
               [](auto g, auto, auto y) { return g * y; });
}

// y = ln x               ∂x = g / x          (x = 0: y = −inf, ∂x = ±inf; x < 0: NaN, as torch)
Tensor log(const Tensor& x) {
  return unary("log", x, detail::vectorized([](auto x) { return math::log(x); }),
               [](auto g, auto x, auto) { return g / x; });
}

// y = √x                 ∂x = g / (2y)       (x = 0: ∂x = inf, as torch)
Tensor sqrt(const Tensor& x) {
  return unary("sqrt", x, [](auto x) { return std::sqrt(x); }, [](auto g, auto, auto y) { return g / (2 * y); });
}

// y = |x|                ∂x = g ⊙ sign(x)    NOTE: subgradient 0 at x = 0, as torch
Tensor abs(const Tensor& x) {
  return unary("abs", x, [](auto x) { return std::abs(x); },
               [](auto g, auto x, auto) { return math::select(x > 0, g, math::select(x < 0, -g, math::zero(g))); });
}

// y = x²                 ∂x = g ⊙ 2x
Tensor square(const Tensor& x) {
  return unary("square", x, [](auto x) { return x * x; }, [](auto g, auto x, auto) { return 2 * x * g; });
}

// y = sin x              ∂x = g ⊙ cos x
Tensor sin(const Tensor& x) {
  return unary("sin", x, [](auto x) { return std::sin(x); }, [](auto g, auto x, auto) { return g * math::cos(x); });
}

// y = cos x              ∂x = −g ⊙ sin x
Tensor cos(const Tensor& x) {
  return unary("cos", x, [](auto x) { return std::cos(x); }, [](auto g, auto x, auto) { return -g * math::sin(x); });
}

// y = max(a, b)          ∂a = g·[¬(a<b)], ½g at a=b     ∂b = g·[¬(b<a)], ½g at a=b   NOTE: ties split, as torch;
//                        a NaN on either side gives y = NaN, and both sides get g (torch's where + masked_fill);
//                        max(0, −0) = −0 and max(−0, 0) = 0: b at a tie, as torch
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, [](auto a, auto b) { return a != a ? a : b != b ? b : a > b ? a : b; },
                [](auto g, auto a, auto b, auto) {
                  return math::select(a < b, math::zero(g), math::select(math::equal(a, b), g / 2, g));
                },
                [](auto g, auto a, auto b, auto) {
                  return math::select(b < a, math::zero(g), math::select(math::equal(a, b), g / 2, g));
                });
}

// y = min(a, b)          ∂a = g·[¬(a>b)], ½g at a=b     ∂b = g·[¬(b>a)], ½g at a=b   (NaN as in maximum)
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, [](auto a, auto b) { return a != a ? a : b != b ? b : a < b ? a : b; },
                [](auto g, auto a, auto b, auto) {
                  return math::select(a > b, math::zero(g), math::select(math::equal(a, b), g / 2, g));
                },
                [](auto g, auto a, auto b, auto) {
                  return math::select(b > a, math::zero(g), math::select(math::equal(a, b), g / 2, g));
                });
}

// y = min(max(x, lo), hi)   ∂x = g·[lo ≤ x ≤ hi]   (bounds included, as torch)
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (!(lo <= hi))
    throw std::invalid_argument("clamp: lo (" + std::to_string(lo) + ") must be <= hi (" + std::to_string(hi) + ")");
  return unary("clamp", x, [lo, hi](auto x) { return x < lo ? decltype(x)(lo) : x > hi ? decltype(x)(hi) : x; },
               [lo, hi](auto g, auto x, auto) {
                 return math::select(x >= lo, math::select(x <= hi, g, math::zero(g)), math::zero(g));
               });
}

// y = c ? a : b          ∂a = g·[c]         ∂b = g·[¬c]        (c: nonzero means true; not differentiated)
//                        ẏ = c ? ȧ : ḃ
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_same_dtype("where", a, b);
  detail::check_same_dtype("where", cond, a);
  const Shape out =
      detail::broadcast_shapes("where", detail::broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  return detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = detail::map_n<T>(out, [](T c, T u, T v) { return c != 0 ? u : v; }, cond.data<T>(), a.data<T>(),
                                  b.data<T>());
    return record<T>("where", std::move(y), {cond, a, b}, [](auto& d, const Array<T>& g, const auto& in, const auto&) {
      if (d.needs(1)) d(1, detail::map_n<T>(g.shape(), [](T gi, T c) { return c != 0 ? gi : 0; }, g, in[0]));
      if (d.needs(2)) d(2, detail::map_n<T>(g.shape(), [](T gi, T c) { return c != 0 ? 0 : gi; }, g, in[0]));
    }, [](auto& d, const Tensor& g, const auto& x, const Tensor&) {
      if (d.needs(1)) d(1, where(x[0], g, zeros_like(g)));
      if (d.needs(2)) d(2, where(x[0], zeros_like(g), g));
    }, [](const auto& t, const auto& x, const Tensor&) {  // ẏ = c ? ȧ : ḃ
      return t.has(1) || t.has(2) ? where(x[0], t.or_zero(1), t.or_zero(2)) : Tensor();
    });
  });
}

// y = x (a copy)         ∂x = g
Tensor clone(const Tensor& x) {
  return unary("clone", x, [](auto x) { return x; }, [](auto g, auto, auto) { return g; });
}

// Comparisons: 1/0 of the inputs' dtype; never recorded (not differentiable).
namespace {
template <class Cmp> Tensor compare(const char* name, const Tensor& a, const Tensor& b, Cmp cmp) {
  detail::check_same_dtype(name, a, b);
  const Shape out = detail::broadcast_shapes(name, a.shape(), b.shape());
  return detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return Tensor(detail::map_n<T>(out, [&cmp](T u, T v) { return cmp(u, v) ? T(1) : T(0); }, a.data<T>(),
                                   b.data<T>()));
  });
}
}  // namespace
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto x, auto y) { return x >= y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto x, auto y) { return x != y; }); }

}  // namespace chainrule
