#include "nn/activations.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace chainrule::nn {

std::string LinearActivation::extra_repr() const {
  std::ostringstream s;
  s << "a=" << a_ << ", b=" << b_;
  return s.str();
}

LinearActivation::LinearActivation(double a, double b) : a_(a), b_(b) {
  if (!std::isfinite(a) || !std::isfinite(b)) {
    std::ostringstream s;
    s << "LinearActivation: a and b must be finite, got a=" << a << ", b=" << b;
    throw std::invalid_argument(s.str());
  }
}

LeakyReLU::LeakyReLU(double slope) : slope_(slope) {
  if (!std::isfinite(slope)) {
    std::ostringstream s;
    s << "LeakyReLU: slope must be finite, got " << slope;
    throw std::invalid_argument(s.str());
  }
}

PiecewiseLinear::PiecewiseLinear(double x_min, double x_max) : x_min_(x_min), x_max_(x_max) {
  if (!(x_min < x_max)) {
    std::ostringstream s;
    s << "PiecewiseLinear: need x_min < x_max, got x_min=" << x_min << ", x_max=" << x_max;
    throw std::invalid_argument(s.str());
  }
}

std::string PiecewiseLinear::extra_repr() const {
  std::ostringstream s;
  s << "x_min=" << x_min_ << ", x_max=" << x_max_;
  return s.str();
}

std::string LeakyReLU::extra_repr() const {
  std::ostringstream s;
  s << "slope=" << slope_;
  return s.str();
}

std::shared_ptr<Module> make_activation(const std::string& name) {
  using Make = std::function<std::shared_ptr<Module>()>;
  static const std::vector<std::pair<const char*, Make>> table = {
      {"linear", [] { return std::make_shared<LinearActivation>(); }},
      {"step", [] { return std::make_shared<Step>(); }},
      {"piecewise_linear", [] { return std::make_shared<PiecewiseLinear>(); }},
      {"sigmoid", [] { return std::make_shared<Sigmoid>(); }},
      {"gaussian", [] { return std::make_shared<Gaussian>(); }},
      {"tanh", [] { return std::make_shared<Tanh>(); }},
      {"relu", [] { return std::make_shared<ReLU>(); }},
      {"leaky_relu", [] { return std::make_shared<LeakyReLU>(); }},
      {"softmax", [] { return std::make_shared<Softmax>(); }},
      {"log_softmax", [] { return std::make_shared<LogSoftmax>(); }},
  };
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [n, make] : table)
    if (key == n) return make();
  std::string valid;
  for (const auto& [n, make] : table) valid += std::string(valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("make_activation: unknown activation '" + name + "'; valid names: " + valid);
}

}  // namespace chainrule::nn
