// Loading PyTorch's safetensors state dicts: nn::load_torch_state_dict against files written by torch
// (tests/reference/generate_torch_state_dict.py → torch_mlp_{f32,f16,bf16}.safetensors, torch_mlp.json), and the
// exact F16/BF16/I64 conversions of load_safetensors(path, metadata, SafetensorsDtypes::Torch).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/activations.hpp>
#include <chainrule/nn/layers.hpp>
#include <chainrule/nn/serialize.hpp>
#include <chainrule/nn/torch_state_dict.hpp>
#include "helpers.hpp"

using namespace chainrule;
using test::TempDir;

namespace {

// The torch model of the generator: nn.Sequential(Linear(4,3), BatchNorm1d(3), ReLU(), Linear(3,2)).
std::shared_ptr<nn::Sequential> tsd_torch_mlp(std::size_t hidden = 3, std::size_t extra_layers = 0) {
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Linear>(4, hidden))
      .add(std::make_shared<nn::BatchNorm1d>(hidden))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::Linear>(hidden, 2));
  for (std::size_t i = 0; i < extra_layers; ++i) net->add(std::make_shared<nn::Linear>(2, 2));
  return net;
}

nlohmann::json tsd_reference() {
  std::ifstream file(CHAINRULE_TEST_DATA "/torch_mlp.json");
  REQUIRE(file.good());
  return nlohmann::json::parse(file);
}

Tensor tsd_matrix(const nlohmann::json& rows) {
  std::vector<double> values;
  for (const auto& row : rows)
    for (const auto& v : row) values.push_back(v.get<double>());
  return from_vector(values, {rows.size(), rows[0].size()}, kFloat32);
}

// A safetensors file of one tensor with the given dtype name, shape and raw bytes.
std::string tsd_file(const TempDir& dir, const std::string& dtype, const std::string& shape, const std::string& raw) {
  std::string header = R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[0,)" +
                       std::to_string(raw.size()) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>(std::uint64_t{header.size()} >> (8 * b));
  return dir.write(dtype + ".safetensors", bytes + header + raw);
}

template <class T> std::string tsd_raw(const std::vector<T>& values) {
  std::string raw(values.size() * sizeof(T), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

std::uint32_t tsd_bits(float f) {
  std::uint32_t b = 0;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("torch state dict: files written by torch load in one call and reproduce torch's eval outputs") {
  const nlohmann::json ref = tsd_reference();
  const Tensor x = tsd_matrix(ref["input"]);
  for (const std::string suffix : {"f32", "f16", "bf16"}) {
    CAPTURE(suffix);
    auto net = tsd_torch_mlp();
    nn::load_torch_state_dict(*net, CHAINRULE_TEST_DATA "/torch_mlp_" + suffix + ".safetensors");
    net->eval();
    const Tensor y = net->forward(x);
    const nlohmann::json& expected = ref["output_" + suffix];
    REQUIRE(y.shape() == Shape{expected.size(), 2});
    const auto& values = std::as_const(y).data<float>();
    for (std::size_t i = 0; i < expected.size(); ++i)
      for (std::size_t j = 0; j < 2; ++j)
        CHECK(values(i, j) == doctest::Approx(expected[i][j].get<double>()).epsilon(1e-6));
  }
  // Linear weights arrive transposed ([out,in] in the file, [in,out] here) and BatchNorm's statistics as saved.
  auto net = tsd_torch_mlp();
  nn::load_torch_state_dict(*net, CHAINRULE_TEST_DATA "/torch_mlp_f32.safetensors");
  const nn::NamedTensors file = nn::load_safetensors(CHAINRULE_TEST_DATA "/torch_mlp_f32.safetensors", nullptr,
                                                     nn::SafetensorsDtypes::Torch);
  for (const auto& [name, t] : file) {
    if (name == "0.weight") CHECK(xt::all(xt::equal(std::as_const(net->at<nn::Linear>(0).weight()).data<float>(),
                                                     xt::transpose(std::as_const(t).data<float>()))));
    if (name == "1.running_var")
      CHECK(xt::all(xt::equal(std::as_const(net->at<nn::BatchNorm1d>(1).running_var()).data<float>(),
                              std::as_const(t).data<float>())));
    if (name == "1.num_batches_tracked") CHECK(t.dtype() == kFloat64);  // I64 5 → float64 5, skipped on load
  }
}

TEST_CASE("torch state dict: errors name the file, the key, the shapes and the dtype") {
  const std::string f32 = CHAINRULE_TEST_DATA "/torch_mlp_f32.safetensors";
  {
    auto net = tsd_torch_mlp(5);  // hidden 5 instead of 3
    const Tensor before = clone(net->at<nn::Linear>(0).weight().detach());
    CHECK(test::message([&] { nn::load_torch_state_dict(*net, f32); }) ==
          f32 + ": '0.weight' is [3,4] in the file (torch's [out,in]; [4,3] transposed), [4,5] in the module");
    CHECK(xt::all(xt::equal(std::as_const(net->at<nn::Linear>(0).weight()).data<float>(),
                            std::as_const(before).data<float>())));  // untouched
  }
  {
    auto net = tsd_torch_mlp(3, 1);  // a layer "4" the file lacks
    CHECK(test::message([&] { nn::load_torch_state_dict(*net, f32); }) ==
          f32 + ": load_state_dict: missing key '4.weight'");
    nn::TorchLoadOptions loose;
    loose.strict = false;
    nn::load_torch_state_dict(*net, f32, loose);  // the rest loads
  }
  {
    auto net = tsd_torch_mlp();
    nn::TorchLoadOptions as_is;
    as_is.transpose_linear = false;
    CHECK(test::message([&] { nn::load_torch_state_dict(*net, f32, as_is); }) ==
          f32 + ": '0.weight' is [3,4] in the file, [4,3] in the module");
  }
  {
    TempDir dir;
    const std::string u8 = tsd_file(dir, "U8", "[3]", std::string(3, '\1'));
    auto net = tsd_torch_mlp();
    CHECK(test::message([&] { nn::load_torch_state_dict(*net, u8); }) ==
          u8 + ": tensor 't': unsupported dtype 'U8' (chainrule reads F32, F64, F16, BF16, I64 and I32)");
    const std::string f16 = tsd_file(dir, "F16", "[2]", tsd_raw<std::uint16_t>({0x3c00, 0x3c00}));
    CHECK(test::message([&] { nn::load_torch_state_dict(*net, f16); }) ==
          f16 + ": unexpected key 't' (the module has no such parameter or buffer)");
    // chainrule's own reader still takes only what chainrule writes
    CHECK(test::message([&] { nn::load_safetensors(f16); }) ==
          f16 + ": tensor 't': unsupported dtype 'F16' (chainrule reads F32 and F64)");
  }
}

TEST_CASE("torch state dict: F16, BF16, I32 and I64 convert exactly") {
  TempDir dir;
  const auto load = [](const std::string& path) {
    return nn::load_safetensors(path, nullptr, nn::SafetensorsDtypes::Torch).at(0).second;
  };
  // F16: ±0, 1, the largest normal, the smallest normal, both subnormal ends, ±inf, a quiet NaN with a payload
  const std::vector<std::uint16_t> half = {0x0000, 0x8000, 0x3c00, 0x7bff, 0x0400,
                                           0x0001, 0x83ff, 0x7c00, 0xfc00, 0x7e01};
  const std::vector<float> want = {0.0f, -0.0f, 1.0f, 65504.0f, std::ldexp(1.0f, -14), std::ldexp(1.0f, -24),
                                   -std::ldexp(1023.0f, -24), std::numeric_limits<float>::infinity(),
                                   -std::numeric_limits<float>::infinity()};
  const Tensor h = load(tsd_file(dir, "F16", "[10]", tsd_raw(half)));
  REQUIRE(h.dtype() == kFloat32);
  const auto& hv = std::as_const(h).data<float>();
  for (std::size_t k = 0; k < want.size(); ++k) CHECK(tsd_bits(hv(k)) == tsd_bits(want[k]));
  CHECK(tsd_bits(hv(9)) == 0x7fc02000u);  // NaN, payload kept in the high mantissa bits
  // BF16 is the high half of a float32
  const std::vector<std::uint16_t> bf = {0x3f80, 0xc049, 0x0001, 0x7f80, 0xff80, 0x7fc1};
  const Tensor b = load(tsd_file(dir, "BF16", "[2,3]", tsd_raw(bf)));
  REQUIRE(b.shape() == Shape{2, 3});
  for (std::size_t k = 0; k < bf.size(); ++k)
    CHECK(tsd_bits(std::as_const(b).data<float>().data()[k]) == std::uint32_t{bf[k]} << 16);
  // integers: float64, exact; an I64 beyond 2^53 is refused, naming the key
  const Tensor i32 = load(tsd_file(dir, "I32", "[2]", tsd_raw<std::int32_t>({-2147483647 - 1, 7})));
  CHECK(i32.dtype() == kFloat64);
  CHECK(std::as_const(i32).data<double>()(0) == -2147483648.0);
  const Tensor scalar = load(tsd_file(dir, "I64", "[]", tsd_raw<std::int64_t>({std::int64_t{1} << 53})));
  CHECK(scalar.dim() == 0);
  CHECK(scalar.item() == 9007199254740992.0);
  const std::string big = tsd_file(dir, "I64", "[2]", tsd_raw<std::int64_t>({0, (std::int64_t{1} << 53) + 1}));
  CHECK(test::message([&] { load(big); }) ==
        big + ": tensor 't': I64 value 9007199254740993 at element 1 is not exactly a float64 (|v| > 2^53)");
  // the size checks hold for the narrow dtypes too
  const std::string short_f16 = tsd_file(dir, "F16", "[3]", tsd_raw<std::uint16_t>({0, 0}));
  CHECK(test::message([&] { load(short_f16); }) ==
        short_f16 + ": tensor 't': data_offsets [0, 4] holds 4 bytes, but F16 shape [3] needs 6");
}
