#pragma once
// make_optimizer: an optimizer from its Keras / course name.
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.hpp"

namespace chainrule::optim {

/// "sgd", "momentum" (SGD, momentum 0.9), "nag" or "nesterov" (SGD, momentum 0.9, nesterov), "adagrad",
/// "adadelta", "rmsprop", "adam" (case-insensitive), with that optimizer's default options; lr = -1 keeps its
/// default learning rate. Throws on an unknown name, listing the valid ones.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr = -1);

}  // namespace chainrule::optim
