#include "torch_state_dict.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "layers.hpp"
#include "serialize.hpp"

namespace chainrule::nn {

namespace {

// The dotted names of the weights of every Linear (Dense included) under `m`: the ones torch stores transposed.
void collect_linear_weight_names(const Module& m, const std::string& prefix, std::set<std::string>& out) {
  if (dynamic_cast<const Linear*>(&m) != nullptr) out.insert(prefix + "weight");
  for (const auto& [name, child] : m.children()) collect_linear_weight_names(*child, prefix + name + ".", out);
}

bool is_num_batches_tracked(const std::string& key) {
  const std::string leaf = "num_batches_tracked";
  return key == leaf || (key.size() > leaf.size() && key.compare(key.size() - leaf.size() - 1, std::string::npos,
                                                                 "." + leaf) == 0);
}

std::string torch_shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  std::uint32_t bits = sign;
  if (exponent == 0x1f) {
    bits |= 0x7f800000u | mantissa << 13;  // inf, NaN
  } else if (exponent != 0) {
    bits |= (exponent + (127 - 15)) << 23 | mantissa << 13;  // normal: rebias the exponent
  } else if (mantissa != 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal: mantissa·2⁻²⁴, exact
    std::uint32_t m = 0;
    std::memcpy(&m, &magnitude, 4);
    bits |= m;
  }
  float out = 0;
  std::memcpy(&out, &bits, 4);
  return out;
}

float bfloat16_to_float(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t{h} << 16;
  float out = 0;
  std::memcpy(&out, &bits, 4);
  return out;
}

void load_torch_state_dict(Module& module, const std::string& path, const TorchLoadOptions& options) {
  NamedTensors file = load_safetensors(path, nullptr, SafetensorsDtypes::Torch);
  LoadOptions finite;
  finite.allow_non_finite = options.allow_non_finite;
  check_finite(path, file, finite);

  std::map<std::string, Shape> own;
  for (const auto& [name, t] : module.state_dict()) own.emplace(name, t.shape());
  std::set<std::string> linear_weights;
  if (options.transpose_linear) collect_linear_weight_names(module, "", linear_weights);

  NamedTensors dict;
  dict.reserve(file.size());
  for (auto& [name, t] : file) {
    const auto it = own.find(name);
    if (it == own.end() && is_num_batches_tracked(name)) continue;  // no such buffer in chainrule's BatchNorm
    if (it == own.end())
      throw std::invalid_argument(path + ": unexpected key '" + name +
                                  "' (the module has no such parameter or buffer)");
    Tensor value = t;
    std::string as_loaded;
    if (linear_weights.count(name)) {
      if (t.dim() != 2)
        throw std::invalid_argument(path + ": '" + name + "' is " + torch_shape_str(t.shape()) +
                                    " in the file, but a Linear weight has 2 dimensions");
      value = transpose(t);
      as_loaded = " (torch's [out,in]; " + torch_shape_str(value.shape()) + " transposed)";
    }
    if (value.shape() != it->second)
      throw std::invalid_argument(path + ": '" + name + "' is " + torch_shape_str(t.shape()) + " in the file" +
                                  as_loaded + ", " + torch_shape_str(it->second) + " in the module");
    dict.emplace_back(name, std::move(value));
  }
  try {
    module.load_state_dict(dict, options.strict);  // duplicate and (strict) missing keys; copies only if all pass
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

}  // namespace chainrule::nn
