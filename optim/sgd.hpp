#pragma once
// Stochastic gradient descent, with optional (Nesterov) momentum: the course's SGD, Momentum and NAG.
#include <memory>

#include "optimizer.hpp"

namespace chainrule::optim {

/// Stochastic gradient descent with momentum, dampening and Nesterov, as torch 1.13 computes it.
class SGD : public Optimizer {
 public:
  /// torch 1.13's defaults, except lr (torch has none; 0.01 as Keras).
  struct Options {
    /// Learning rate, momentum and dampening.
    ///@{
    double lr = 0.01, momentum = 0, dampening = 0;
    ///@}
    bool nesterov = false;  ///< Nesterov momentum (needs momentum > 0 and no dampening)
    double weight_decay = 0;  ///< L2 penalty added to the gradient
  };
  /// Optimizes params; throws on an option out of range.
  SGD(std::vector<Tensor> params, Options o);
  /// Optimizes params with the default options.
  explicit SGD(std::vector<Tensor> params) : SGD(std::move(params), Options{}) {}
  /// Exactly as torch 1.13 computes it, for each parameter p with gradient g (μ momentum, τ dampening,
  /// λ weight_decay):
  ///   g ← g + λ·p
  ///   if μ ≠ 0:  b ← g at the parameter's first step, b ← μ·b + (1−τ)·g after       (state "momentum_buffer")
  ///              g ← g + μ·b   (nesterov)      or      g ← b   (classical momentum)
  ///   p ← p − lr·g
  void step() override;
  void explain(UpdateExplanation& e) const override;  ///< the trace of step(), beside it in the .cpp
  /// The options in use (lr as set by set_lr).
  Options options() const;
  Config config() const override;  ///< lr and every option
  /// Options from a config; a missing key keeps its default (as Keras' from_config), a mistyped one throws.
  static std::unique_ptr<SGD> from_config(std::vector<Tensor> params, const Config& c);

 private:
  Options opt_;
};

}  // namespace chainrule::optim
