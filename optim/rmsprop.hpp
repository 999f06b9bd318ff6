#pragma once
// RMSprop (Hinton, 2012): gradients divided by a running RMS of their recent values.
#include <memory>

#include "optimizer.hpp"

namespace chainrule::optim {

/// RMSprop (Hinton, 2012), plain or centered, with momentum, as torch 1.13 computes it.
class RMSprop : public Optimizer {
 public:
  /// torch 1.13's defaults.
  struct Options {
    /// Learning rate, smoothing constant α, ε and momentum.
    ///@{
    double lr = 0.01, alpha = 0.99, eps = 1e-8, momentum = 0;
    ///@}
    bool centered = false;  ///< divide by the variance estimate rather than the raw second moment
    double weight_decay = 0;  ///< L2 penalty added to the gradient
  };
  /// Optimizes params; throws on an option out of range.
  RMSprop(std::vector<Tensor> params, Options o);
  /// Optimizes params with the default options.
  explicit RMSprop(std::vector<Tensor> params) : RMSprop(std::move(params), Options{}) {}
  /// Exactly as torch 1.13 computes it, for each parameter p with gradient g (state "square_avg" v, "grad_avg" ḡ
  /// if centered, "momentum_buffer" b if μ > 0, all starting at 0, and "step" t, counted but unused; α alpha,
  /// μ momentum, λ weight_decay):
  ///   t ← t + 1 ;   g ← g + λ·p
  ///   v ← α·v + (1 − α)·g²
  ///   centered:  ḡ ← α·ḡ + (1 − α)·g ;   a = √(v − ḡ²) + ε        otherwise  a = √v + ε
  ///   μ > 0:     b ← μ·b + g / a ;   p ← p − lr·b                 otherwise  p ← p − lr·g / a
  void step() override;
  void explain(UpdateExplanation& e) const override;  ///< the trace of step(), beside it in the .cpp
  /// The options in use (lr as set by set_lr).
  Options options() const;
  Config config() const override;  ///< lr and every option
  /// Options from a config; a missing key keeps its default (as Keras' from_config), a mistyped one throws.
  static std::unique_ptr<RMSprop> from_config(std::vector<Tensor> params, const Config& c);

 private:
  Options opt_;
};

}  // namespace chainrule::optim
