// Reductions: sum, mean (composite), max, over all axes or given ones.
#include <algorithm>
#include <limits>

#include <xtensor/xreducer.hpp>
#include <xtensor/xstrided_view.hpp>

#include "../function.hpp"
#include "../ops.hpp"
#include "common.hpp"

namespace chainrule {
namespace {

struct Reduction {
  std::vector<std::size_t> axes;  // sorted, unique, non-negative
  Shape kept;                     // x's shape with reduced axes set to 1
  Shape out;                      // result shape (kept, or without the reduced axes)
  std::size_t count = 1;          // elements folded into each result
};

// Empty axes means all axes, as in torch.
Reduction plan(const char* op, const Tensor& x, const std::vector<long>& axes, bool keepdims) {
  Reduction r;
  const Shape& s = x.shape();
  if (axes.empty()) {
    for (std::size_t i = 0; i < s.size(); ++i) r.axes.push_back(i);
  } else {
    for (long a : axes) r.axes.push_back(detail::normalize_axis(op, a, s.size(), s));
    std::sort(r.axes.begin(), r.axes.end());
    const auto twice = std::adjacent_find(r.axes.begin(), r.axes.end());
    if (twice != r.axes.end())
      throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(*twice) + " is given twice (shape " +
                                  shape_str(s) + ")");
  }
  r.kept = s;
  for (auto a : r.axes) {
    r.count *= s[a];
    r.kept[a] = 1;
  }
  for (std::size_t i = 0; i < s.size(); ++i)
    if (keepdims || !std::binary_search(r.axes.begin(), r.axes.end(), i)) r.out.push_back(r.kept[i]);
  return r;
}

}  // namespace

// y = Σ_axes x           ∂x = broadcast(g, x.shape)      ẏ = Σ_axes ẋ (linear: itself)
Tensor sum(const Tensor& x, std::vector<long> axes, bool keepdims) {
  Reduction r = plan("sum", x, axes, keepdims);
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Leading axes only (a sum over the batch): column sums split over the threads, in xt::sum's order.
    const bool leading = !r.axes.empty() && r.axes.back() + 1 == r.axes.size() && r.axes.size() < x.dim();
    Array<T> y = leading ? detail::sum_leading(x.data<T>(), r.axes.size())
                         : Array<T>(xt::sum(x.data<T>(), r.axes, xt::keep_dims | xt::evaluation_strategy::immediate));
    y.reshape(r.out);
    return record<T>("sum", std::move(y), {x}, [kept = r.kept](auto& d, const Array<T>& g, const auto& in, const auto&) {
      // g:[out] → [kept] → broadcast to x:[shape]
      Array<T> gk = g;
      gk.reshape(kept);
      d(0, detail::expand(gk, in[0].shape()));
    }, [kept = r.kept](auto& d, const Tensor& g, const auto& x, const Tensor&) {
      d(0, broadcast_to(reshape(g, std::vector<long>(kept.begin(), kept.end())), x[0].shape()));
    }, [axes = std::move(axes), keepdims](const auto& t, const auto&, const Tensor&) { return sum(t[0], axes, keepdims); });
  });
}
Tensor sum(const Tensor& x) { return sum(x, {}, false); }

// y = Σx / n             composite: no backward written
Tensor mean(const Tensor& x, std::vector<long> axes, bool keepdims) {
  Reduction r = plan("mean", x, axes, keepdims);
  if (r.count == 0) throw std::invalid_argument("mean: reducing " + shape_str(x.shape()) + " over an empty axis");
  return sum(x, std::move(axes), keepdims) / static_cast<double>(r.count);
}
Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// y = max_axes x         ∂x = g·[x = y] / #ties    ẏ = Σ ẋ·[x = y] / #ties    NOTE: ties share the gradient equally (torch's amax);
//                        a line holding NaN has max NaN and ∂x = 0/0 = NaN on the whole line, as torch's amax
Tensor max(const Tensor& x, std::vector<long> axes, bool keepdims) {
  Reduction r = plan("max", x, axes, keepdims);
  if (r.count == 0 || x.numel() == 0)
    throw std::invalid_argument("max: reducing " + shape_str(x.shape()) + " over an empty axis");
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Not xt::amax: it starts from lowest() (a line of −inf gave −1.8e308) and keeps whichever of a NaN and a
    // larger value it meets first. Here a line's max starts at −inf and a NaN anywhere makes it NaN, as torch.
    const auto nan_max = [](T m, T v) { return m != m || v < m ? m : v; };
    Array<T> y = xt::reduce(xt::make_xreducer_functor(nan_max, xt::const_value<T>(-std::numeric_limits<T>::infinity())),
                            x.data<T>(), r.axes, xt::keep_dims | xt::evaluation_strategy::immediate);
    y.reshape(r.out);
    return record<T>("max", std::move(y), {x},
                     [kept = r.kept, axes = r.axes](auto& d, const Array<T>& g, const auto& in, const Array<T>& y) {
                       // x:[shape]  y, g:[out] → [kept]: the gradient goes to the maxima, shared among ties
                       Array<T> yk = y, gk = g;
                       yk.reshape(kept);
                       gk.reshape(kept);
                       Array<T> hit = detail::map_n<T>(in[0].shape(), [](T x, T m) { return T(x == m); }, in[0], yk);
                       Array<T> ties = xt::sum(hit, axes, xt::keep_dims | xt::evaluation_strategy::immediate);
                       d(0, detail::map_n<T>(in[0].shape(), [](T h, T gi, T n) { return h * gi / n; }, hit, gk, ties));
                     },
                     // the same, recorded; the mask [x = y] / #ties is a constant (its derivative is 0 a.e.)
                     [kept = r.kept, axes = r.axes](auto& d, const Tensor& g, const auto& x, const Tensor& y) {
                       const std::vector<long> k(kept.begin(), kept.end());
                       Tensor hit = eq(x[0].detach(), reshape(y.detach(), k));
                       Tensor ties = sum(hit, std::vector<long>(axes.begin(), axes.end()), true);
                       d(0, reshape(g, k) * (hit / ties));
                     },
                     [kept = r.kept, a = std::move(axes), keepdims](const auto& t, const auto& x, const Tensor& y) {
                       const std::vector<long> k(kept.begin(), kept.end());
                       Tensor hit = eq(x[0], reshape(y, k));  // ẏ = Σ ẋ·[x = y] / #ties: the ties' mean tangent
                       return sum(t[0] * (hit / sum(hit, a, true)), a, keepdims);
                     });
  });
}
Tensor max(const Tensor& x) { return max(x, {}, false); }

}  // namespace chainrule
