#pragma once
// Adagrad (Duchi et al., 2011): per-coordinate steps shrinking with the sum of past squared gradients.
#include <memory>

#include "optimizer.hpp"

namespace chainrule::optim {

/// Adagrad (Duchi et al., 2011), as torch 1.13 computes it.
class Adagrad : public Optimizer {
 public:
  /// torch 1.13's defaults.
  struct Options {
    /// The learning rate and the method's constants, as torch names them.
    ///@{
    double lr = 0.01, lr_decay = 0, initial_accumulator_value = 0, eps = 1e-10, weight_decay = 0;
    ///@}
  };
  /// Optimizes params; throws on an option out of range.
  Adagrad(std::vector<Tensor> params, Options o);
  /// Optimizes params with the default options.
  explicit Adagrad(std::vector<Tensor> params) : Adagrad(std::move(params), Options{}) {}
  /// Exactly as torch 1.13 computes it, for each parameter p with gradient g (state "step" t, "sum" G, which
  /// starts at initial_accumulator_value; λ weight_decay):
  ///   t ← t + 1 ;   g ← g + λ·p ;   η = lr / (1 + (t − 1)·lr_decay)
  ///   G ← G + g²
  ///   p ← p − η·g / (√G + ε)
  void step() override;
  void explain(UpdateExplanation& e) const override;  ///< the trace of step(), beside it in the .cpp
  /// The options in use (lr as set by set_lr).
  Options options() const;
  Config config() const override;  ///< lr and every option
  /// Options from a config; a missing key keeps its default (as Keras' from_config), a mistyped one throws.
  static std::unique_ptr<Adagrad> from_config(std::vector<Tensor> params, const Config& c);

 private:
  Options opt_;
};

}  // namespace chainrule::optim
