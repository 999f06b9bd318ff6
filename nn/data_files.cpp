// The file loaders of nn/data.hpp: CSV, IDX (gzipped or raw) and Fashion-MNIST.
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
#include "data_util.hpp"

namespace chainrule::nn {

namespace fs = std::filesystem;
using data_util::make_tensor;
using data_util::num;

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

/// The whole file as text; a FIFO or a device is refused, never waited on.
std::string read_csv_text(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("read_csv: cannot open " + path + ": no such file");
  std::string text;
  const int fd = files::open_regular(path, "read_csv: ");
  char buf[1 << 16];
  ssize_t got = 0;
  while ((got = ::read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
    if (got > 0) text.append(buf, std::size_t(got));
  const int err = errno;
  ::close(fd);
  if (got < 0) throw std::runtime_error("read_csv: error while reading " + path + ": " + std::strerror(err));
  return text;
}

/// One cell as a finite number that fits `dtype`; column() names it in the error, built only when the cell is bad
/// ("data.csv:7: column 'age': 'abc' is not a number").
template <class ColumnName>
double parse_csv_cell(const std::string& cell, Dtype dtype, const std::string& where, const ColumnName& column) {
  const auto bad = [&](const std::string& what) { return std::runtime_error(where + ": " + column() + ": " + what); };
  std::string_view s = cell;
  if (s.empty()) throw bad("empty cell (missing values are not accepted)");
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);  // from_chars takes no '+'
  double v = 0;
  const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size() || (err != std::errc() && err != std::errc::result_out_of_range))
    throw bad("'" + cell + "' is not a number");
  if (err == std::errc::result_out_of_range)  // beyond ±1.8e308 (or below the smallest subnormal)
    throw bad("'" + cell + "' is out of range for float64");
  if (!std::isfinite(v)) throw bad("'" + cell + "' is not a finite number (NaN and infinity are not accepted)");
  if (dtype == kFloat32 && std::abs(v) > double(std::numeric_limits<float>::max()))
    throw bad("'" + cell + "' is out of range for float32");
  return v;
}

/// A CSV file's cells: every column's name (from the header, else "0", "1", ...) and every value, row-major.
struct CsvTable {
  std::vector<std::string> names;
  std::vector<double> values;
  std::size_t cols = 0, rows = 0;
};

/// Parses the lines of `text`: skips a UTF-8 byte order mark, CRLF endings and blank lines, takes the header
/// (if opt.header) from the first non-blank line, and checks that every row has as many fields as that line.
CsvTable parse_csv_table(std::string_view rest, const std::string& path, const CsvOptions& opt) {
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 byte order mark (Excel)
  CsvTable t;
  std::size_t line_no = 0, first_line = 0;
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
      t.cols = cells.size();
      if (opt.header) {
        t.names = std::move(cells);
        continue;
      }
      for (std::size_t c = 0; c < t.cols; ++c) t.names.push_back(num(c));
    }
    if (cells.size() != t.cols)
      throw std::runtime_error(where + ": expected " + num(t.cols) + " fields (as on line " + num(first_line) +
                               "), found " + num(cells.size()));
    for (std::size_t c = 0; c < t.cols; ++c) {
      const auto column = [&] { return opt.header ? "column '" + t.names[c] + "'" : "column " + num(c); };
      t.values.push_back(parse_csv_cell(cells[c], opt.dtype, where, column));
    }
    ++t.rows;
  }
  if (!have_columns) throw std::runtime_error("read_csv: " + path + " is empty");
  if (t.rows == 0) throw std::runtime_error("read_csv: " + path + " has a header but no data rows");
  return t;
}

/// The label column's index, from opt.label_index or opt.label (a header name), or none.
std::optional<std::size_t> csv_label_column(const CsvTable& t, const std::string& path, const CsvOptions& opt) {
  std::optional<std::size_t> label = opt.label_index;
  if (label && *label >= t.cols)
    throw std::runtime_error("read_csv: label_index " + num(*label) + " is out of range: " + path + " has " +
                             num(t.cols) + " columns");
  if (!opt.label.empty()) {
    const auto it = std::find(t.names.begin(), t.names.end(), opt.label);
    if (it == t.names.end()) {
      std::string list;
      for (const auto& n : t.names) list += (list.empty() ? "'" : ", '") + n + "'";
      throw std::runtime_error("read_csv: " + path + " has no column '" + opt.label + "' (columns: " + list + ")");
    }
    label = std::size_t(it - t.names.begin());
  }
  return label;
}

}  // namespace

CsvData read_csv(const std::string& path, const CsvOptions& opt) {
  if (!opt.label.empty() && opt.label_index)
    throw std::invalid_argument("read_csv: set the label column by name or by index, not both");
  if (!opt.label.empty() && !opt.header)
    throw std::invalid_argument("read_csv: label '" + opt.label + "' is given by name but header = false; "
                                "use label_index");
  const std::string text = read_csv_text(path);
  const CsvTable t = parse_csv_table(text, path, opt);
  const std::optional<std::size_t> label = csv_label_column(t, path, opt);

  // x: every column but the label's, y: the label's
  CsvData out;
  const std::size_t cols = t.cols, rows = t.rows, features = cols - (label ? 1 : 0);
  for (std::size_t c = 0; c < cols; ++c)
    if (!label || c != *label) out.feature_names.push_back(t.names[c]);
  out.x = make_tensor(opt.dtype, Shape{rows, features}, [&](auto* x) {
    for (std::size_t i = 0, k = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c)
        if (!label || c != *label) x[k++] = static_cast<std::remove_pointer_t<decltype(x)>>(t.values[i * cols + c]);
  });
  if (label) {
    out.label_name = t.names[*label];
    out.y = make_tensor(opt.dtype, Shape{rows}, [&](auto* y) {
      for (std::size_t i = 0; i < rows; ++i)
        y[i] = static_cast<std::remove_pointer_t<decltype(y)>>(t.values[i * cols + *label]);
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
