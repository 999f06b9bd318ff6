// The built-in layers, one row each (Sequential, the container, is built by the loader from its "layers").
#include "registry.hpp"

#include "activations.hpp"
#include "layers.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {

namespace {
struct LayerRow {
  LayerFactory make;
  LayerSize size;
};

template <class M> LayerRow plain() {  // a layer without settings
  return {[](const Config&, Dtype) -> std::shared_ptr<Module> { return std::make_shared<M>(); }, {}};
}
template <class M> LayerRow configured(LayerSize size = {}) {
  return {[](const Config& c, Dtype dt) -> std::shared_ptr<Module> { return M::from_config(c, dt); },
          std::move(size)};
}
// in·out weights + out biases; each count ≤ 2^30, so no overflow.
std::uint64_t linear_size(const Config& c) {
  return std::uint64_t{c.count("in")} * c.count("out") + (c.flag("bias") ? c.count("out") : 0);
}

NameTable<LayerRow>& layer_table() {
  static NameTable<LayerRow> t = [] {
    NameTable<LayerRow> t("layer type");
    t.add("Linear", configured<Linear>(linear_size));
    t.add("Dense", configured<Dense>(linear_size));
    t.add("BatchNorm1d", configured<BatchNorm1d>([](const Config& c) { return std::uint64_t{c.count("features")}; }));
    t.add("Dropout", configured<Dropout>());
    t.add("LeakyReLU", configured<LeakyReLU>());
    t.add("PiecewiseLinear", configured<PiecewiseLinear>());
    t.add("LinearActivation", configured<LinearActivation>());
    t.add("Sigmoid", plain<Sigmoid>()).add("Tanh", plain<Tanh>()).add("ReLU", plain<ReLU>());
    t.add("Softmax", plain<Softmax>()).add("LogSoftmax", plain<LogSoftmax>());
    t.add("Step", plain<Step>()).add("Gaussian", plain<Gaussian>());
    return t;
  }();
  return t;
}
}  // namespace

void register_layer(const std::string& type, LayerFactory make, LayerSize size) {
  if (!make) throw std::invalid_argument("register_layer: empty factory for '" + type + "'");
  layer_table().add(type, {std::move(make), std::move(size)});
}

void unregister_layer(const std::string& type) { layer_table().remove(type); }

bool is_registered_layer(const std::string& type) { return layer_table().find(type) != nullptr; }

std::uint64_t layer_size(const std::string& type, const Config& config) {
  const LayerRow* row = layer_table().find(type);
  return row && row->size ? row->size(config) : 0;
}

std::shared_ptr<Module> layer_from_config(const std::string& type, const Config& config, Dtype dtype) {
  return layer_table().at("", type).make(config, dtype);
}

}  // namespace chainrule::nn
