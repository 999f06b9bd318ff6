#include "data.hpp"

#include <algorithm>
#include <cstdint>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <zlib.h>

#include "../autograd/files.hpp"
#include "../autograd/parallel.hpp"
#include "data_util.hpp"

namespace chainrule::nn {

namespace fs = std::filesystem;
using data_util::make_tensor;
using data_util::num;

namespace {

/// Elements per row of t: the product of its trailing axes.
std::size_t row_length(const Tensor& t) {
  std::size_t n = 1;
  for (std::size_t k = 1; k < t.dim(); ++k) n *= t.shape()[k];
  return n;
}

/// Calls f(const T* values) with the tensor's contiguous row-major values.
template <class F> void with_values(const Tensor& t, F&& f) {
  detail::dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    f(t.data<T>().data());
  });
}

/// x must be [samples, features]; returns the feature count.
std::size_t check_matrix(const char* who, const Tensor& x) {
  if (!x.defined()) throw std::invalid_argument(std::string(who) + ": x is an undefined tensor");
  if (x.dim() != 2)
    throw std::invalid_argument(std::string(who) + ": expects x of shape [samples, features], got " +
                                shape_str(x.shape()));
  return x.shape()[1];
}

/// For transform / inverse_transform: the scaler is fitted and x has as many columns as the fit data had.
void check_fitted(const char* who, bool fitted, std::size_t columns, const Tensor& x) {
  if (!fitted)
    throw std::logic_error(std::string(who) + ": not fitted; call fit (or fit_transform) on the training data first");
  const std::size_t c = check_matrix(who, x);
  if (c != columns)
    throw std::invalid_argument(std::string(who) + ": fitted on " + num(columns) + " columns, got " + num(c) +
                                " (shape " + shape_str(x.shape()) + ")");
}

/// out[i, c] = f(x[i, c], c), computed in double, in x's dtype.
template <class F> Tensor map_columns(const Tensor& x, F&& f) {
  const std::size_t rows = x.shape()[0], cols = x.shape()[1];
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>().data();
    Array<T> out = Array<T>::from_shape(x.shape());
    T* o = out.data();
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c) o[i * cols + c] = static_cast<T>(f(double(in[i * cols + c]), c));
    return Tensor(std::move(out));
  });
}

/// Uniform integer in [0, bound] from g, without modulo bias (rejects the incomplete top block of 2^64).
std::uint64_t uniform_upto(std::mt19937_64& g, std::uint64_t bound) {
  if (bound == std::numeric_limits<std::uint64_t>::max()) return g();
  const std::uint64_t range = bound + 1;
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() / range * range;
  std::uint64_t r;
  do r = g(); while (r >= limit);
  return r % range;
}

/// Values of a 1-D tensor as class indices; who names the caller in errors.
std::vector<std::size_t> labels_of(const char* who, const Tensor& y) {
  if (!y.defined()) throw std::invalid_argument(std::string(who) + ": labels are an undefined tensor");
  if (y.dim() != 1)
    throw std::invalid_argument(std::string(who) + ": expects a 1-D tensor of class indices, got shape " +
                                shape_str(y.shape()) +
                                (y.dim() == 2 && y.shape()[1] == 1 ? " (reshape it to [N])" : ""));
  std::vector<std::size_t> out(y.numel());
  with_values(y, [&](const auto* v) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double d = v[i];
      // 2^53: beyond it doubles skip integers, and no class count is that large.
      if (!(d >= 0 && d < 9007199254740992.0 && d == std::floor(d)))
        throw std::invalid_argument(std::string(who) + ": value " + num(d) + " at row " + num(i) +
                                    " is not a class index (a non-negative integer)");
      out[i] = static_cast<std::size_t>(d);
    }
  });
  return out;
}

}  // namespace

// ---- datasets and batches -----------------------------------------------------------------------------------

Tensor take_rows(const Tensor& t, const std::vector<std::size_t>& idx) {
  if (!t.defined()) throw std::invalid_argument("take_rows: undefined tensor");
  if (t.dim() == 0) throw std::invalid_argument("take_rows: a scalar has no rows");
  const std::size_t rows = t.shape()[0], len = row_length(t);
  for (std::size_t k = 0; k < idx.size(); ++k)
    if (idx[k] >= rows)
      throw std::out_of_range("take_rows: index " + num(idx[k]) + " (position " + num(k) + ") is out of range for " +
                              num(rows) + " rows");
  Shape shape = t.shape();
  shape[0] = idx.size();
  return detail::dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = t.data<T>().data();
    Array<T> out = Array<T>::from_shape(shape);
    T* o = out.data();
    // large batches: split over the intra-op threads, by rows. The rows are scattered over the dataset (a shuffled
    // epoch reads them from memory, not cache): each copy first asks for the row two ahead, so that its cache lines
    // are on their way while this one is copied (a Fashion-MNIST batch of 64 rows: 32 → 20 µs, bench/README.md).
    constexpr std::size_t ahead = 2, line = 64;
    chainrule::detail::parallel_for(idx.size(), len, [&](std::size_t b, std::size_t e) {
      for (std::size_t k = b; k < e; ++k) {
        if (k + ahead < e) {
          const char* next = reinterpret_cast<const char*>(in + idx[k + ahead] * len);
          for (std::size_t byte = 0; byte < len * sizeof(T); byte += line) __builtin_prefetch(next + byte);
        }
        std::copy_n(in + idx[k] * len, len, o + k * len);
      }
    });
    return Tensor(std::move(out));
  });
}

Dataset::Dataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  if (!x_.defined() || !y_.defined()) throw std::invalid_argument("Dataset: x and y must both be defined tensors");
  if (x_.dim() == 0 || y_.dim() == 0)
    throw std::invalid_argument("Dataset: x and y need a sample axis (first axis), got shapes " +
                                shape_str(x_.shape()) + " and " + shape_str(y_.shape()));
  if (x_.shape()[0] != y_.shape()[0])
    throw std::invalid_argument("Dataset: x has " + num(x_.shape()[0]) + " rows (shape " + shape_str(x_.shape()) +
                                ") but y has " + num(y_.shape()[0]) + " (shape " + shape_str(y_.shape()) + ")");
  size_ = x_.shape()[0];
}

Dataset Dataset::slice(std::size_t begin, std::size_t end) const {
  if (begin > end || end > size_)
    throw std::out_of_range("Dataset::slice: [" + num(begin) + ", " + num(end) + ") is not a range within " +
                            num(size_) + " rows");
  std::vector<std::size_t> idx(end - begin);
  for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = begin + k;
  return subset(idx);
}

Dataset Dataset::subset(const std::vector<std::size_t>& idx) const {
  if (!x_.defined()) throw std::logic_error("Dataset::subset: empty (default-constructed) dataset");
  return Dataset(take_rows(x_, idx), take_rows(y_, idx));
}

std::pair<Dataset, Dataset> Dataset::split(double validation_fraction) const {
  if (!(validation_fraction > 0 && validation_fraction < 1))
    throw std::invalid_argument("Dataset::split: validation fraction must be in (0, 1), got " +
                                num(validation_fraction));
  // Keras: split_at = int(math.floor(num_samples * (1.0 - validation_split))), same double arithmetic.
  const auto train = static_cast<std::size_t>(std::floor(double(size_) * (1.0 - validation_fraction)));
  if (train == 0 || train == size_)
    throw std::invalid_argument("Dataset::split: " + num(size_) + " rows are too few to split with validation " +
                                "fraction " + num(validation_fraction) + " (one part would be empty)");
  return {slice(0, train), slice(train, size_)};
}

Dataset Dataset::shuffled(std::uint64_t seed) const { return subset(permutation(size_, seed)); }

std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  for (std::size_t k = 0; k < n; ++k) p[k] = k;
  std::mt19937_64 g(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[uniform_upto(g, i - 1)]);  // Fisher–Yates
  return p;
}

std::vector<std::pair<std::size_t, std::size_t>> batches(std::size_t n, std::size_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("batches: batch_size must be positive");
  std::vector<std::pair<std::size_t, std::size_t>> out;
  out.reserve((n + batch_size - 1) / batch_size);
  for (std::size_t b = 0; b < n; b += batch_size) out.emplace_back(b, std::min(n, b + batch_size));
  return out;
}

// ---- scaling ------------------------------------------------------------------------------------------------

StandardScaler& StandardScaler::fit(const Tensor& x) {
  const std::size_t cols = check_matrix("StandardScaler::fit", x), rows = x.shape()[0];
  if (rows == 0) throw std::invalid_argument("StandardScaler::fit: x has no rows");
  std::vector<double> mean(cols, 0.0), var(cols, 0.0), scale(cols, 1.0);
  with_values(x, [&](const auto* v) {
    for (std::size_t c = 0; c < cols; ++c) {
      // Two passes in double: mean, then the mean squared deviation (ddof = 0).
      double s = 0;
      bool constant = true;
      for (std::size_t i = 0; i < rows; ++i) {
        s += v[i * cols + c];
        constant = constant && v[i * cols + c] == v[c];
      }
      if (constant) {  // exact: the mean is the value itself and the column maps to 0, not to rounding noise
        mean[c] = v[c];
        continue;
      }
      mean[c] = s / double(rows);
      double ss = 0;
      for (std::size_t i = 0; i < rows; ++i) ss += (v[i * cols + c] - mean[c]) * (v[i * cols + c] - mean[c]);
      var[c] = ss / double(rows);
      if (var[c] > 0) scale[c] = std::sqrt(var[c]);
    }
  });
  mean_ = std::move(mean);
  var_ = std::move(var);
  scale_ = std::move(scale);
  return *this;
}

Tensor StandardScaler::transform(const Tensor& x) const {
  check_fitted("StandardScaler::transform", fitted(), mean_.size(), x);
  return map_columns(x, [&](double v, std::size_t c) { return (v - mean_[c]) / scale_[c]; });
}

Tensor StandardScaler::inverse_transform(const Tensor& z) const {
  check_fitted("StandardScaler::inverse_transform", fitted(), mean_.size(), z);
  return map_columns(z, [&](double v, std::size_t c) { return v * scale_[c] + mean_[c]; });
}

MinMaxScaler::MinMaxScaler(double lo, double hi) : lo_(lo), hi_(hi) {
  if (!(lo < hi))
    throw std::invalid_argument("MinMaxScaler: feature range must have lo < hi, got [" + num(lo) + ", " + num(hi) +
                                "]");
}

MinMaxScaler& MinMaxScaler::fit(const Tensor& x) {
  const std::size_t cols = check_matrix("MinMaxScaler::fit", x), rows = x.shape()[0];
  if (rows == 0) throw std::invalid_argument("MinMaxScaler::fit: x has no rows");
  std::vector<double> mn(cols), mx(cols), range(cols);
  with_values(x, [&](const auto* v) {
    for (std::size_t c = 0; c < cols; ++c) {
      mn[c] = mx[c] = v[c];
      for (std::size_t i = 1; i < rows; ++i) {
        mn[c] = std::min(mn[c], double(v[i * cols + c]));
        mx[c] = std::max(mx[c], double(v[i * cols + c]));
      }
      range[c] = mx[c] > mn[c] ? mx[c] - mn[c] : 1.0;  // constant column: (x − min) is 0, maps to lo
    }
  });
  data_min_ = std::move(mn);
  data_max_ = std::move(mx);
  scale_ = std::move(range);  // stored as the data range; dividing (not multiplying by 1/range) maps max to hi exactly
  return *this;
}

Tensor MinMaxScaler::transform(const Tensor& x) const {
  check_fitted("MinMaxScaler::transform", fitted(), data_min_.size(), x);
  return map_columns(x, [&](double v, std::size_t c) { return lo_ + (v - data_min_[c]) / scale_[c] * (hi_ - lo_); });
}

Tensor MinMaxScaler::inverse_transform(const Tensor& z) const {
  check_fitted("MinMaxScaler::inverse_transform", fitted(), data_min_.size(), z);
  return map_columns(z, [&](double v, std::size_t c) { return (v - lo_) / (hi_ - lo_) * scale_[c] + data_min_[c]; });
}

// ---- labels -------------------------------------------------------------------------------------------------

Tensor one_hot(const std::vector<std::size_t>& labels, std::size_t num_classes, TensorOptions o) {
  if (num_classes == 0) throw std::invalid_argument("one_hot: num_classes must be positive");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      throw std::invalid_argument("one_hot: label " + num(labels[i]) + " at row " + num(i) +
                                  " is out of range for num_classes = " + num(num_classes) + " (labels must be 0.." +
                                  num(num_classes - 1) + ")");
  Tensor t = make_tensor(o.dtype(), Shape{labels.size(), num_classes}, [&](auto* out) {
    std::fill_n(out, labels.size() * num_classes, 0);
    for (std::size_t i = 0; i < labels.size(); ++i) out[i * num_classes + labels[i]] = 1;
  });
  if (o.requires_grad()) t.requires_grad_();
  return t;
}

Tensor one_hot(const Tensor& labels, std::size_t num_classes, TensorOptions o) {
  return one_hot(labels_of("one_hot", labels), num_classes, o);
}

std::vector<std::size_t> to_labels(const Tensor& y) { return labels_of("to_labels", y); }

std::vector<std::size_t> argmax(const Tensor& x) {
  if (!x.defined() || x.dim() != 2 || x.shape()[1] == 0)
    throw std::invalid_argument("argmax: expects scores of shape [N, C] with C >= 1, got " +
                                (x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor")));
  const std::size_t rows = x.shape()[0], cols = x.shape()[1];
  std::vector<std::size_t> out(rows);
  with_values(x, [&](const auto* v) {
    for (std::size_t i = 0; i < rows; ++i) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < cols; ++c)
        if (v[i * cols + c] > v[i * cols + best]) best = c;  // strict: the first maximum wins ties
      out[i] = best;
    }
  });
  return out;
}

}  // namespace chainrule::nn
