#include "nn/data.hpp"

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

#include "autograd/files.hpp"

namespace chainrule::nn {

namespace fs = std::filesystem;

namespace {

std::string num(std::size_t v) { return std::to_string(v); }

/// Shortest text that reads back as v ("2.5", "1e+30"), for error messages.
std::string num(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

/// Elements per row of t: the product of its trailing axes.
std::size_t row_length(const Tensor& t) {
  std::size_t n = 1;
  for (std::size_t k = 1; k < t.dim(); ++k) n *= t.shape()[k];
  return n;
}

/// A leaf tensor of dtype d and the given shape, filled by f(T* out).
template <class F> Tensor make_tensor(Dtype d, const Shape& shape, F&& f) {
  return detail::dispatch(d, [&](auto tag) {
    using T = decltype(tag);
    Array<T> a = Array<T>::from_shape(shape);
    f(a.data());
    return Tensor(std::move(a));
  });
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
    for (std::size_t k = 0; k < idx.size(); ++k) std::copy_n(in + idx[k] * len, len, o + k * len);
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

// ---- CSV ----------------------------------------------------------------------------------------------------

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// Splits one line into trimmed cells; a cell may be quoted ("a,b", "" inside quotes stands for ").
std::vector<std::string> split_line(std::string_view line, char delim, const std::string& where) {
  std::vector<std::string> cells;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delim) ++i;
    std::string cell;
    if (i < line.size() && line[i] == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) throw std::runtime_error(where + ": unterminated quoted cell");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') { cell += '"'; ++i; continue; }
          ++i;
          break;
        }
        cell += line[i];
      }
      const std::size_t next = std::min(line.find(delim, i), line.size());
      if (!trim(line.substr(i, next - i)).empty())
        throw std::runtime_error(where + ": text after the closing quote of cell " + num(cells.size() + 1));
      i = next;
    } else {
      const std::size_t next = std::min(line.find(delim, i), line.size());
      cell = std::string(trim(line.substr(i, next - i)));
      i = next;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) return cells;
    ++i;  // past the delimiter: another cell follows, possibly empty
  }
}

}  // namespace

CsvData read_csv(const std::string& path, const CsvOptions& opt) {
  if (!opt.label.empty() && opt.label_index)
    throw std::invalid_argument("read_csv: set the label column by name or by index, not both");
  if (!opt.label.empty() && !opt.header)
    throw std::invalid_argument("read_csv: label '" + opt.label + "' is given by name but header = false; "
                                "use label_index");
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("read_csv: cannot open " + path + ": no such file");
  std::string text;
  {
    const int fd = files::open_regular(path, "read_csv: ");  // a FIFO or a device is refused, never waited on
    char buf[1 << 16];
    ssize_t got = 0;
    while ((got = ::read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
      if (got > 0) text.append(buf, std::size_t(got));
    const int err = errno;
    ::close(fd);
    if (got < 0) throw std::runtime_error("read_csv: error while reading " + path + ": " + std::strerror(err));
  }

  std::string_view rest(text);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 byte order mark (Excel)

  std::vector<std::string> names;   // all columns, in file order
  std::vector<double> values;       // all cells, row-major
  std::size_t cols = 0, rows = 0, line_no = 0, first_line = 0;
  bool have_columns = false;
  while (!rest.empty()) {
    const std::size_t eol = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF
    if (trim(line).empty()) continue;                                  // blank lines carry no row
    const std::string where = path + ":" + num(line_no);
    std::vector<std::string> cells = split_line(line, opt.delimiter, where);
    if (!have_columns) {
      have_columns = true;
      first_line = line_no;
      cols = cells.size();
      if (opt.header) {
        names = std::move(cells);
        continue;
      }
      for (std::size_t c = 0; c < cols; ++c) names.push_back(num(c));
    }
    if (cells.size() != cols)
      throw std::runtime_error(where + ": expected " + num(cols) + " fields (as on line " + num(first_line) +
                               "), found " + num(cells.size()));
    for (std::size_t c = 0; c < cols; ++c) {
      // "data.csv:7: column 'age': 'abc' is not a number" (built only when a cell is bad)
      const auto bad = [&](const std::string& what) {
        const std::string column = opt.header ? "column '" + names[c] + "'" : "column " + num(c);
        return std::runtime_error(where + ": " + column + ": " + what);
      };
      std::string_view s = cells[c];
      if (s.empty()) throw bad("empty cell (missing values are not accepted)");
      if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);  // from_chars takes no '+'
      double v = 0;
      const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (end != s.data() + s.size() || (err != std::errc() && err != std::errc::result_out_of_range))
        throw bad("'" + cells[c] + "' is not a number");
      if (err == std::errc::result_out_of_range)  // beyond ±1.8e308 (or below the smallest subnormal)
        throw bad("'" + cells[c] + "' is out of range for float64");
      if (!std::isfinite(v)) throw bad("'" + cells[c] + "' is not a finite number (NaN and infinity are not accepted)");
      if (opt.dtype == kFloat32 && std::abs(v) > double(std::numeric_limits<float>::max()))
        throw bad("'" + cells[c] + "' is out of range for float32");
      values.push_back(v);
    }
    ++rows;
  }
  if (!have_columns) throw std::runtime_error("read_csv: " + path + " is empty");
  if (rows == 0) throw std::runtime_error("read_csv: " + path + " has a header but no data rows");

  std::optional<std::size_t> label = opt.label_index;
  if (label && *label >= cols)
    throw std::runtime_error("read_csv: label_index " + num(*label) + " is out of range: " + path + " has " +
                             num(cols) + " columns");
  if (!opt.label.empty()) {
    const auto it = std::find(names.begin(), names.end(), opt.label);
    if (it == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
      throw std::runtime_error("read_csv: " + path + " has no column '" + opt.label + "' (columns: " + list + ")");
    }
    label = std::size_t(it - names.begin());
  }

  CsvData out;
  const std::size_t features = cols - (label ? 1 : 0);
  for (std::size_t c = 0; c < cols; ++c)
    if (!label || c != *label) out.feature_names.push_back(names[c]);
  out.x = make_tensor(opt.dtype, Shape{rows, features}, [&](auto* x) {
    for (std::size_t i = 0, k = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c)
        if (!label || c != *label) x[k++] = static_cast<std::remove_pointer_t<decltype(x)>>(values[i * cols + c]);
  });
  if (label) {
    out.label_name = names[*label];
    out.y = make_tensor(opt.dtype, Shape{rows}, [&](auto* y) {
      for (std::size_t i = 0; i < rows; ++i)
        y[i] = static_cast<std::remove_pointer_t<decltype(y)>>(values[i * cols + *label]);
    });
  }
  return out;
}

// ---- IDX ----------------------------------------------------------------------------------------------------

namespace {

/// The file, decompressed if it is gzip (zlib reads plain files through unchanged). wanted(prefix) is how many bytes
/// the format needs, judged from the bytes read so far (SIZE_MAX while it cannot tell): reading stops one chunk
/// past it, so a gzip bomb (a few kB inflating to terabytes) cannot exhaust memory.
std::vector<unsigned char> read_maybe_gzip(const std::string& path, const char* who,
                                           std::size_t (*wanted)(const std::vector<unsigned char>&)) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(std::string(who) + ": cannot open " + path + ": no such file");
  const int fd = files::open_regular(path, std::string(who) + ": ");  // FIFOs, devices, directories: refused
  gzFile f = gzdopen(fd, "rb");  // owns fd from here
  if (!f) {
    ::close(fd);
    throw std::runtime_error(std::string(who) + ": cannot open " + path + " for reading");
  }
  gzbuffer(f, 1 << 17);
  std::vector<unsigned char> bytes;
  constexpr unsigned kChunk = 1 << 20;
  while (true) {
    const std::size_t old = bytes.size();
    bytes.resize(old + kChunk);
    const int got = gzread(f, bytes.data() + old, kChunk);
    if (got < 0) break;  // reported by gzerror below
    bytes.resize(old + std::size_t(got));
    if (got == 0 || bytes.size() > wanted(bytes)) break;
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string reason = err == Z_OK ? "" : (err == Z_BUF_ERROR ? "truncated gzip stream" : msg);
  gzclose(f);
  if (!reason.empty()) throw std::runtime_error(std::string(who) + ": " + path + ": " + reason);
  return bytes;
}

/// Header plus data bytes of the IDX file that b starts, saturating at SIZE_MAX (unknown or absurd).
std::size_t idx_size(const std::vector<unsigned char>& b) {
  constexpr std::size_t kUnknown = std::numeric_limits<std::size_t>::max();
  if (b.size() < 4 || b.size() < 4 + 4 * std::size_t(b[3])) return kUnknown;
  std::size_t total = 1;
  for (std::size_t k = 0; k < b[3]; ++k) {
    const unsigned char* p = b.data() + 4 + 4 * k;
    const std::size_t d = std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 | std::size_t(p[2]) << 8 | p[3];
    if (d != 0 && total > kUnknown / d) return kUnknown;
    total *= d;
  }
  const std::size_t header = 4 + 4 * std::size_t(b[3]);
  return total > kUnknown - header ? kUnknown : header + total;
}

}  // namespace

Tensor read_idx(const std::string& path, const IdxOptions& opt) {
  const std::vector<unsigned char> b = read_maybe_gzip(path, "read_idx", idx_size);
  const std::string who = "read_idx: " + path + ": ";
  if (b.size() < 4)
    throw std::runtime_error(who + "too short for an IDX header (" + num(b.size()) + " bytes)");
  const std::uint32_t magic = std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] == 0) {
    char hex[11];
    std::snprintf(hex, sizeof hex, "0x%08X", unsigned(magic));
    throw std::runtime_error(who + "bad magic number " + hex + "; expected an IDX file of unsigned bytes: "
                             "0x00000803 (images) or 0x00000801 (labels)");
  }
  const std::size_t nd = b[3], header = 4 + 4 * nd;
  if (b.size() < header)
    throw std::runtime_error(who + "header declares " + num(nd) + " dimensions but the file ends after " +
                             num(b.size()) + " bytes");
  Shape shape(nd);
  std::size_t count = 1, nonzero = 1;
  for (std::size_t k = 0; k < nd; ++k) {
    const unsigned char* p = b.data() + 4 + 4 * k;
    shape[k] = std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 | std::size_t(p[2]) << 8 | p[3];  // big-endian
    // The non-zero dimensions' product must fit a ptrdiff_t even when a 0 makes the count 0: xtensor's strides are
    // signed products of trailing dimensions (libFuzzer found [0, 2^31, ...] overflowing them).
    if (shape[k] != 0 && nonzero > std::size_t{PTRDIFF_MAX} / shape[k])
      throw std::runtime_error(who + "shape " + shape_str(Shape(shape.begin(), shape.begin() + k + 1)) +
                               (k + 1 < nd ? "..." : "") + " is too large");
    if (shape[k] != 0) nonzero *= shape[k];
    count *= shape[k];
  }
  const std::size_t data = b.size() - header;
  if (data < count)
    throw std::runtime_error(who + "truncated: shape " + shape_str(shape) + " needs " + num(count) +
                             " data bytes, found " + num(data));
  if (data > count)
    throw std::runtime_error(who + num(data - count) + " unexpected bytes after the " + num(count) +
                             " data bytes of shape " + shape_str(shape));
  return make_tensor(opt.dtype, shape, [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    std::array<T, 256> table;  // one multiply per byte value, not per pixel
    for (int v = 0; v < 256; ++v) table[v] = static_cast<T>(double(v) * opt.scale);
    for (std::size_t k = 0; k < count; ++k) out[k] = table[b[header + k]];
  });
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string hint = "; install Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist) "
                           "or pass the directory holding the Fashion-MNIST *-ubyte.gz files";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error("load_fashion_mnist: directory " + dir + " not found" + hint);
  // The .gz files as distributed, or their decompressed form.
  const auto find = [&](const std::string& stem) {
    const fs::path base = fs::path(dir) / stem;
    for (const std::string& name : {base.string() + ".gz", base.string()})
      if (fs::is_regular_file(name, ec)) return name;
    throw std::runtime_error("load_fashion_mnist: " + base.string() + ".gz not found" + hint);
  };
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find(prefix + "-images-idx3-ubyte");
  const std::string labels_path = find(prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(images_path, {1.0 / 255, kFloat32});
  Tensor labels = read_idx(labels_path);
  const Shape& s = images.shape();
  if (s.size() != 3 || s[1] != 28 || s[2] != 28)
    throw std::runtime_error("load_fashion_mnist: " + images_path + " holds shape " + shape_str(s) +
                             ", not [N,28,28] images");
  if (labels.dim() != 1 || labels.shape()[0] != s[0])
    throw std::runtime_error("load_fashion_mnist: " + images_path + " has " + num(s[0]) + " images but " +
                             labels_path + " has shape " + shape_str(labels.shape()));
  const auto& y = labels.data<float>();
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] > 9)
      throw std::runtime_error("load_fashion_mnist: " + labels_path + ": label " + num(double(y[i])) + " at row " +
                               num(i) + " is not a class 0..9");
  const std::size_t n = s[0];
  images.data<float>().reshape({n, std::size_t(28 * 28)});
  return Dataset(std::move(images), std::move(labels));
}

}  // namespace chainrule::nn
