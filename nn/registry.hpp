#pragma once
// The layer registry: type name → how to build the layer from its config (Keras' get_config / from_config with
// register_keras_serializable). Model::save records each layer's name() and config(); Model::load finds the name
// here. The built-in layers are registered in nn/registry.cpp, one row each; a user registers their own:
//
//   class Gated : public nn::Module {                      // name() "Gated", config() {"units": …}
//     static std::shared_ptr<Gated> from_config(const Config& c, Dtype dtype);
//   };
//   nn::register_layer<Gated>("Gated");                    // then Model::save / Model::load round-trip it
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "module.hpp"

namespace chainrule::nn {

/// Builds a layer from its config, its parameters in `dtype`.
using LayerFactory = std::function<std::shared_ptr<Module>(const Config& config, Dtype dtype)>;
/// How many values (parameters and buffers) a layer of this config allocates, so that a loader can refuse a
/// hostile description before allocating; optional (without it the layer is counted once built).
using LayerSize = std::function<std::uint64_t(const Config& config)>;

/// Registers (or replaces) the layer type `type`: its name() must be `type`.
void register_layer(const std::string& type, LayerFactory make, LayerSize size = {});
/// Registers M through its static M::from_config(const Config&, Dtype).
template <class M> void register_layer(const std::string& type) {
  register_layer(type, [](const Config& c, Dtype dt) -> std::shared_ptr<Module> { return M::from_config(c, dt); });
}
/// Removes a layer type (a test's own registration, say).
void unregister_layer(const std::string& type);
/// True if `type` is registered (case-insensitive).
bool is_registered_layer(const std::string& type);
/// The values a layer of this config allocates, if its row says (else 0).
std::uint64_t layer_size(const std::string& type, const Config& config);
/// Builds a registered layer; std::invalid_argument "unknown layer type 'X'; valid names: ..." otherwise, and the
/// layer's own errors (a missing setting, a bad value) as they are.
std::shared_ptr<Module> layer_from_config(const std::string& type, const Config& config, Dtype dtype);

}  // namespace chainrule::nn
