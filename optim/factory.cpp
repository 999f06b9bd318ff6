// The optimizer registry: one row per name.
#include "factory.hpp"

#include <stdexcept>

#include "adadelta.hpp"
#include "adagrad.hpp"
#include "adam.hpp"
#include "rmsprop.hpp"
#include "sgd.hpp"
#include "../util/names.hpp"

namespace chainrule::optim {

namespace {
struct OptimizerRow {
  OptimizerFactory make;
  Config preset;  // the options this name stands for
};

template <class O> OptimizerFactory factory() {
  return [](std::vector<Tensor> params, const Config& c) -> std::unique_ptr<Optimizer> {
    return O::from_config(std::move(params), c);
  };
}

NameTable<OptimizerRow>& optimizer_table() {
  static NameTable<OptimizerRow> t = [] {
    NameTable<OptimizerRow> t("optimizer");
    t.add("sgd", {factory<SGD>(), {}});
    t.add("momentum", {factory<SGD>(), Config().set("momentum", 0.9)});
    t.add("nag", {factory<SGD>(), Config().set("momentum", 0.9).set("nesterov", true)});
    t.add("nesterov", {factory<SGD>(), Config().set("momentum", 0.9).set("nesterov", true)});
    t.add("adagrad", {factory<Adagrad>(), {}});
    t.add("adadelta", {factory<Adadelta>(), {}});
    t.add("rmsprop", {factory<RMSprop>(), {}});
    t.add("adam", {factory<Adam>(), {}});
    return t;
  }();
  return t;
}
}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr) {
  const OptimizerRow& row = optimizer_table().at("make_optimizer", name);
  Config c = row.preset;
  if (lr != -1) c.set("lr", lr);  // −1: the optimizer's default rate
  return row.make(std::move(params), c);
}

std::unique_ptr<Optimizer> optimizer_from_config(const std::string& type, std::vector<Tensor> params,
                                                 const Config& config) {
  return optimizer_table().at("optimizer_from_config", type).make(std::move(params), config);
}

void register_optimizer(const std::string& name, OptimizerFactory make, Config preset) {
  if (!make) throw std::invalid_argument("register_optimizer: empty factory for '" + name + "'");
  optimizer_table().add(name, {std::move(make), std::move(preset)});
}

void unregister_optimizer(const std::string& name) { optimizer_table().remove(name); }

}  // namespace chainrule::optim
