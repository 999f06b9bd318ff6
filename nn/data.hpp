#pragma once
// The data side of training: datasets of (x, y) rows, train/validation split, shuffling and mini-batches,
// feature scaling (StandardScaler, MinMaxScaler as in scikit-learn), one-hot labels, and loaders for CSV and
// IDX (MNIST / Fashion-MNIST) files. Everything here works on plain values: results are leaf tensors that
// never record on the tape.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../autograd/tensor.hpp"

namespace chainrule::nn {

// ---- datasets and batches -----------------------------------------------------------------------------------

/// Inputs x and targets y, one sample per row (first axis); both keep their own dtype and trailing shape.
class Dataset {
 public:
  Dataset() = default;
  /// Throws std::invalid_argument unless x and y are defined, at least 1-D, and have the same number of rows.
  Dataset(Tensor x, Tensor y);

  /// The number of samples (rows).
  std::size_t size() const { return size_; }
  /// The inputs, one sample per row.
  const Tensor& x() const { return x_; }
  /// The targets, one per row.
  const Tensor& y() const { return y_; }

  /// Rows [begin, end), copied.
  Dataset slice(std::size_t begin, std::size_t end) const;
  /// Rows idx[0], idx[1], ... in that order (repeats allowed), copied.
  Dataset subset(const std::vector<std::size_t>& idx) const;
  /// (train, validation): the LAST part is validation, as Keras' validation_split does (no shuffling; shuffle
  /// first if the file is sorted). train = floor(n·(1 − fraction)) rows, computed exactly as Keras does;
  /// 0 < fraction < 1 and both parts must be non-empty.
  std::pair<Dataset, Dataset> split(double validation_fraction) const;
  /// The rows in the order permutation(size(), seed): same seed, same order.
  Dataset shuffled(std::uint64_t seed) const;

 private:
  Tensor x_, y_;
  std::size_t size_ = 0;
};

/// A random permutation of 0..n-1 from std::mt19937_64(seed) (Fisher–Yates with unbiased bounded draws, written
/// out rather than std::shuffle so the order is the same with every standard library). Independent of manual_seed.
std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed);

/// [begin, end) row ranges of consecutive mini-batches covering 0..n-1; the last one may be shorter.
std::vector<std::pair<std::size_t, std::size_t>> batches(std::size_t n, std::size_t batch_size);

/// Rows idx of t (any dtype, any rank ≥ 1), copied into a new leaf tensor.
Tensor take_rows(const Tensor& t, const std::vector<std::size_t>& idx);

// ---- scaling ------------------------------------------------------------------------------------------------

/// z = (x − mean) / std per column of x:[N, C], with the population std (ddof = 0), as sklearn's StandardScaler.
/// Statistics are computed in float64 whatever the dtype; outputs keep the input's dtype. A constant column
/// (all values equal) gets std 1, so it maps to 0 instead of dividing by zero (sklearn does the same).
class StandardScaler {
 public:
  /// Learns mean and std of each column (call it on the training data only).
  StandardScaler& fit(const Tensor& x);
  /// (x − mean) / std per column, with the statistics of fit; throws if not fitted or the width differs.
  Tensor transform(const Tensor& x) const;
  /// fit(x), then transform(x).
  Tensor fit_transform(const Tensor& x) { return fit(x).transform(x); }
  /// x = z · std + mean.
  Tensor inverse_transform(const Tensor& z) const;

  /// Whether fit has been called.
  bool fitted() const { return !mean_.empty(); }
  /// The column means fit found.
  const std::vector<double>& mean() const { return mean_; }
  /// The divisor per column: std, or 1 for a constant column (sklearn's scale_).
  const std::vector<double>& scale() const { return scale_; }
  /// Population variance per column (sklearn's var_; 0 for a constant column).
  const std::vector<double>& var() const { return var_; }

 private:
  std::vector<double> mean_, scale_, var_;
};

/// z = (x − min) / (max − min) · (hi − lo) + lo per column of x:[N, C], as sklearn's MinMaxScaler; a constant
/// column maps to lo. Data outside the fitted range maps outside [lo, hi] (no clipping).
class MinMaxScaler {
 public:
  /// Throws std::invalid_argument unless lo < hi.
  explicit MinMaxScaler(double lo = 0, double hi = 1);
  /// Learns each column's minimum and maximum; returns *this.
  MinMaxScaler& fit(const Tensor& x);
  /// Maps each column to the range of the scaler (with the statistics of fit).
  Tensor transform(const Tensor& x) const;
  /// fit(x), then transform(x).
  Tensor fit_transform(const Tensor& x) { return fit(x).transform(x); }
  /// The inverse of transform: back to the original units.
  Tensor inverse_transform(const Tensor& z) const;

  /// Whether fit has been called.
  bool fitted() const { return !data_min_.empty(); }
  /// The column minima fit found.
  const std::vector<double>& data_min() const { return data_min_; }
  /// The column maxima fit found.
  const std::vector<double>& data_max() const { return data_max_; }

 private:
  double lo_, hi_;
  std::vector<double> data_min_, data_max_, scale_;  ///< scale_ = (hi − lo) / (max − min), or hi − lo if constant
};

// ---- labels -------------------------------------------------------------------------------------------------

/// [N, num_classes] with a 1 at (i, labels[i]). A label ≥ num_classes throws, naming the value and the row.
Tensor one_hot(const std::vector<std::size_t>& labels, std::size_t num_classes, TensorOptions o = {});
/// Same from a 1-D tensor of non-negative integral values (as to_labels checks).
Tensor one_hot(const Tensor& labels, std::size_t num_classes, TensorOptions o = {});
/// Column of the largest value in each row of x:[N, C] (the first one on ties): predicted classes.
std::vector<std::size_t> argmax(const Tensor& x);
/// Values of a 1-D tensor as class indices; throws unless every value is a non-negative integer.
std::vector<std::size_t> to_labels(const Tensor& y);

// ---- CSV ----------------------------------------------------------------------------------------------------

/// How read_csv reads a file.
struct CsvOptions {
  bool header = true;                       ///< first non-blank line holds the column names
  char delimiter = ',';  ///< the cell separator
  std::string label;                        ///< label column by name (needs header); empty: see label_index
  std::optional<std::size_t> label_index;   ///< label column by 0-based index; neither set: no label, all is x
  Dtype dtype = kFloat32;                   ///< dtype of x and y
};

/// What read_csv returns: features, labels and the column names.
struct CsvData {
  Tensor x;                                 ///< [rows, features]: every column but the label, in file order
  Tensor y;                                 ///< [rows] (1-D, ready for to_labels / one_hot); undefined if no label
  std::vector<std::string> feature_names;   ///< names of x's columns ("0", "1", ... without a header)
  std::string label_name;                   ///< empty if no label
};

/// Reads a numeric CSV file. Cells are trimmed of spaces and tabs; quoted cells ("1.5", "a,b" in a header) are
/// unquoted; blank lines, a trailing newline, CRLF line ends and a UTF-8 BOM are accepted. Every data cell must
/// be a finite number: NaN, inf and empty cells are rejected (errors name the file, the 1-based line counting
/// the header, the column and the text), since one NaN feature silently turns every loss into NaN.
/// Ragged rows, a missing or empty file, a header without rows, or a label column the file does not have throw
/// std::runtime_error.
CsvData read_csv(const std::string& path, const CsvOptions& options = {});

// ---- IDX (MNIST, Fashion-MNIST) -----------------------------------------------------------------------------

/// How read_idx converts bytes.
struct IdxOptions {
  double scale = 1;        ///< values are raw bytes (0..255) times scale: 1.0 / 255 gives [0, 1]
  Dtype dtype = kFloat32;  ///< dtype of the result
};

/// Reads an IDX file of unsigned bytes, gzipped (.gz, read through zlib) or raw: magic 0x0000_08_nd, then nd
/// big-endian uint32 sizes, then exactly their product of bytes (0x00000803: images [N, rows, cols];
/// 0x00000801: labels [N]). Throws std::runtime_error on a missing file, a bad magic number, a short header,
/// too few data bytes or bytes past the end of the data.
Tensor read_idx(const std::string& path, const IdxOptions& options = {});

/// Where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's train (60000) or test (10000) set: x [N, 784] scaled to [0, 1], y [N] class indices 0..9
/// stored as float (one_hot / to_labels take them). Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz)
/// from dir; Debian's dataset-fashion-mnist package installs them in the default directory.
Dataset load_fashion_mnist(const std::string& dir = kFashionMnistDir, bool train = true);

/// Fashion-MNIST's class names, indexed by label: "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace chainrule::nn
