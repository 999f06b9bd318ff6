// Shape ops: reshape, transpose/permute, broadcast_to, concat, gather.
#include <algorithm>
#include <cstring>
#include <numeric>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xstrided_view.hpp>

#include "../function.hpp"
#include "../ops.hpp"
#include "common.hpp"

namespace chainrule {

// y = x with a new shape (one entry may be −1)      ∂x = reshape(g, x.shape)      ẏ = reshape(ẋ)
// (Every op of this file is linear: its tangent rule applies the op itself to the tangents.)
Tensor reshape(const Tensor& x, std::vector<long> shape) {
  Shape s(shape.size());
  std::size_t known = 1;
  long infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer < 0) {
      infer = static_cast<long>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("reshape: bad size " + std::to_string(shape[i]) + " (only one −1 is allowed)");
    } else {
      s[i] = static_cast<std::size_t>(shape[i]);
      known *= s[i];
    }
  }
  if (infer >= 0) s[static_cast<std::size_t>(infer)] = known ? x.numel() / known : 0;
  std::size_t n = 1;
  for (auto v : s) n *= v;
  if (n != x.numel())
    throw std::invalid_argument("reshape: cannot view " + shape_str(x.shape()) + " (" + std::to_string(x.numel()) +
                                " elements) as " + shape_str(s));
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = x.data<T>();
    y.reshape(s);
    return record<T>("reshape", std::move(y), {x}, [](auto& d, const auto& g, const auto& in, const auto&) {
      Array<T> dx = g;
      dx.reshape(in[0].shape());
      d(0, std::move(dx));
    }, [](auto& d, const Tensor& g, const auto& x, const Tensor&) {
      const Shape& sx = x[0].shape();
      d(0, reshape(g, std::vector<long>(sx.begin(), sx.end())));
    }, [s](const auto& t, const auto&, const Tensor&) { return reshape(t[0], std::vector<long>(s.begin(), s.end())); });
  });
}

// y = x.permute(p)       ∂x = g.permute(p⁻¹)
Tensor permute(const Tensor& x, std::vector<std::size_t> axes) {
  const std::size_t n = x.dim();
  std::vector<std::size_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> iota(n);
  std::iota(iota.begin(), iota.end(), 0);
  if (sorted != iota)
    throw std::invalid_argument("permute: axes " + shape_str(axes) + " are not a permutation of the " +
                                std::to_string(n) + " axes of shape " + shape_str(x.shape()));
  std::vector<std::size_t> inverse(n);
  for (std::size_t i = 0; i < n; ++i) inverse[axes[i]] = i;
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = xt::transpose(x.data<T>(), axes);
    return record<T>("permute", std::move(y), {x}, [inverse](auto& d, const auto& g, const auto&, const auto&) {
      d(0, Array<T>(xt::transpose(g, inverse)));
    }, [inverse](auto& d, const Tensor& g, const auto&, const Tensor&) { d(0, permute(g, inverse)); },
    [axes = std::move(axes)](const auto& t, const auto&, const Tensor&) { return permute(t[0], axes); });
  });
}

// 2-D: y = xᵀ            ∂x = gᵀ
Tensor transpose(const Tensor& x) {
  if (x.dim() != 2) throw std::invalid_argument("transpose: needs a 2-D tensor, got " + shape_str(x.shape()));
  return permute(x, {1, 0});
}

// y = x broadcast to shape     ∂x = sum_to(g, x.shape)   (the engine does the summing)
Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (detail::broadcast_shapes("broadcast_to", x.shape(), shape) != shape)
    throw std::invalid_argument("broadcast_to: cannot broadcast " + shape_str(x.shape()) + " to " + shape_str(shape));
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = xt::broadcast(x.data<T>(), shape);
    return record<T>("broadcast_to", std::move(y), {x},
                     [](auto& d, const auto& g, const auto&, const auto&) { d(0, g); },
                     [](auto& d, const Tensor& g, const auto&, const Tensor&) { d(0, g); },
                     [shape](const auto& t, const auto&, const Tensor&) { return broadcast_to(t[0], shape); });
  });
}

// y = [x₀ x₁ …] along axis     ∂xᵢ = the slice of g that xᵢ filled
Tensor concat(const std::vector<Tensor>& xs, long axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors given");
  const Shape& s0 = xs[0].shape();
  const std::size_t ax = detail::normalize_axis("concat", axis, s0.size(), s0);
  Shape out = s0;
  out[ax] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    detail::check_same_dtype("concat", xs[0], xs[i]);
    const Shape& s = xs[i].shape();
    bool ok = s.size() == s0.size();
    for (std::size_t k = 0; ok && k < s.size(); ++k) ok = k == ax || s[k] == s0[k];
    if (!ok)
      throw std::invalid_argument("concat: tensor #" + std::to_string(i) + " has shape " + shape_str(s) +
                                  ", which differs from " + shape_str(s0) + " off axis " + std::to_string(ax));
    out[ax] += s[ax];
  }
  // Row-major: each tensor is `outer` blocks of size[ax]·inner contiguous elements.
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < ax; ++k) outer *= s0[k];
  for (std::size_t k = ax + 1; k < s0.size(); ++k) inner *= s0[k];
  std::vector<std::size_t> widths;
  for (const auto& t : xs) widths.push_back(t.shape()[ax] * inner);
  const std::size_t row = out[ax] * inner;
  return detail::dispatch(xs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = Array<T>::from_shape(out);
    for (std::size_t i = 0, off = 0; i < xs.size(); off += widths[i], ++i)
      for (std::size_t o = 0; o < outer; ++o)
        std::copy_n(xs[i].data<T>().data() + o * widths[i], widths[i], y.data() + o * row + off);
    return record_n<T>("concat", std::move(y), xs.begin(), xs.end(),
                     [widths, outer, row](auto& d, const auto& g, const auto& in, const auto&) {
                       for (std::size_t i = 0, off = 0; i < in.size(); off += widths[i], ++i) {
                         if (!d.needs(i)) continue;
                         Array<T> gi = Array<T>::from_shape(in[i].shape());
                         for (std::size_t o = 0; o < outer; ++o)
                           std::copy_n(g.data() + o * row + off, widths[i], gi.data() + o * widths[i]);
                         d(i, std::move(gi));
                       }
                     },
                     [ax](auto& d, const Tensor& g, const auto& x, const Tensor&) {
                       for (std::size_t i = 0, off = 0; i < x.size(); off += x[i].shape()[ax], ++i)
                         if (d.needs(i)) d(i, narrow(g, long(ax), off, x[i].shape()[ax]));
                     },
                     [ax](const auto& t, const auto&, const Tensor&) {
                       std::vector<Tensor> ts;
                       for (std::size_t i = 0; i < t.size(); ++i) ts.push_back(t.or_zero(i));
                       return concat(ts, long(ax));
                     });
  });
}

// y = x[…, start : start+length, …] along axis      ∂x = [0 g 0] along axis (concat of zeros and g)
Tensor narrow(const Tensor& x, long axis, std::size_t start, std::size_t length) {
  const Shape& s = x.shape();
  const std::size_t ax = detail::normalize_axis("narrow", axis, s.size(), s);
  if (start > s[ax] || length > s[ax] - start)
    throw std::out_of_range("narrow: start " + std::to_string(start) + " and length " + std::to_string(length) +
                            " exceed axis " + std::to_string(ax) + " of shape " + shape_str(s));
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < ax; ++k) outer *= s[k];
  for (std::size_t k = ax + 1; k < s.size(); ++k) inner *= s[k];
  Shape out = s;
  out[ax] = length;
  const std::size_t row = s[ax] * inner, width = length * inner, off = start * inner;
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = Array<T>::from_shape(out);
    for (std::size_t o = 0; o < outer; ++o) std::copy_n(x.data<T>().data() + o * row + off, width, y.data() + o * width);
    return record<T>("narrow", std::move(y), {x},
                     [outer, row, width, off](auto& d, const auto& g, const auto&, const auto&) {
                       d.into(0, [&](Array<T>& dx, T beta) {
                         if (beta == T(0)) dx.fill(T(0));
                         for (std::size_t o = 0; o < outer; ++o)
                           for (std::size_t j = 0; j < width; ++j) dx.data()[o * row + off + j] += g.data()[o * width + j];
                       });
                     },
                     [ax, start, length](auto& d, const Tensor& g, const auto& x, const Tensor&) {
                       Shape before = x[0].shape(), after = x[0].shape();
                       before[ax] = start;
                       after[ax] = x[0].shape()[ax] - start - length;
                       d(0, concat({zeros(before, g.dtype()), g, zeros(after, g.dtype())}, long(ax)));
                     },
                     [ax, start, length](const auto& t, const auto&, const Tensor&) {
                       return narrow(t[0], long(ax), start, length);
                     });
  });
}

// y[i] = x[i, index[i]]        ∂x[i, index[i]] = g[i], 0 elsewhere      ẏ[i] = ẋ[i, index[i]]
Tensor gather(const Tensor& x, const std::vector<std::size_t>& index) {
  if (x.dim() != 2) throw std::invalid_argument("gather: needs scores of shape [N,C], got " + shape_str(x.shape()));
  const std::size_t n = x.shape()[0], c = x.shape()[1];
  if (index.size() != n)
    throw std::invalid_argument("gather: " + std::to_string(index.size()) + " indices for " + std::to_string(n) +
                                " rows of " + shape_str(x.shape()));
  for (std::size_t i = 0; i < n; ++i)
    if (index[i] >= c)
      throw std::out_of_range("gather: index " + std::to_string(index[i]) + " at row " + std::to_string(i) +
                              " is out of range for " + std::to_string(c) + " classes");
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>().data();
    Array<T> y = Array<T>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) y(i) = xp[i * c + index[i]];
    // one copy of the indices, shared by the three rules
    auto idx = std::make_shared<const std::vector<std::size_t>>(index);
    return record<T>("gather", std::move(y), {x}, [idx, c](auto& d, const auto& g, const auto&, const auto&) {
      d.into(0, [&](Array<T>& out, T beta) {
        if (beta == T(0)) out.fill(T(0));
        for (std::size_t i = 0; i < idx->size(); ++i) out.data()[i * c + (*idx)[i]] += g(i);
      });
    }, [idx, c](auto& d, const Tensor& g, const auto&, const Tensor&) {
      Array<T> onehot = xt::zeros<T>({idx->size(), c});  // ∂x = g[:, None] ⊙ onehot(index): linear in g
      for (std::size_t i = 0; i < idx->size(); ++i) onehot(i, (*idx)[i]) = 1;
      d(0, reshape(g, {-1, 1}) * Tensor(std::move(onehot)));
    }, [idx](const auto& t, const auto&, const Tensor&) { return gather(t[0], *idx); });
  });
}

}  // namespace chainrule
