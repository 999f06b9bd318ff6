#include "optim/factory.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

namespace chainrule::optim {

namespace {
/// Options o with lr replaced, unless lr is the "default" marker −1.
template <class Options> Options with_lr(Options o, double lr) {
  if (lr != -1) o.lr = lr;
  return o;
}
}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  if (key == "sgd") return std::make_unique<SGD>(std::move(params), with_lr(SGD::Options{}, lr));
  if (key == "momentum") {
    SGD::Options o;
    o.momentum = 0.9;
    return std::make_unique<SGD>(std::move(params), with_lr(o, lr));
  }
  if (key == "nag" || key == "nesterov") {
    SGD::Options o;
    o.momentum = 0.9;
    o.nesterov = true;
    return std::make_unique<SGD>(std::move(params), with_lr(o, lr));
  }
  if (key == "adagrad") return std::make_unique<Adagrad>(std::move(params), with_lr(Adagrad::Options{}, lr));
  if (key == "adadelta") return std::make_unique<Adadelta>(std::move(params), with_lr(Adadelta::Options{}, lr));
  if (key == "rmsprop") return std::make_unique<RMSprop>(std::move(params), with_lr(RMSprop::Options{}, lr));
  if (key == "adam") return std::make_unique<Adam>(std::move(params), with_lr(Adam::Options{}, lr));
  throw std::invalid_argument("make_optimizer: unknown optimizer '" + name +
                              "'; valid names: sgd, momentum, nag, nesterov, adagrad, adadelta, rmsprop, adam");
}

}  // namespace chainrule::optim
