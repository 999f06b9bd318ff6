// Storage: safetensors round trips and exact bytes, the reader's validation of hostile files, atomic saves.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/serialize.hpp>
#include "helpers.hpp"

using namespace chainrule;
using namespace chainrule::nn;
namespace fs = std::filesystem;
using nn::io_testing::WriteStage;
using test::TempDir;

using test::read_bytes;
using test::write_bytes;
using test::u64_le;
namespace {


// Resets the failure hook even when a check throws.
struct FailureGuard {
  explicit FailureGuard(WriteStage s) { nn::io_testing::set_write_failure(s); }
  ~FailureGuard() { nn::io_testing::set_write_failure(WriteStage::None); }
};


// A safetensors file from a header text (unpadded, as another writer may leave it) and a data section.
std::string st_file(const std::string& header, const std::string& data) { return u64_le(header.size()) + header + data; }

// Tensor of the given shape whose elements run through awkward bit patterns: signed zeros, subnormals, infinities,
// NaNs with payloads, and ordinary values, so "bit-identical" means something.
template <class T> Tensor patterned(const Shape& shape, std::uint64_t seed) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits specials[] = {Bits(0), Bits(1) << (sizeof(T) * 8 - 1), Bits(1), ~Bits(0), Bits(0x7f800001u)};
  std::mt19937_64 rng(seed);
  Array<T> a = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) {
    Bits b = i < std::size(specials) ? specials[i] : static_cast<Bits>(rng());
    std::memcpy(&a.data()[i], &b, sizeof b);
  }
  return Tensor(std::move(a));
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return chainrule::detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return a.numel() == 0 || std::memcmp(a.data<T>().data(), b.data<T>().data(), a.numel() * sizeof(T)) == 0;
  });
}

// Python with numpy, for the cross-check; empty if there is none.
std::string python_with_numpy() {
  for (const char* py : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(py) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

// The small file of the byte-exact test: "w" F32 [2] = {1, -2}, "b" F64 [] = 0.5, metadata format = pt.
NamedTensors small_tensors() {
  return {{"w", tensor({1.0, -2.0})}, {"b", tensor(0.5, kFloat64)}};
}
const std::string kSmallHeader =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
    R"("b":{"dtype":"F64","shape":[],"data_offsets":[8,16]}})"
    "      ";  // 138 bytes of JSON + 6 spaces = 144: the data section starts 8-aligned
const std::string kSmallData = std::string("\x00\x00\x80\x3f" "\x00\x00\x00\xc0", 8) +  // 1.0f, -2.0f
                               std::string("\x00\x00\x00\x00\x00\x00\xe0\x3f", 8);     // 0.5
const std::string kSmallFile = std::string("\x90\0\0\0\0\0\0\0", 8) + kSmallHeader + kSmallData;

}  // namespace

TEST_CASE("serialize: float32 and float64 tensors round-trip bit-identically, names in saved order") {
  TempDir dir;
  const NamedTensors saved{
      {"z.weight", patterned<float>({3, 4}, 1)},   {"a.bias", patterned<double>({4}, 2)},
      {"scalar32", patterned<float>({}, 3)},       {"scalar64", patterned<double>({}, 4)},
      {"empty", patterned<float>({0, 3}, 5)},      {"cube", patterned<double>({2, 3, 5}, 6)},
      {"empty64", patterned<double>({4, 0}, 7)},   {"row", patterned<float>({1, 7}, 8)},
  };
  save_safetensors(dir / "model.safetensors", saved);
  const NamedTensors loaded = load_safetensors(dir / "model.safetensors");
  REQUIRE(loaded.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    CAPTURE(saved[i].first);
    CHECK(loaded[i].first == saved[i].first);
    CHECK(bit_equal(loaded[i].second, saved[i].second));
    CHECK_FALSE(loaded[i].second.requires_grad());
  }
  CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("serialize: the file is exactly the safetensors layout, byte for byte") {
  TempDir dir;
  save_safetensors(dir / "small.safetensors", small_tensors(), {{"format", "pt"}});
  CHECK(read_bytes(dir / "small.safetensors") == kSmallFile);

  write_bytes(dir / "by_hand.safetensors", kSmallFile);  // and the hand-made bytes read back
  Metadata meta;
  const NamedTensors t = load_safetensors(dir / "by_hand.safetensors", &meta);
  REQUIRE(t.size() == 2);
  CHECK(t[0].first == "w");
  CHECK(t[0].second.data<float>() == Array<float>({1, -2}));
  CHECK(t[1].first == "b");
  CHECK(t[1].second.dim() == 0);
  CHECK(t[1].second.item() == 0.5);
  CHECK(meta == Metadata{{"format", "pt"}});
}

TEST_CASE("serialize: no tensors and no metadata make a valid file") {
  TempDir dir;
  save_safetensors(dir / "none.safetensors", {});
  CHECK(read_bytes(dir / "none.safetensors") == u64_le(8) + "{}      ");
  Metadata meta{{"stale", "entry"}};
  CHECK(load_safetensors(dir / "none.safetensors", &meta).empty());
  CHECK(meta.empty());
}

TEST_CASE("serialize: metadata round-trips, a JSON document fits in one value") {
  TempDir dir;
  const Metadata meta{{"format", "pt"},
                      {"chainrule.config", R"({"layers": [{"type": "Linear", "in": 784}], "note": "ü \"q\""})"},
                      {"empty", ""}};
  save_safetensors(dir / "m.safetensors", {{"w", tensor({1.0, 2.0, 3.0})}}, meta);
  Metadata back;
  load_safetensors(dir / "m.safetensors", &back);
  CHECK(back == meta);
}

TEST_CASE("serialize: Python reads our file, and we read a file Python wrote (numpy + json)") {
  const std::string py = python_with_numpy();
  if (py.empty()) {
    MESSAGE("CHAINRULE_TEST_SKIPPED: no python3 with numpy on this machine");
    return;
  }
  const std::string script = std::string(CHAINRULE_TEST_DATA) + "/check_safetensors.py";
  TempDir dir;
  // The values follow the script's convention: element k is k * 0.25 - 3.
  auto values = [](const Shape& shape, Dtype d) {
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<double> v(n);
    for (std::size_t k = 0; k < n; ++k) v[k] = double(k) * 0.25 - 3;
    return from_vector(v, shape, d);
  };
  const NamedTensors ours{{"layer.0.weight", values({3, 2}, kFloat32)},
                          {"layer.0.bias", values({2}, kFloat64)},
                          {"scalar", values({}, kFloat64)},
                          {"empty", values({0, 3}, kFloat32)}};
  const Metadata meta{{"writer", "chainrule"}, {"config", R"({"layers": [3, 2]})"}};
  save_safetensors(dir / "ours.safetensors", ours, meta);
  CHECK(std::system((py + " " + script + " read " + dir / "ours.safetensors").c_str()) == 0);

  REQUIRE(std::system((py + " " + script + " write " + dir / "theirs.safetensors").c_str()) == 0);
  Metadata theirs_meta;
  const NamedTensors theirs = load_safetensors(dir / "theirs.safetensors", &theirs_meta);
  REQUIRE(theirs.size() == ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    CAPTURE(ours[i].first);
    CHECK(theirs[i].first == ours[i].first);  // their header lists the keys in reverse: order comes from offsets
    CHECK(bit_equal(theirs[i].second, ours[i].second));
  }
  CHECK(theirs_meta == meta);
}

TEST_CASE("serialize: another writer's header (spaces, keys out of offset order, no padding) loads in offset order") {
  TempDir dir;
  const std::string header = R"({ "b" : { "shape" : [ ], "data_offsets" : [ 8, 16 ], "dtype" : "F64" },)"
                             R"( "e" : { "dtype" : "F32", "shape" : [ 2, 0 ], "data_offsets" : [ 16, 16 ] },)"
                             R"( "w" : { "dtype" : "F32", "shape" : [ 2 ], "data_offsets" : [ 0, 8 ] } })";
  write_bytes(dir / "f.safetensors", st_file(header, kSmallData));
  const NamedTensors t = load_safetensors(dir / "f.safetensors");
  REQUIRE(t.size() == 3);
  CHECK(t[0].first == "w");
  CHECK(t[1].first == "b");
  CHECK(t[2].first == "e");
  CHECK(t[2].second.shape() == Shape{2, 0});
}

TEST_CASE("serialize: missing, unreadable and too-short files throw naming the file and the reason") {
  TempDir dir;
  const std::string missing = dir / "missing.safetensors";
  CHECK_THROWS_WITH_AS(load_safetensors(missing), (missing + ": cannot open: No such file or directory").c_str(),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(load_safetensors(dir / ""), (dir / "" + ": is a directory, not a regular file").c_str(), std::runtime_error);
  write_bytes(dir / "short", std::string("\x08\0\0", 3));
  CHECK_THROWS_WITH_AS(load_safetensors(dir / "short"),
                       (dir / "short" + ": file has 3 bytes, too few for the 8-byte header length").c_str(),
                       std::runtime_error);
}

TEST_CASE("serialize: a header length of 2^63, or one past the 100 MB limit, is refused before allocating") {
  TempDir dir;
  const std::string huge = dir / "huge";
  write_bytes(huge, u64_le(std::uint64_t{1} << 63) + "{}");
  CHECK_THROWS_WITH_AS(load_safetensors(huge),
                       (huge + ": header length 9223372036854775808 exceeds the 2 bytes that follow it").c_str(),
                       std::runtime_error);
  // A sparse file big enough to hold the claimed header, so only the limit stops it.
  const std::string big = dir / "big";
  write_bytes(big, u64_le(100'000'001));
  fs::resize_file(big, 8 + 100'000'001);
  CHECK_THROWS_WITH_AS(load_safetensors(big),
                       (big + ": header length 100000001 exceeds the limit of 100000000 bytes").c_str(),
                       std::runtime_error);
}

TEST_CASE("serialize: a header that lies is refused with a message naming the file, tensor and problem") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  const std::string d64(64, '\0');  // 64 data bytes: sixteen F32 or eight F64 values
  auto entry = [](const std::string& name, const std::string& fields) { return "\"" + name + "\":{" + fields + "}"; };
  auto f32 = [&](const std::string& name, const std::string& shape, const std::string& offsets) {
    return entry(name, R"("dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets);
  };
  struct Case {
    std::string header, data, message;
  };
  const Case cases[] = {
      // JSON itself
      {"", d64, "header is not valid JSON: parse error at line 1, column 1: syntax error while parsing value - "
                "unexpected end of input; expected '[', '{', or a literal"},
      {"{\"a\":", d64, "header is not valid JSON: parse error at line 1, column 6: syntax error while parsing value - "
                       "unexpected end of input; expected '[', '{', or a literal"},
      {"[1,2]", "", "header is not a JSON object"},
      // a number no double holds (found by the fuzzer): nlohmann's out_of_range, refused as invalid JSON
      {R"({"w":1e99999})", d64, "header is not valid JSON: number overflow parsing '1e99999'"},
      {"{" + f32("w", "[16]", "[0,64]") + "," + f32("w", "[16]", "[0,64]") + "}", d64,
       "header has the key 'w' twice"},
      {"{" + entry("w", R"("dtype":"F32","dtype":"F64","shape":[16],"data_offsets":[0,64])") + "}", d64,
       "header has the key 'dtype' twice"},
      // entry structure and JSON types
      {R"({"w":[1,2]})", d64, "tensor 'w': entry is not a JSON object"},
      {"{" + entry("w", R"("shape":[16],"data_offsets":[0,64])") + "}", d64, "tensor 'w': missing field 'dtype'"},
      {"{" + entry("w", R"("dtype":"F32","data_offsets":[0,64])") + "}", d64, "tensor 'w': missing field 'shape'"},
      {"{" + entry("w", R"("dtype":"F32","shape":[16])") + "}", d64, "tensor 'w': missing field 'data_offsets'"},
      {"{" + entry("w", R"("dtype":"F32","shape":[16],"data_offsets":[0,64],"offsets":[0,64])") + "}", d64,
       "tensor 'w': unexpected field 'offsets'"},
      {"{" + entry("w", R"("dtype":32,"shape":[16],"data_offsets":[0,64])") + "}", d64,
       "tensor 'w': dtype 32 is not a string"},
      {"{" + entry("w", R"("dtype":"F16","shape":[32],"data_offsets":[0,64])") + "}", d64,
       "tensor 'w': unsupported dtype 'F16' (chainrule reads F32 and F64)"},
      {"{" + entry("w", R"("dtype":"I64","shape":[8],"data_offsets":[0,64])") + "}", d64,
       "tensor 'w': unsupported dtype 'I64' (chainrule reads F32 and F64)"},
      {"{" + f32("w", "16", "[0,64]") + "}", d64, "tensor 'w': shape 16 is not an array"},
      {"{" + f32("w", "[-4,-4]", "[0,64]") + "}", d64,
       "tensor 'w': shape [-4,-4] has a dimension that is not a non-negative integer"},
      {"{" + f32("w", "[16.0]", "[0,64]") + "}", d64,
       "tensor 'w': shape [16.0] has a dimension that is not a non-negative integer"},
      {"{" + f32("w", R"(["16"])", "[0,64]") + "}", d64,
       "tensor 'w': shape [\"16\"] has a dimension that is not a non-negative integer"},
      {"{" + f32("w", "[18446744073709551616]", "[0,64]") + "}", d64,  // 2^64 parses as a float
       "tensor 'w': shape [1.8446744073709552e+19] has a dimension that is not a non-negative integer"},
      {"{" + f32("w", "[4294967296,4294967296]", "[0,64]") + "}", d64,
       "tensor 'w': shape [4294967296,4294967296] has too many elements"},
      {"{" + f32("w", "[0,4294967296,4294967296]", "[0,0]") + "}", "",
       "tensor 'w': shape [0,4294967296,4294967296] has too many elements"},
      {"{" + f32("w", "[0,4294967296,2147483648]", "[0,0]") + "}", "",  // 2^63 fits a u64, not xtensor's strides
       "tensor 'w': shape [0,4294967296,2147483648] has too many elements"},
      {"{" + f32("w", "[4611686018427387904]", "[0,64]") + "}", d64,  // 2^62 elements · 4 bytes overflows
       "tensor 'w': shape [4611686018427387904] has too many elements"},
      // offsets
      {"{" + f32("w", "[16]", "[0]") + "}", d64,
       "tensor 'w': data_offsets [0] is not [begin, end] with non-negative integers"},
      {"{" + f32("w", "[16]", "[0,64,64]") + "}", d64,
       "tensor 'w': data_offsets [0,64,64] is not [begin, end] with non-negative integers"},
      {"{" + f32("w", "[16]", "[-8,56]") + "}", d64,
       "tensor 'w': data_offsets [-8,56] is not [begin, end] with non-negative integers"},
      {"{" + f32("w", "[16]", R"({"begin":0,"end":64})") + "}", d64,
       "tensor 'w': data_offsets {\"begin\":0,\"end\":64} is not [begin, end] with non-negative integers"},
      {"{" + f32("w", "[0]", "[8,4]") + "}", d64, "tensor 'w': data_offsets [8, 4] ends before it begins"},
      {"{" + f32("0.weight", "[25]", "[0,100]") + "}", d64,
       "tensor '0.weight': data_offsets [0, 100] out of range (data section has 64 bytes)"},
      {"{" + f32("w", "[4]", "[0,18446744073709551615]") + "}", d64,
       "tensor 'w': data_offsets [0, 18446744073709551615] out of range (data section has 64 bytes)"},
      {"{" + f32("w", "[15]", "[0,64]") + "}", d64,
       "tensor 'w': data_offsets [0, 64] holds 64 bytes, but F32 shape [15] needs 60"},
      {"{" + entry("w", R"("dtype":"F64","shape":[16],"data_offsets":[0,64])") + "}", d64,
       "tensor 'w': data_offsets [0, 64] holds 64 bytes, but F64 shape [16] needs 128"},
      // tiling of the data section
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("b", "[8]", "[16,48]") + "," + f32("c", "[4]", "[48,64]") + "}",
       d64, "tensor 'b': data_offsets [16, 48] overlap tensor 'a' [0, 32]"},
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("b", "[8]", "[0,32]") + "," + f32("c", "[8]", "[32,64]") + "}",
       d64, "tensor 'b': data_offsets [0, 32] overlap tensor 'a' [0, 32]"},
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("e", "[0]", "[16,16]") + "," + f32("c", "[8]", "[32,64]") + "}",
       d64, "tensor 'e': data_offsets [16, 16] overlap tensor 'a' [0, 32]"},
      {"{" + f32("a", "[4]", "[0,16]") + "," + f32("b", "[8]", "[32,64]") + "}", d64,
       "bytes [16, 32] of the data section belong to no tensor"},
      {"{" + f32("a", "[8]", "[0,32]") + "}", d64, "bytes [32, 64] of the data section belong to no tensor"},
      {"{}", d64, "bytes [0, 64] of the data section belong to no tensor"},
      // off by one byte: each of these once loaded the wrong numbers silently when only 16-byte gaps were tested
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("b", "[7]", "[33,61]") + "," + f32("c", "[0]", "[64,64]") + "}",
       d64, "bytes [32, 33] of the data section belong to no tensor"},
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("b", "[8]", "[31,63]") + "}", d64,
       "tensor 'b': data_offsets [31, 63] overlap tensor 'a' [0, 32]"},
      {"{" + f32("a", "[8]", "[1,33]") + "," + f32("b", "[8]", "[33,65]") + "}", d64 + '\0',
       "bytes [0, 1] of the data section belong to no tensor"},
      {"{" + f32("a", "[8]", "[0,32]") + "," + f32("b", "[8]", "[32,64]") + "}", d64 + '\0',
       "bytes [64, 65] of the data section belong to no tensor"},
      // metadata
      {R"({"__metadata__":["format","pt"]})", "", "__metadata__ is not a JSON object"},
      {R"({"__metadata__":{"epochs":10}})", "", "__metadata__ value of 'epochs' is not a string"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    write_bytes(path, st_file(c.header, c.data));
    CHECK_THROWS_WITH_AS(load_safetensors(path), (path + ": " + c.message).c_str(), std::runtime_error);
  }
}

TEST_CASE("serialize: every truncation of a valid file throws, none crashes") {
  TempDir dir;
  const std::string path = dir / "cut.safetensors";
  for (std::size_t n = 0; n < kSmallFile.size(); ++n) {
    CAPTURE(n);
    write_bytes(path, kSmallFile.substr(0, n));
    CHECK_THROWS_AS(load_safetensors(path), std::runtime_error);
  }
  write_bytes(path, kSmallFile);
  CHECK(load_safetensors(path).size() == 2);
}

TEST_CASE("serialize: random byte flips either load or throw std::runtime_error, nothing else") {
  TempDir dir;
  const std::string path = dir / "flip.safetensors";
  std::mt19937 rng(20240601);
  int loaded = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = kSmallFile;
    test::flip_bytes(bytes, rng, 3);
    write_bytes(path, bytes);
    try {
      load_safetensors(path);
      ++loaded;
    } catch (const std::runtime_error&) {
      ++refused;
    } catch (...) {
      FAIL("trial " << trial << ": an exception other than std::runtime_error");
    }
  }
  CHECK(loaded + refused == 3000);
  CHECK(loaded > 0);  // flips in the data section leave a valid file
  CHECK(refused > 0);
}

TEST_CASE("serialize: save refuses names a safetensors file cannot hold, and undefined tensors") {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  const Tensor t = tensor({1.0});
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w", t}, {"w", t}}),
                       (path + ": cannot save: tensor #1 'w': duplicate name").c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"", t}}), (path + ": cannot save: tensor #0 has an empty name").c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"__metadata__", t}}),
                       (path + ": cannot save: tensor #0 '__metadata__': the name is reserved for metadata").c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w\xff", t}}),
                       (path + ": cannot save: tensor #0 'w\xff': the name is not valid UTF-8").c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w", Tensor()}}),
                       (path + ": cannot save: tensor #0 'w' is undefined").c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w", t}}, {{"k", "\xc3"}}),
                       (path + ": cannot save: metadata entry 'k' is not valid UTF-8").c_str(), std::invalid_argument);
  CHECK(dir.files().empty());
}

TEST_CASE("serialize: a save failing at any stage leaves the previous file intact and no temporary file") {
  const std::pair<WriteStage, const char*> stages[] = {
      {WriteStage::Open, "open: Input/output error"},       {WriteStage::Write, "write: No space left on device"},
      {WriteStage::Flush, "flush: Input/output error"},     {WriteStage::Fsync, "fsync: Input/output error"},
      {WriteStage::Close, "close: Input/output error"},     {WriteStage::Rename, "rename: Input/output error"},
  };
  for (const auto& [stage, reason] : stages) {
    CAPTURE(nn::io_testing::write_stage_name(stage));
    TempDir dir;
    const std::string path = dir / "model.safetensors";
    save_safetensors(path, small_tensors(), {{"format", "pt"}});
    {
      FailureGuard fail(stage);
      CHECK_THROWS_WITH_AS(save_safetensors(path, {{"other", tensor({9.0, 9.0, 9.0})}}),
                           (path + ": save failed at " + reason).c_str(), std::runtime_error);
      CHECK_THROWS_WITH_AS(save_json_atomic(dir / "config.json", "{}"),
                           (dir / "config.json" + ": save failed at " + reason).c_str(), std::runtime_error);
      CHECK_THROWS_WITH_AS(save_text_atomic(dir / "h.csv", "a,b\n"),
                           (dir / "h.csv" + ": save failed at " + reason).c_str(), std::runtime_error);
    }
    CHECK(read_bytes(path) == kSmallFile);
    CHECK(load_safetensors(path).size() == 2);
    CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});  // no temporary, no config.json, no h.csv
  }
}

TEST_CASE("serialize: a save that the file system refuses names the path and errno's reason") {
  TempDir dir;
  const std::string path = dir / "no_such_dir/model.safetensors";
  CHECK_THROWS_WITH_AS(save_safetensors(path, small_tensors()),
                       (path + ": save failed at open: No such file or directory").c_str(), std::runtime_error);
  fs::create_directory(dir / "a_directory");  // rename() cannot replace a directory with a file
  CHECK_THROWS_WITH_AS(save_safetensors(dir / "a_directory", small_tensors()),
                       (dir / "a_directory" + ": cannot save over a directory (not a regular file)").c_str(), std::runtime_error);
  CHECK(dir.files() == std::vector<std::string>{"a_directory"});
}

TEST_CASE("serialize: save_json_atomic and save_text_atomic write text that read_text_file returns unchanged") {
  TempDir dir;
  const std::string path = dir / "config.json";
  const std::string doc = "{\n  \"layers\": [{\"type\": \"Dense\", \"units\": 10}],\n  \"optimizer\": \"adam\"\n}\n";
  save_json_atomic(path, doc);
  CHECK(read_text_file(path) == doc);
  save_json_atomic(path, "[]");  // replaces
  CHECK(read_text_file(path) == "[]");
  CHECK_THROWS_WITH_AS(save_json_atomic(path, "{\"a\": }"), (path + ": cannot save: the text is not valid JSON").c_str(),
                       std::invalid_argument);
  CHECK(read_text_file(path) == "[]");
  save_text_atomic(dir / "h.csv", "epoch,loss\n1,0.5\n");  // any text, not only JSON
  CHECK(read_text_file(dir / "h.csv") == "epoch,loss\n1,0.5\n");
  fs::remove(dir / "h.csv");
  const std::string big(200'000, ' ');  // longer than one read buffer
  save_json_atomic(path, "1" + big);
  CHECK(read_text_file(path) == "1" + big);
  CHECK_THROWS_WITH_AS(read_text_file(dir / "missing.json"),
                       (dir / "missing.json" + ": cannot open: No such file or directory").c_str(), std::runtime_error);
  CHECK_THROWS_WITH_AS(read_text_file(dir / ""), (dir / "" + ": is a directory, not a regular file").c_str(),
                       std::runtime_error);
  CHECK(dir.files() == std::vector<std::string>{"config.json"});
}
