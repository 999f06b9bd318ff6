// Hostile files, systematically: every truncation, random byte flips, every header length that matters, and
// JSON that is valid but lies (every value of the safetensors header and of the model description replaced by
// each of a set of hostile values, every key deleted, shapes and dtypes that agree with the byte counts but not
// with the architecture, nesting 10^5 deep), fed to Model::load; and mutated CSV and IDX files fed to read_csv
// and read_idx. Each case must end in a usable model or in a std::runtime_error whose message starts with the
// file's path; nothing else (a crash, another exception type, a sanitizer report) is allowed.
// test_serialize.cpp has the hand-written cases with their exact messages; this file is the bulk.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zlib.h>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/data.hpp>
#include <chainrule/nn/model.hpp>
#include <chainrule/nn/serialize.hpp>
#include "helpers.hpp"

using namespace chainrule;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

using test::read_bytes;
using test::write_bytes;
using test::u64_le;
namespace {

// Under the sanitizers each load costs ~10x more; CHAINRULE_SANITIZER_BUILD (tests/CMakeLists.txt) runs fewer
// random trials there. The systematic cases (truncations, header lengths, JSON lies) always run in full.
#ifdef CHAINRULE_SANITIZER_BUILD
constexpr int kFlipTrials = 1000;
constexpr int kCsvTrials = 1000;
#else
constexpr int kFlipTrials = 4000;
constexpr int kCsvTrials = 3000;
#endif

// Thousands of small files are written: in memory (/dev/shm) when there is one, 10x faster than a disk's /tmp.
fs::path scratch_root() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

// Scratch files of the fuzz loops go to tmpfs when there is one: thousands of small writes.
test::TempDir scratch_dir() { return test::TempDir("chainrule_fuzz", scratch_root()); }


// A small model with every kind of stored tensor: Dense weights and biases, BatchNorm's parameters and running
// statistics, Adam's moments and step counters; an L2 penalty in the compile settings.
std::string small_model_file(const std::string& path) {
  manual_seed(11);
  nn::Model m;
  m.add(nn::make_dense(3, 4, "relu")).add(std::make_shared<nn::BatchNorm1d>(4)).add(nn::make_dense(4, 2, "softmax"));
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"}, 0.01);
  m.set_penalty(nn::Penalty::l2(1e-3));
  nn::FitOptions o;
  o.epochs = 1, o.batch_size = 4, o.verbose = 0;
  m.fit(randn({8, 3}), tensor({0.0, 1, 0, 1, 1, 0, 0, 1}), o);
  m.save(path);
  return read_bytes(path);
}

// Tallies of what the cases did, and the first few that broke the rule.
struct Outcomes {
  int loaded = 0, refused = 0;
  std::vector<std::string> broken;
  void bad(const std::string& what) {
    if (broken.size() < 10) broken.push_back(what);
  }
};

// Loads the model at `path`; a model that loads must predict, and train a step when it was compiled.
void try_load(const std::string& path, const std::string& label, Outcomes& out) {
  try {
    nn::Model m = nn::Model::load(path);
    std::size_t width = 0;
    for (std::size_t i = 0; i < m.net().size() && width == 0; ++i)
      if (auto* l = dynamic_cast<nn::Linear*>(m.net()[i].get())) width = l->in_features();
    if (width == 0) {
      ++out.loaded;  // a net with no Linear layer (the lie removed them all): nothing to run it on
      return;
    }
    const Dtype dt = m.parameters().empty() ? kFloat32 : m.parameters()[0].dtype();
    const Tensor x = ones({2, width}, dt);
    const Tensor p = m.predict(x);
    if (p.dim() != 2 || p.size(0) != 2) out.bad(label + ": predict gave shape " + shape_str(p.shape()));
    ++out.loaded;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path + ": ", 0) != 0) out.bad(label + ": message does not start with the path: " + msg);
    ++out.refused;
  } catch (const std::exception& e) {
    out.bad(label + ": not a std::runtime_error: " + e.what());
  }
}

void report(const Outcomes& o, const std::string& what) {
  MESSAGE(what << ": " << o.loaded << " loaded, " << o.refused << " refused");
  for (const auto& b : o.broken) FAIL_CHECK(b);
}

// A safetensors file split into its header (parsed) and data section.
struct StParts {
  Json header;
  std::string data;
};
StParts split(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = n << 8 | static_cast<unsigned char>(bytes[b]);
  return {Json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}
std::string join(const Json& header, const std::string& data) {
  const std::string h = header.dump();
  return u64_le(h.size()) + h + data;
}

// Every node under the root, as JSON pointers (containers too: replacing a whole entry is a case of its own).
void pointers(const Json& j, const Json::json_pointer& at, std::vector<Json::json_pointer>& out) {
  if (j.is_object())
    for (const auto& item : j.items()) {
      out.push_back(at / item.key());
      pointers(item.value(), at / item.key(), out);
    }
  else if (j.is_array())
    for (std::size_t i = 0; i < j.size(); ++i) {
      out.push_back(at / i);
      pointers(j[i], at / i, out);
    }
}

// Values a liar would put anywhere: wrong types, signs, fractions, extremes, huge counts.
const std::vector<Json>& hostile_values() {
  static const std::vector<Json> v = {
      nullptr, true, false, -1, 0, 1, 2, 0.5, -0.0, 1e308, -1e308, 1073741824, 4294967296,
      std::uint64_t{1} << 62, std::uint64_t(-1), "", "x", "F64", "F16", "relu", "Sequential", Json::array(),
      Json::array({1, 2}), Json::array({Json::array()}), Json::object(), Json::object({{"type", "Dense"}})};
  return v;
}

// Every node replaced by every hostile value, and every node deleted, in the document `get/put` reach inside
// the file; each mutant is loaded.
template <class Get, class Put>
void lie_everywhere(const std::string& original, const std::string& path, const std::string& what, Get get, Put put,
                    Outcomes& out) {
  const StParts parts = split(original);
  const Json doc = get(parts.header);
  std::vector<Json::json_pointer> ptrs;
  pointers(doc, Json::json_pointer(), ptrs);
  for (const auto& ptr : ptrs) {
    for (const Json& v : hostile_values()) {
      Json d = doc;
      d[ptr] = v;
      write_bytes(path, join(put(parts.header, d), parts.data));
      try_load(path, what + " " + ptr.to_string() + " = " + v.dump(), out);
    }
    Json d = doc;
    const Json::json_pointer parent = ptr.parent_pointer();
    if (d[parent].is_object()) d[parent].erase(ptr.back());
    else d[parent].erase(std::stoul(ptr.back()));
    write_bytes(path, join(put(parts.header, d), parts.data));
    try_load(path, what + " " + ptr.to_string() + " deleted", out);
  }
}

}  // namespace

TEST_CASE("fuzz: Model::load of every truncation of a saved model throws naming the file") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  const std::string path = dir / "cut.safetensors";
  Outcomes out;
  for (std::size_t n = 0; n < good.size(); ++n) {
    write_bytes(path, good.substr(0, n));
    try_load(path, "truncated to " + std::to_string(n) + " bytes", out);
  }
  report(out, "truncations");
  CHECK(out.loaded == 0);
  CHECK(out.refused == static_cast<int>(good.size()));
}

TEST_CASE("fuzz: Model::load with every header length that matters, 0 to 2^64 - 1") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  const std::string path = dir / "len.safetensors";
  const std::uint64_t size = good.size();
  std::uint64_t true_len = 0;
  for (int b = 7; b >= 0; --b) true_len = true_len << 8 | static_cast<unsigned char>(good[b]);
  Outcomes out;
  for (std::uint64_t len : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{7}, true_len - 8,
                            true_len - 1, true_len + 1, true_len + 8, size - 8, size - 7, size, std::uint64_t{1} << 31,
                            std::uint64_t{1} << 32, std::uint64_t{1} << 63, (std::uint64_t{1} << 63) - 1,
                            std::uint64_t(-1), std::uint64_t(-8)}) {
    write_bytes(path, u64_le(len) + good.substr(8));
    try_load(path, "header length " + std::to_string(len), out);
  }
  report(out, "header lengths");
  CHECK(out.loaded == 0);
  CHECK(out.refused == 17);
}

TEST_CASE("fuzz: Model::load survives random byte flips: a usable model or an error naming the file") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  const std::string path = dir / "flip.safetensors";
  std::mt19937 rng(31337);
  Outcomes out;
  for (int trial = 0; trial < kFlipTrials; ++trial) {
    std::string bytes = good;
    test::flip_bytes(bytes, rng, 4);
    write_bytes(path, bytes);
    try_load(path, "flip trial " + std::to_string(trial), out);
  }
  report(out, "byte flips");
  CHECK(out.loaded + out.refused == kFlipTrials);
  CHECK(out.loaded > 0);  // flips in the data section leave a valid file
  CHECK(out.refused > 0);
}

TEST_CASE("fuzz: Model::load of a safetensors header that lies, value by value") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  Outcomes out;
  lie_everywhere(
      good, dir / "lie.safetensors", "header",
      [](const Json& h) {
        Json tensors = h;
        tensors.erase("__metadata__");  // the model description has its own test
        return tensors;
      },
      [](const Json& h, const Json& tensors) {
        Json out = tensors;
        out["__metadata__"] = h["__metadata__"];
        return out;
      },
      out);
  report(out, "header lies");
  CHECK(out.refused > 1000);
}

TEST_CASE("fuzz: Model::load of a model description that lies, value by value") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  Outcomes out;
  lie_everywhere(
      good, dir / "lie.safetensors", "description",
      [](const Json& h) { return Json::parse(h["__metadata__"]["chainrule"].get<std::string>()); },
      [](const Json& h, const Json& meta) {
        Json out = h;
        out["__metadata__"]["chainrule"] = meta.dump();
        return out;
      },
      out);
  report(out, "description lies");
  CHECK(out.refused > 1000);
}

TEST_CASE("fuzz: shapes and dtypes that agree with the byte counts but not with the architecture are refused") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  const StParts parts = split(good);
  const std::string path = dir / "lie.safetensors";
  Outcomes out;
  int cases = 0;
  for (const auto& item : parts.header.items()) {
    if (item.key() == "__metadata__") continue;
    const Json& e = item.value();
    std::uint64_t n = 1;
    for (const auto& d : e["shape"]) n *= d.get<std::uint64_t>();
    const std::string dtype = e["dtype"];
    std::vector<Json> lies;  // (dtype, shape) pairs holding the same number of bytes
    if (e["shape"].size() == 2 && e["shape"][0] != e["shape"][1])
      lies.push_back({dtype, {e["shape"][1], e["shape"][0]}});
    lies.push_back({dtype, Json::array({n})});
    if (n > 1) lies.push_back({dtype, {1, n}});
    if (dtype == "F32" && n % 2 == 0) lies.push_back({"F64", Json::array({n / 2})});
    if (dtype == "F64") lies.push_back({"F32", Json::array({2 * n})});
    for (const Json& lie : lies) {
      if (lie[0] == dtype && lie[1] == e["shape"]) continue;
      Json h = parts.header;
      h[item.key()]["dtype"] = lie[0];
      h[item.key()]["shape"] = lie[1];
      write_bytes(path, join(h, parts.data));
      try_load(path, item.key() + " as " + lie.dump(), out);
      ++cases;
    }
  }
  report(out, "consistent shape/dtype lies");
  CHECK(cases > 30);
  CHECK(out.loaded == 0);
  CHECK(out.refused == cases);
}

TEST_CASE("fuzz: JSON nested 10^5 deep, in the header and in the model description, is refused") {
  const test::TempDir dir = scratch_dir();
  const std::string good = small_model_file(dir / "good.safetensors");
  const StParts parts = split(good);
  const std::string path = dir / "deep.safetensors";
  const std::size_t depth = 100000;
  Outcomes out;
  // The header itself: {"x": [[[[...]]]]}
  std::string h = "{\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  write_bytes(path, u64_le(h.size()) + h);
  try_load(path, "header nested arrays", out);
  // A model description whose architecture nests Sequentials 10^5 deep.
  std::string arch;
  for (std::size_t i = 0; i < depth; ++i) arch += R"({"type":"Sequential","layers":[)";
  for (std::size_t i = 0; i < depth; ++i) arch += "]}";
  Json meta = Json::parse(parts.header["__metadata__"]["chainrule"].get<std::string>());
  std::string text = meta.dump();
  const std::string key = "\"architecture\":";
  const auto at = text.find(key) + key.size();
  const auto end = text.find(",\"compile\"");
  REQUIRE(end != std::string::npos);
  text.replace(at, end - at, arch);
  Json hh = parts.header;
  hh["__metadata__"]["chainrule"] = text;
  write_bytes(path, join(hh, parts.data));
  try_load(path, "nested Sequentials", out);
  report(out, "deep nesting");
  CHECK(out.refused == 2);
}

TEST_CASE("fuzz: read_csv of mutated files ends in a table of finite numbers or an error naming the file") {
  const test::TempDir dir = scratch_dir();
  const std::string good = "x1,x2,label\n0.5,-1.25,0\n3e2,4,1\n\"7\",8.5,2\n-0.0,1e-3,1\n";
  const std::string path = dir / "m.csv";
  // Pieces a broken export leaves behind: text, NaN, infinities, separators, quotes, line ends, huge exponents.
  const std::vector<std::string> junk = {"abc", "nan", "NaN", "inf", "-inf", ",", ",,", "\"", "\n", "\r\n", "\n\n",
                                         "1e999", "-1e-999", "0x1p3", " ", "\t", "\xef\xbb\xbf", std::string(1, '\0'),
                                         "\xff\xfe", "1.2.3", "--1", "+", "e5", "1e", ";", "label"};
  std::mt19937 rng(4242);
  int loaded = 0, refused = 0;
  std::vector<std::string> broken;
  auto attempt = [&](const std::string& bytes, const std::string& label) {
    write_bytes(path, bytes);
    nn::CsvOptions o;
    o.label = "label";
    try {
      const nn::CsvData d = nn::read_csv(path, o);
      bool finite = d.x.dim() == 2 && d.y.dim() == 1 && d.x.size(0) == d.y.size(0) && d.x.size(0) > 0;
      for (float v : d.x.data<float>()) finite = finite && std::isfinite(v);
      for (float v : d.y.data<float>()) finite = finite && std::isfinite(v);
      if (!finite && broken.size() < 10) broken.push_back(label + ": loaded a table that is not finite or ragged");
      ++loaded;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      if (msg.find(path) == std::string::npos && broken.size() < 10)
        broken.push_back(label + ": message does not name the file: " + msg);
      ++refused;
    } catch (const std::exception& e) {
      if (broken.size() < 10) broken.push_back(label + ": not a std::runtime_error: " + e.what());
    }
  };
  for (std::size_t n = 0; n <= good.size(); ++n) attempt(good.substr(0, n), "truncated to " + std::to_string(n));
  for (int trial = 0; trial < kCsvTrials; ++trial) {
    std::string bytes = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const std::size_t at = rng() % (bytes.size() + 1);
      switch (rng() % 3) {
        case 0: bytes.insert(at, junk[rng() % junk.size()]); break;                       // insert junk
        case 1: if (at < bytes.size()) bytes.erase(at, 1 + rng() % 4); break;             // delete a run
        default: if (at < bytes.size()) bytes[at] = static_cast<char>(rng() % 256); break;  // replace a byte
      }
    }
    attempt(bytes, "csv trial " + std::to_string(trial));
  }
  MESSAGE("csv: " << loaded << " loaded, " << refused << " refused");
  for (const auto& b : broken) FAIL_CHECK(b);
  CHECK(loaded > 0);
  CHECK(refused > kCsvTrials / 2);
}

TEST_CASE("fuzz: read_idx of truncated, flipped, lying and corrupt-gzip files ends in a tensor or an error") {
  const test::TempDir dir = scratch_dir();
  // Two 3x4 images, bytes 0..23: the good file, raw and gzipped.
  std::string good = {0, 0, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  for (int k = 0; k < 24; ++k) good += static_cast<char>(k * 10);
  const std::string path = dir / "m-idx3-ubyte", gz = dir / "m-idx3-ubyte.gz";
  auto gzip = [&](const std::string& bytes) {
    gzFile f = gzopen(gz.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
    return read_bytes(gz);
  };
  const std::string good_gz = gzip(good);
  int loaded = 0, refused = 0;
  std::vector<std::string> broken;
  auto attempt = [&](const std::string& file, const std::string& bytes, const std::string& label) {
    write_bytes(file, bytes);
    try {
      const Tensor t = nn::read_idx(file);
      std::size_t n = 1;
      for (auto d : t.shape()) n *= d;
      if (n != t.numel() && broken.size() < 10) broken.push_back(label + ": inconsistent tensor");
      ++loaded;
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find(file) == std::string::npos && broken.size() < 10)
        broken.push_back(label + ": message does not name the file: " + e.what());
      ++refused;
    } catch (const std::exception& e) {
      if (broken.size() < 10) broken.push_back(label + ": not a std::runtime_error: " + e.what());
    }
  };
  int refused_expected = 0;
  for (std::size_t n = 0; n < good.size(); ++n, ++refused_expected)
    attempt(path, good.substr(0, n), "raw cut " + std::to_string(n));
  for (std::size_t n = 0; n < good_gz.size(); ++n) attempt(gz, good_gz.substr(0, n), "gz cut " + std::to_string(n));
  // Headers that lie: every magic byte, every dimension count, dimensions up to 2^32 - 1 (product overflows).
  for (int b = 0; b < 4; ++b)
    for (int v : {0x00, 0x01, 0x03, 0x08, 0x0D, 0x0E, 0xFF}) {
      std::string bytes = good;
      bytes[b] = static_cast<char>(v);
      attempt(path, bytes, "magic byte " + std::to_string(b) + " = " + std::to_string(v));
    }
  for (std::uint32_t d : {0u, 1u, 5u, 0x7FFFFFFFu, 0xFFFFFFFFu})
    for (int which = 0; which < 3; ++which) {
      std::string bytes = good;
      for (int s = 0; s < 4; ++s) bytes[4 + 4 * which + s] = static_cast<char>(d >> (24 - 8 * s));
      attempt(path, bytes, "dimension " + std::to_string(which) + " = " + std::to_string(d));
      attempt(gz, gzip(bytes), "gz dimension " + std::to_string(which) + " = " + std::to_string(d));
    }
  // libFuzzer's find: a 0 makes the count 0, and the other dimensions overflowed xtensor's (signed) strides.
  {
    std::string bytes = {0, 0, 0x08, 0x04, 0, 0, 0, 0};
    for (int d = 0; d < 3; ++d) bytes += std::string("\x7f\xff\xff\xff", 4);
    write_bytes(path, bytes);
    CHECK_THROWS_WITH_AS(nn::read_idx(path),
                         ("read_idx: " + path + ": shape [0,2147483647,2147483647,2147483647] is too large").c_str(),
                         std::runtime_error);
  }
  std::mt19937 rng(99);
  for (int trial = 0; trial < kFlipTrials / 4; ++trial) {
    const bool compressed = trial % 2 == 1;
    std::string bytes = compressed ? good_gz : good;
    const std::size_t at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ static_cast<char>(1 + rng() % 255));
    attempt(compressed ? gz : path, bytes, "flip trial " + std::to_string(trial));
  }
  MESSAGE("idx: " << loaded << " loaded, " << refused << " refused");
  for (const auto& b : broken) FAIL_CHECK(b);
  CHECK(loaded > 0);
  CHECK(refused > refused_expected);
}
