// Data side of training: Dataset (slice, subset, split, shuffle), permutation, batches, scalers vs hand-computed
// statistics (sklearn conventions), one-hot / argmax / to_labels, CSV and IDX loaders with every error message,
// and the real Fashion-MNIST test set when installed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/data.hpp>
#include "helpers.hpp"

using namespace chainrule;
using namespace chainrule::nn;
using test::TempDir;
namespace fs = std::filesystem;

using test::values;
namespace {


void check_close(const Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  const auto got = values(t);
  REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("element " << k);
    CHECK(got[k] == doctest::Approx(expected[k]).epsilon(eps));
  }
}


/// An IDX byte stream: magic 0x000008nd, big-endian sizes, then the data bytes.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& data) {
  std::string s = {0, 0, 0x08, char(dims.size())};
  for (auto d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += char((d >> shift) & 0xFF);
  s.append(data.begin(), data.end());
  return s;
}

std::string write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
  return p.string();
}

// x:[5,2] with row i = (10i, 10i+1), y:[5] = i, so every row says where it came from.
Dataset five_rows() {
  return Dataset(tensor({{0, 1}, {10, 11}, {20, 21}, {30, 31}, {40, 41}}), tensor({0.0, 1, 2, 3, 4}, kFloat64));
}

}  // namespace

// ---- Dataset ------------------------------------------------------------------------------------------------

TEST_CASE("data: Dataset needs x and y with the same number of rows") {
  CHECK(five_rows().size() == 5);
  CHECK_THROWS_WITH(Dataset(zeros({5, 2}), zeros({4})),
                    "Dataset: x has 5 rows (shape [5,2]) but y has 4 (shape [4])");
  CHECK_THROWS_WITH(Dataset(tensor(1.0), zeros({1})),
                    "Dataset: x and y need a sample axis (first axis), got shapes [] and [1]");
  CHECK_THROWS_WITH(Dataset(Tensor(), zeros({1})), "Dataset: x and y must both be defined tensors");
}

TEST_CASE("data: slice and subset copy the chosen rows of both tensors, keeping dtypes") {
  const Dataset d = five_rows();
  const Dataset s = d.slice(1, 3);
  CHECK(s.size() == 2);
  CHECK(s.x().shape() == Shape{2, 2});
  CHECK(s.x().dtype() == kFloat32);
  CHECK(s.y().dtype() == kFloat64);
  check_close(s.x(), {10, 11, 20, 21});
  check_close(s.y(), {1, 2});
  const Dataset g = d.subset({4, 0, 4});
  check_close(g.x(), {40, 41, 0, 1, 40, 41});
  check_close(g.y(), {4, 0, 4});
  CHECK(d.slice(2, 2).size() == 0);
  CHECK_THROWS_WITH(d.slice(3, 6), "Dataset::slice: [3, 6) is not a range within 5 rows");
  CHECK_THROWS_WITH(d.subset({1, 5}), "take_rows: index 5 (position 1) is out of range for 5 rows");
}

TEST_CASE("data: take_rows gathers rows of higher-rank tensors") {
  Tensor t = arange(12, kFloat64);
  t = Tensor(Array<double>(xt::reshape_view(t.data<double>(), {3, 2, 2})));
  const Tensor r = take_rows(t, {2, 0});
  CHECK(r.shape() == Shape{2, 2, 2});
  check_close(r, {8, 9, 10, 11, 0, 1, 2, 3});
}

TEST_CASE("data: split keeps the last fraction as validation, as Keras' validation_split") {
  const auto [train, val] = five_rows().split(0.4);  // floor(5·0.6) = 3 train rows
  check_close(train.y(), {0, 1, 2});
  check_close(val.y(), {3, 4});
  check_close(val.x(), {30, 31, 40, 41});
  // Keras rounds the train part down: 10 rows with 0.25 → floor(7.5) = 7 train, 3 validation.
  const Dataset ten(zeros({10, 1}), arange(10));
  CHECK(ten.split(0.25).first.size() == 7);
  CHECK(ten.split(0.25).second.size() == 3);
  CHECK(ten.split(0.2).first.size() == 8);  // 10·(1 − 0.2) is 8 exactly in double arithmetic
  CHECK_THROWS_WITH(ten.split(1.0), "Dataset::split: validation fraction must be in (0, 1), got 1");
  CHECK_THROWS_WITH(ten.split(0.99),  // floor(10 · 0.01) = 0 train rows
                    "Dataset::split: 10 rows are too few to split with validation fraction 0.99 (one part would "
                    "be empty)");
}

TEST_CASE("data: permutation is deterministic per seed and a true permutation") {
  const auto a = permutation(100, 42), b = permutation(100, 42), c = permutation(100, 43);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<std::size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(a != iota);
  CHECK(permutation(0, 1).empty());
  CHECK(permutation(1, 1) == std::vector<std::size_t>{0});
}

TEST_CASE("data: permutation ignores the global generator (manual_seed)") {
  manual_seed(1);
  const auto a = permutation(50, 7);
  manual_seed(2);
  (void)random_u64();
  CHECK(permutation(50, 7) == a);
}

TEST_CASE("data: shuffled reorders x and y together") {
  const Dataset d = five_rows();
  const Dataset s = d.shuffled(3);
  const auto order = permutation(5, 3);
  const auto y = values(s.y()), x = values(s.x());
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(y[k] == double(order[k]));
    CHECK(x[2 * k] == 10.0 * double(order[k]));  // row k of x is still the row of label y[k]
  }
  CHECK(values(d.shuffled(3).y()) == y);
}

TEST_CASE("data: batches cover every row once, keeping the last partial batch") {
  using B = std::vector<std::pair<std::size_t, std::size_t>>;
  CHECK(batches(10, 4) == B{{0, 4}, {4, 8}, {8, 10}});
  CHECK(batches(8, 4) == B{{0, 4}, {4, 8}});
  CHECK(batches(3, 32) == B{{0, 3}});
  CHECK(batches(0, 32).empty());
  const auto bs = batches(1000, 33);
  std::size_t covered = 0;
  for (std::size_t k = 0; k < bs.size(); ++k) {
    CHECK(bs[k].first == covered);
    covered = bs[k].second;
  }
  CHECK(covered == 1000);
  CHECK(bs.size() == 31);  // ceil(1000 / 33)
  CHECK_THROWS_WITH(batches(10, 0), "batches: batch_size must be positive");
}

// ---- scalers ------------------------------------------------------------------------------------------------

TEST_CASE("data: StandardScaler uses per-column mean and population std (ddof 0, as sklearn)") {
  // Column 0: 1, 2, 3, 6 → mean 3, deviations −2 −1 0 3, var = 14/4 = 3.5 (ddof 1 would give 14/3).
  // Column 1: 10, 10, 20, 40 → mean 20, var = (100 + 100 + 0 + 400)/4 = 150.
  const Tensor x = tensor({{1, 10}, {2, 10}, {3, 20}, {6, 40}}, kFloat64);
  StandardScaler s;
  const Tensor z = s.fit_transform(x);
  CHECK(s.mean() == std::vector<double>{3, 20});
  CHECK(s.var() == std::vector<double>{3.5, 150});
  const double s0 = std::sqrt(3.5), s1 = std::sqrt(150.0);
  check_close(z, {-2 / s0, -10 / s1, -1 / s0, -10 / s1, 0, 0, 3 / s0, 20 / s1}, 1e-15);
  // Transformed columns: mean 0, population std 1.
  const auto v = values(z);
  CHECK(v[0] + v[2] + v[4] + v[6] == doctest::Approx(0).epsilon(1e-15));
  CHECK((v[0] * v[0] + v[2] * v[2] + v[4] * v[4] + v[6] * v[6]) / 4 == doctest::Approx(1).epsilon(1e-15));
  check_close(s.inverse_transform(z), values(x), 1e-15);
  // New data uses the training statistics.
  check_close(s.transform(tensor({{3, 50}}, kFloat64)), {0, 30 / s1}, 1e-15);
}

TEST_CASE("data: StandardScaler keeps the dtype and leaves a constant column unscaled") {
  StandardScaler s;
  const Tensor z = s.fit_transform(tensor({{0.1, 1}, {0.1, 3}, {0.1, 5}}));  // float32; column 0 constant
  CHECK(z.dtype() == kFloat32);
  CHECK(s.scale()[0] == 1);
  CHECK(s.var()[0] == 0);
  const auto v = values(z);
  CHECK(v[0] == 0);  // exactly 0: the mean of a constant column is the value itself
  CHECK(v[2] == 0);
  CHECK(v[4] == 0);
  CHECK(v[1] == doctest::Approx(-2 / std::sqrt(8.0 / 3)).epsilon(1e-6));
}

TEST_CASE("data: StandardScaler errors: not fitted, column count, shape") {
  StandardScaler s;
  CHECK_THROWS_WITH(s.transform(zeros({2, 3})),
                    "StandardScaler::transform: not fitted; call fit (or fit_transform) on the training data first");
  s.fit(ones({4, 3}));
  CHECK_THROWS_WITH(s.transform(zeros({2, 4})), "StandardScaler::transform: fitted on 3 columns, got 4 (shape [2,4])");
  CHECK_THROWS_WITH(s.inverse_transform(zeros({2})),
                    "StandardScaler::inverse_transform: expects x of shape [samples, features], got [2]");
  CHECK_THROWS_WITH(s.fit(zeros({0, 3})), "StandardScaler::fit: x has no rows");
}

TEST_CASE("data: MinMaxScaler maps each column's [min, max] to [0, 1] or a chosen range") {
  const Tensor x = tensor({{1, -5, 7}, {3, 5, 7}, {2, 0, 7}}, kFloat64);
  MinMaxScaler s;
  check_close(s.fit_transform(x), {0, 0, 0, 1, 1, 0, 0.5, 0.5, 0}, 1e-15);  // constant column → lo
  CHECK(s.data_min() == std::vector<double>{1, -5, 7});
  CHECK(s.data_max() == std::vector<double>{3, 5, 7});
  check_close(s.transform(tensor({{5, -10, 8}}, kFloat64)), {2, -0.5, 1}, 1e-15);  // no clipping outside the fit range
  MinMaxScaler r(-1, 1);
  const Tensor z = r.fit_transform(x);
  check_close(z, {-1, -1, -1, 1, 1, -1, 0, 0, -1}, 1e-15);
  check_close(r.inverse_transform(z), values(x), 1e-15);
  CHECK_THROWS_WITH(MinMaxScaler(1, 1), "MinMaxScaler: feature range must have lo < hi, got [1, 1]");
  CHECK_THROWS_WITH(MinMaxScaler().transform(x),
                    "MinMaxScaler::transform: not fitted; call fit (or fit_transform) on the training data first");
  CHECK_THROWS_WITH(s.transform(zeros({1, 2})), "MinMaxScaler::transform: fitted on 3 columns, got 2 (shape [1,2])");
}

// ---- labels -------------------------------------------------------------------------------------------------

TEST_CASE("data: one_hot from indices or from a float label tensor") {
  const Tensor a = one_hot(std::vector<std::size_t>{2, 0, 1, 2}, 3);
  CHECK(a.shape() == Shape{4, 3});
  CHECK(a.dtype() == kFloat32);
  check_close(a, {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  const Tensor b = one_hot(tensor({2.0, 0, 1, 2}), 3, kFloat64);
  CHECK(b.dtype() == kFloat64);
  check_close(b, values(a));
  CHECK_THROWS_WITH(one_hot(std::vector<std::size_t>{1, 3, 10}, 10),
                    "one_hot: label 10 at row 2 is out of range for num_classes = 10 (labels must be 0..9)");
  CHECK_THROWS_WITH(one_hot(tensor({1.0, -1}), 3),
                    "one_hot: value -1 at row 1 is not a class index (a non-negative integer)");
  CHECK_THROWS_WITH(one_hot(std::vector<std::size_t>{0}, 0), "one_hot: num_classes must be positive");
}

TEST_CASE("data: argmax picks each row's largest column, the first one on ties") {
  const Tensor scores = tensor({{0.1, 0.7, 0.2}, {5, 5, 1}, {-3, -2, -1}});
  CHECK(argmax(scores) == std::vector<std::size_t>{1, 0, 2});
  CHECK(argmax(one_hot(std::vector<std::size_t>{3, 1, 4}, 5)) == std::vector<std::size_t>{3, 1, 4});
  CHECK_THROWS_WITH(argmax(zeros({3})), "argmax: expects scores of shape [N, C] with C >= 1, got [3]");
}

TEST_CASE("data: to_labels accepts only non-negative integral values in a 1-D tensor") {
  CHECK(to_labels(tensor({3.0, 0, 9})) == std::vector<std::size_t>{3, 0, 9});
  CHECK(to_labels(tensor({1.0, 2}, kFloat64)) == std::vector<std::size_t>{1, 2});
  CHECK_THROWS_WITH(to_labels(tensor({1.0, 2.5})),
                    "to_labels: value 2.5 at row 1 is not a class index (a non-negative integer)");
  CHECK_THROWS_WITH(to_labels(tensor(std::vector<double>{std::nan("")})),
                    "to_labels: value nan at row 0 is not a class index (a non-negative integer)");
  CHECK_THROWS_WITH(to_labels(zeros({3, 1})),
                    "to_labels: expects a 1-D tensor of class indices, got shape [3,1] (reshape it to [N])");
}

// ---- CSV ----------------------------------------------------------------------------------------------------

TEST_CASE("data: read_csv reads features and a label column chosen by name") {
  TempDir dir;
  const std::string path = dir.write("iris.csv",
                                     "\xEF\xBB\xBF" "sepal, \"petal, cm\" ,species,  width\r\n"
                                     " 5.1 , 1.4, 0, 0.2\r\n"
                                     "\r\n"
                                     "4.9,+1.5,1,-2e-1\r\n"
                                     "6,.5,2,3.\r\n");
  CsvOptions opt;
  opt.label = "species";
  const CsvData d = read_csv(path, opt);
  CHECK(d.feature_names == std::vector<std::string>{"sepal", "petal, cm", "width"});
  CHECK(d.label_name == "species");
  CHECK(d.x.shape() == Shape{3, 3});
  CHECK(d.x.dtype() == kFloat32);
  check_close(d.x, {5.1f, 1.4f, 0.2f, 4.9f, 1.5f, -0.2f, 6, 0.5, 3});
  CHECK(d.y.shape() == Shape{3});
  CHECK(to_labels(d.y) == std::vector<std::size_t>{0, 1, 2});
  CHECK(Dataset(d.x, d.y).size() == 3);
}

TEST_CASE("data: read_csv without a header, by index, other delimiter, float64; or with no label") {
  TempDir dir;
  const std::string path = dir.write("plain.tsv", "1\t2\t3\n4\t5\t6");  // no trailing newline
  CsvOptions opt;
  opt.header = false;
  opt.delimiter = '\t';
  opt.label_index = 0;
  opt.dtype = kFloat64;
  const CsvData d = read_csv(path, opt);
  CHECK(d.feature_names == std::vector<std::string>{"1", "2"});
  CHECK(d.label_name == "0");
  CHECK(d.x.dtype() == kFloat64);
  check_close(d.x, {2, 3, 5, 6});
  check_close(d.y, {1, 4});
  opt.label_index.reset();
  const CsvData all = read_csv(path, opt);
  CHECK_FALSE(all.y.defined());
  CHECK(all.x.shape() == Shape{2, 3});
  CHECK(all.label_name.empty());
}

TEST_CASE("data: read_csv names the file, line, column and text of a bad cell") {
  TempDir dir;
  const std::string bad = dir.write("data.csv", "id,age\n1,30\n\n2,abc\n");
  CHECK_THROWS_WITH(read_csv(bad), (bad + ":4: column 'age': 'abc' is not a number").c_str());
  const std::string junk = dir.write("junk.csv", "a,b\n1,2x\n");
  CHECK_THROWS_WITH(read_csv(junk), (junk + ":2: column 'b': '2x' is not a number").c_str());
  const std::string nan = dir.write("nan.csv", "a,b\n1,2\n3,nan\n");
  CHECK_THROWS_WITH(read_csv(nan),
                    (nan + ":3: column 'b': 'nan' is not a finite number (NaN and infinity are not accepted)").c_str());
  const std::string inf = dir.write("inf.csv", "a\n-inf\n");
  CHECK_THROWS_WITH(read_csv(inf),
                    (inf + ":2: column 'a': '-inf' is not a finite number (NaN and infinity are not accepted)")
                        .c_str());
  const std::string empty_cell = dir.write("hole.csv", "a,b\n1,\n");
  CHECK_THROWS_WITH(read_csv(empty_cell),
                    (empty_cell + ":2: column 'b': empty cell (missing values are not accepted)").c_str());
  const std::string big = dir.write("big.csv", "a\n1e39\n");
  CHECK_THROWS_WITH(read_csv(big), (big + ":2: column 'a': '1e39' is out of range for float32").c_str());
  CHECK_THROWS_WITH(read_csv(dir.write("huge.csv", "a\n1e999\n")),
                    ((dir.path() / "huge.csv").string() + ":2: column 'a': '1e999' is out of range for float64").c_str());
  CsvOptions no_header;
  no_header.header = false;
  const std::string nh = dir.write("nh.csv", "1,2\n3,x\n");
  CHECK_THROWS_WITH(read_csv(nh, no_header), (nh + ":2: column 1: 'x' is not a number").c_str());
  const std::string quote = dir.write("quote.csv", "a,\"b\n1,2\n");
  CHECK_THROWS_WITH(read_csv(quote), (quote + ":1: unterminated quoted cell").c_str());
}

TEST_CASE("data: read_csv rejects ragged rows with expected and actual field counts") {
  TempDir dir;
  const std::string p = dir.write("ragged.csv", "a,b,c\n1,2,3\n4,5\n");
  CHECK_THROWS_WITH(read_csv(p), (p + ":3: expected 3 fields (as on line 1), found 2").c_str());
  const std::string q = dir.write("long.csv", "\n1,2\n3,4,5\n");
  CsvOptions opt;
  opt.header = false;
  CHECK_THROWS_WITH(read_csv(q, opt), (q + ":3: expected 2 fields (as on line 2), found 3").c_str());
}

TEST_CASE("data: read_csv errors for missing, empty and header-only files and bad label options") {
  TempDir dir;
  const std::string missing = (dir.path() / "nope.csv").string();
  CHECK_THROWS_WITH(read_csv(missing), ("read_csv: cannot open " + missing + ": no such file").c_str());
  const std::string empty = dir.write("empty.csv", "");
  CHECK_THROWS_WITH(read_csv(empty), ("read_csv: " + empty + " is empty").c_str());
  const std::string blank = dir.write("blank.csv", "\n  \r\n");
  CHECK_THROWS_WITH(read_csv(blank), ("read_csv: " + blank + " is empty").c_str());
  const std::string header = dir.write("header.csv", "a,b\n");
  CHECK_THROWS_WITH(read_csv(header), ("read_csv: " + header + " has a header but no data rows").c_str());

  const std::string good = dir.write("good.csv", "a,b\n1,2\n");
  CsvOptions opt;
  opt.label = "c";
  CHECK_THROWS_WITH(read_csv(good, opt), ("read_csv: " + good + " has no column 'c' (columns: 'a', 'b')").c_str());
  opt.label_index = 1;
  CHECK_THROWS_WITH(read_csv(good, opt), "read_csv: set the label column by name or by index, not both");
  opt.label.clear();
  opt.label_index = 2;
  CHECK_THROWS_WITH(read_csv(good, opt),
                    ("read_csv: label_index 2 is out of range: " + good + " has 2 columns").c_str());
  CsvOptions by_name;
  by_name.header = false;
  by_name.label = "a";
  CHECK_THROWS_WITH(read_csv(good, by_name),
                    "read_csv: label 'a' is given by name but header = false; use label_index");
}

// ---- IDX ----------------------------------------------------------------------------------------------------

TEST_CASE("data: read_idx reads raw and gzipped image and label files") {
  TempDir dir;
  // Two 2×3 "images" with bytes 0..11 (one at 255), and their labels.
  std::vector<unsigned char> pixels(12);
  std::iota(pixels.begin(), pixels.end(), 0);
  pixels[11] = 255;
  const std::string images = idx_bytes({2, 2, 3}, pixels);
  const std::string labels = idx_bytes({2}, {7, 1});
  const std::string raw = dir.write("images-idx3-ubyte", images);
  const std::string gz = write_gz(dir.path() / "images-idx3-ubyte.gz", images);
  CHECK(fs::file_size(gz) != images.size());  // really compressed, not stored as is
  for (const auto& path : {raw, gz}) {
    CAPTURE(path);
    const Tensor t = read_idx(path);
    CHECK(t.shape() == Shape{2, 2, 3});
    CHECK(t.dtype() == kFloat32);
    check_close(t, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255});
  }
  const Tensor scaled = read_idx(gz, {1.0 / 255, kFloat64});
  CHECK(scaled.dtype() == kFloat64);
  CHECK(values(scaled)[11] == 1.0);
  CHECK(values(scaled)[3] == doctest::Approx(3.0 / 255).epsilon(1e-15));
  const Tensor l = read_idx(write_gz(dir.path() / "labels-idx1-ubyte.gz", labels));
  CHECK(l.shape() == Shape{2});
  check_close(l, {7, 1});
}

TEST_CASE("data: read_idx rejects a bad magic number, short files and trailing bytes") {
  TempDir dir;
  std::string wrong = idx_bytes({2}, {1, 2});
  wrong[2] = 0x0D;  // IDX of floats: not supported
  const std::string p1 = dir.write("wrong-magic", wrong);
  CHECK_THROWS_WITH(read_idx(p1), ("read_idx: " + p1 + ": bad magic number 0x00000D01; expected an IDX file of "
                                   "unsigned bytes: 0x00000803 (images) or 0x00000801 (labels)").c_str());
  const std::string p2 = write_gz(dir.path() / "truncated.gz", idx_bytes({2, 3, 3}, std::vector<unsigned char>(10, 1)));
  CHECK_THROWS_WITH(read_idx(p2),
                    ("read_idx: " + p2 + ": truncated: shape [2,3,3] needs 18 data bytes, found 10").c_str());
  const std::string p3 = dir.write("trailing", idx_bytes({2}, {1, 2, 3, 4, 5}));
  CHECK_THROWS_WITH(read_idx(p3),
                    ("read_idx: " + p3 + ": 3 unexpected bytes after the 2 data bytes of shape [2]").c_str());
  const std::string p4 = dir.write("short-header", std::string("\0\0\x08\x03\0\0", 6));
  CHECK_THROWS_WITH(read_idx(p4),
                    ("read_idx: " + p4 + ": header declares 3 dimensions but the file ends after 6 bytes").c_str());
  const std::string p5 = dir.write("tiny", std::string("\0\0", 2));
  CHECK_THROWS_WITH(read_idx(p5), ("read_idx: " + p5 + ": too short for an IDX header (2 bytes)").c_str());
  const std::string p6 = (dir.path() / "absent.gz").string();
  CHECK_THROWS_WITH(read_idx(p6), ("read_idx: cannot open " + p6 + ": no such file").c_str());
}

TEST_CASE("data: read_idx reports a gzip stream cut short") {
  TempDir dir;
  std::vector<unsigned char> noise(4000);
  std::uint32_t state = 1;
  for (auto& b : noise) b = (state = state * 1664525u + 1013904223u) >> 24;  // incompressible bytes
  const std::string full = write_gz(dir.path() / "full.gz", idx_bytes({4000}, noise));
  std::ifstream in(full, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.write("cut.gz", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(read_idx(cut), ("read_idx: " + cut + ": truncated gzip stream").c_str());
}

TEST_CASE("data: read_idx stops inflating a gzip bomb one chunk past what the header declares") {
  TempDir dir;
  const std::string path = (dir.path() / "bomb.gz").string();
  gzFile f = gzopen(path.c_str(), "wb9");
  REQUIRE(f);
  const std::string head = idx_bytes({3}, {1, 2, 3});
  REQUIRE(gzwrite(f, head.data(), unsigned(head.size())) == int(head.size()));
  const std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 256; ++i) REQUIRE(gzwrite(f, zeros.data(), unsigned(zeros.size())) == int(zeros.size()));
  REQUIRE(gzclose(f) == Z_OK);  // 256 MiB of zeros in ~250 kB
  const std::string msg = test::message([&] { read_idx(path); });
  // The extra bytes counted are those of the one 1 MiB chunk read past the 11 declared bytes, not 256 MiB.
  CHECK(msg == "read_idx: " + path + ": " + std::to_string((1 << 20) - 11) +
                   " unexpected bytes after the 3 data bytes of shape [3]");
}

TEST_CASE("data: load_fashion_mnist explains how to get the files when they are missing") {
  TempDir dir;
  const std::string hint = "; install Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist) "
                           "or pass the directory holding the Fashion-MNIST *-ubyte.gz files";
  const std::string absent = (dir.path() / "none").string();
  CHECK_THROWS_WITH(load_fashion_mnist(absent),
                    ("load_fashion_mnist: directory " + absent + " not found" + hint).c_str());
  CHECK_THROWS_WITH(load_fashion_mnist(dir.path().string(), false),
                    ("load_fashion_mnist: " + (dir.path() / "t10k-images-idx3-ubyte").string() + ".gz not found" + hint)
                        .c_str());
  CHECK(fashion_mnist_classes().size() == 10);
  CHECK(fashion_mnist_classes()[9] == "Ankle boot");
}

TEST_CASE("data: load_fashion_mnist reads a directory of small IDX files") {
  TempDir dir;
  std::vector<unsigned char> pixels(3 * 28 * 28, 0);
  pixels[0] = 255;
  pixels[28 * 28 + 5] = 51;
  write_gz(dir.path() / "t10k-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, pixels));
  dir.write("t10k-labels-idx1-ubyte", idx_bytes({3}, {9, 0, 4}));  // a decompressed file is found too
  const Dataset d = load_fashion_mnist(dir.path().string(), false);
  CHECK(d.x().shape() == Shape{3, 784});
  const auto x = values(d.x());
  CHECK(x[0] == 1.0);
  CHECK(x[784 + 5] == doctest::Approx(0.2).epsilon(1e-7));
  CHECK(to_labels(d.y()) == std::vector<std::size_t>{9, 0, 4});

  dir.write("t10k-labels-idx1-ubyte", idx_bytes({3}, {9, 10, 4}));
  CHECK_THROWS_WITH(load_fashion_mnist(dir.path().string(), false),
                    ("load_fashion_mnist: " + (dir.path() / "t10k-labels-idx1-ubyte").string() +
                     ": label 10 at row 1 is not a class 0..9").c_str());
  dir.write("t10k-labels-idx1-ubyte", idx_bytes({2}, {9, 0}));
  CHECK_THROWS_WITH(load_fashion_mnist(dir.path().string(), false),
                    ("load_fashion_mnist: " + (dir.path() / "t10k-images-idx3-ubyte.gz").string() + " has 3 images but " +
                     (dir.path() / "t10k-labels-idx1-ubyte").string() + " has shape [2]").c_str());
}

TEST_CASE("data: the real Fashion-MNIST test set loads with the expected shape and ranges") {
  if (!fs::is_directory(kFashionMnistDir)) {
    // ctest reports this test as skipped, not passed (tests/CMakeLists.txt: SKIP_REGULAR_EXPRESSION)
    MESSAGE("CHAINRULE_TEST_SKIPPED: " << kFashionMnistDir << " is absent (Debian package dataset-fashion-mnist)");
    return;
  }
  const Dataset test = load_fashion_mnist(kFashionMnistDir, false);
  CHECK(test.size() == 10000);
  CHECK(test.x().shape() == Shape{10000, 784});
  CHECK(test.y().shape() == Shape{10000});
  const auto& x = test.x().data<float>();
  CHECK(*std::min_element(x.begin(), x.end()) == 0.0f);
  CHECK(*std::max_element(x.begin(), x.end()) == 1.0f);
  const auto labels = to_labels(test.y());
  REQUIRE(*std::max_element(labels.begin(), labels.end()) < 10);
  std::vector<std::size_t> per_class(10, 0);
  for (auto l : labels) ++per_class[l];
  CHECK(per_class == std::vector<std::size_t>(10, 1000));  // the test set is balanced: 1000 per class
  CHECK(one_hot(test.y(), 10).shape() == Shape{10000, 10});
}
