#include "activations.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "../util/names.hpp"

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
  static const NameTable<Make> table = [] {
    NameTable<Make> t("activation");
    t.add("linear", [] { return std::make_shared<LinearActivation>(); });
    t.add("step", [] { return std::make_shared<Step>(); });
    t.add("piecewise_linear", [] { return std::make_shared<PiecewiseLinear>(); });
    t.add("sigmoid", [] { return std::make_shared<Sigmoid>(); });
    t.add("gaussian", [] { return std::make_shared<Gaussian>(); });
    t.add("tanh", [] { return std::make_shared<Tanh>(); });
    t.add("relu", [] { return std::make_shared<ReLU>(); });
    t.add("leaky_relu", [] { return std::make_shared<LeakyReLU>(); });
    t.add("softmax", [] { return std::make_shared<Softmax>(); });
    t.add("log_softmax", [] { return std::make_shared<LogSoftmax>(); });
    return t;
  }();
  return table.at("make_activation", name)();
}

}  // namespace chainrule::nn
