#pragma once
// The optimizer registry: name → factory from a Config (Keras' optimizers.get / from_config). Adding an optimizer
// = its own files (a class with config() and a static from_config) + one row in optim/factory.cpp.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optimizer.hpp"

namespace chainrule::optim {

/// Builds an optimizer over params from a config (missing options keep their defaults).
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor> params, const Config& c)>;

/// "sgd", "momentum" (SGD, momentum 0.9), "nag" or "nesterov" (SGD, momentum 0.9, nesterov), "adagrad",
/// "adadelta", "rmsprop", "adam" (case-insensitive), with that optimizer's default options; lr = -1 keeps its
/// default learning rate. Throws on an unknown name, listing the valid ones.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr = -1);
/// The optimizer of type `type` (its name(), "Adam"; or any registered name) rebuilt from its config().
std::unique_ptr<Optimizer> optimizer_from_config(const std::string& type, std::vector<Tensor> params,
                                                 const Config& config);
/// Adds (or replaces) a name; `preset` holds the options the name stands for ("momentum": {"momentum": 0.9}).
void register_optimizer(const std::string& name, OptimizerFactory make, Config preset = {});
/// Removes a name (a test's own registration, say).
void unregister_optimizer(const std::string& name);

}  // namespace chainrule::optim
