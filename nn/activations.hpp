#pragma once
// Activation modules: the course's nine (linear, step, piecewise linear, sigmoid, gaussian, tanh, relu, leaky relu,
// softmax) plus log-softmax, each a thin Module over its op in autograd/ops.hpp (the formulas and derivatives are
// there), and make_activation to build one by name.
#include <memory>
#include <string>

#include "module.hpp"

namespace chainrule::nn {

/// y = a·x + b   (defaults: the identity)
class LinearActivation : public Module {
 public:
  explicit LinearActivation(double a = 1, double b = 0);  ///< throws std::invalid_argument unless both are finite
  Tensor forward(const Tensor& x) override { return linear(x, a_, b_); }
  /// The slope a.
  double a() const { return a_; }
  /// The offset b.
  double b() const { return b_; }
  std::string name() const override { return "LinearActivation"; }
  Config config() const override { return Config().set("a", a_).set("b", b_); }
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<LinearActivation> from_config(const Config& c, Dtype) {
    return std::make_shared<LinearActivation>(c.number("a"), c.number("b"));
  }
  std::string extra_repr() const override;
 private:
  double a_, b_;
};

/// y = [x ≥ 0]   (passes no gradient)
class Step : public Module {
 public:
  Tensor forward(const Tensor& x) override { return step(x); }
  std::string name() const override { return "Step"; }
};

/// y = clamp((x − x_min)/(x_max − x_min), 0, 1)
class PiecewiseLinear : public Module {
 public:
  /// Throws std::invalid_argument unless x_min < x_max, both finite.
  explicit PiecewiseLinear(double x_min = -1, double x_max = 1);
  Tensor forward(const Tensor& x) override { return piecewise_linear(x, x_min_, x_max_); }
  /// The input at which the output reaches 0.
  double x_min() const { return x_min_; }
  /// The input at which the output reaches 1.
  double x_max() const { return x_max_; }
  std::string name() const override { return "PiecewiseLinear"; }
  Config config() const override { return Config().set("x_min", x_min_).set("x_max", x_max_); }
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<PiecewiseLinear> from_config(const Config& c, Dtype) {
    return std::make_shared<PiecewiseLinear>(c.number("x_min"), c.number("x_max"));
  }
  std::string extra_repr() const override;
 private:
  double x_min_, x_max_;
};

/// y = 1/(1+e⁻ˣ)
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string name() const override { return "Sigmoid"; }
  std::string output_activation() const override { return "sigmoid"; }
  Tensor pre_activation(const Tensor& x) override { return x; }
};

/// y = e^(−x²)
class Gaussian : public Module {
 public:
  Tensor forward(const Tensor& x) override { return gaussian(x); }
  std::string name() const override { return "Gaussian"; }
};

/// y = tanh x = 2/(1+e^(−2x)) − 1
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string name() const override { return "Tanh"; }
};

/// y = max(x, 0)
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string name() const override { return "ReLU"; }
};

/// y = x > 0 ? x : slope·x.  NOTE: default slope 0.01 as torch's nn.LeakyReLU (Keras' LeakyReLU layer uses 0.3).
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01);  ///< throws std::invalid_argument unless slope is finite
  Tensor forward(const Tensor& x) override { return leaky_relu(x, slope_); }
  /// The slope for negative inputs.
  double slope() const { return slope_; }
  std::string name() const override { return "LeakyReLU"; }
  Config config() const override { return Config().set("slope", slope_); }
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<LeakyReLU> from_config(const Config& c, Dtype) {
    return std::make_shared<LeakyReLU>(c.number("slope"));
  }
  std::string extra_repr() const override;
 private:
  double slope_;
};

/// y = eˣ/Σeˣ along axis (default: the last, one distribution per row)
class Softmax : public Module {
 public:
  /// Softmax along axis (negative: from the end).
  explicit Softmax(long axis = -1) : axis_(axis) {}
  Tensor forward(const Tensor& x) override { return softmax(x, axis_); }
  std::string name() const override { return "Softmax"; }
  std::string extra_repr() const override { return "axis=" + std::to_string(axis_); }
  std::string output_activation() const override { return "softmax"; }
  Tensor pre_activation(const Tensor& x) override { return x; }
 private:
  long axis_;
};

/// y = x − log Σeˣ along axis (stable)
class LogSoftmax : public Module {
 public:
  /// log(softmax) along axis (negative: from the end), computed stably.
  explicit LogSoftmax(long axis = -1) : axis_(axis) {}
  Tensor forward(const Tensor& x) override { return log_softmax(x, axis_); }
  std::string name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override { return "axis=" + std::to_string(axis_); }
 private:
  long axis_;
};

/// An activation with default settings by name, case-insensitive: "linear", "step", "piecewise_linear",
/// "sigmoid", "gaussian", "tanh", "relu", "leaky_relu", "softmax", "log_softmax".
/// Unknown name → std::invalid_argument listing the valid names.
std::shared_ptr<Module> make_activation(const std::string& name);

}  // namespace chainrule::nn
