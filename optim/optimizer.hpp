#pragma once
// Optimizer: updates parameters in place from their gradients, outside the tape.
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.hpp"

namespace chainrule::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr, const char* name);
  virtual ~Optimizer() = default;
  /// One update of every parameter that has a gradient.
  virtual void step() = 0;
  /// Clears the gradients of the parameters.
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }
  const char* name() const { return name_; }
  /// Internal state (moments, step count, ...) as named tensors, for checkpoints; load_state restores it.
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state) = 0;

 protected:
  std::vector<Tensor> params_;
  double lr_;
  const char* name_;
};

}  // namespace chainrule::optim
