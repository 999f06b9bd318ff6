#pragma once
// Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of past updates to that of gradients.
#include <memory>

#include "optimizer.hpp"

namespace chainrule::optim {

/// Adadelta (Zeiler, 2012), as torch 1.13 computes it.
class Adadelta : public Optimizer {
 public:
  /// torch 1.13's defaults.
  struct Options {
    /// The learning rate and the method's constants, as torch names them.
    ///@{
    double lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0;
    ///@}
  };
  /// Optimizes params; throws on an option out of range.
  Adadelta(std::vector<Tensor> params, Options o);
  /// Optimizes params with the default options.
  explicit Adadelta(std::vector<Tensor> params) : Adadelta(std::move(params), Options{}) {}
  /// Exactly as torch 1.13 computes it, for each parameter p with gradient g (state "square_avg" v,
  /// "acc_delta" u, both starting at 0, and "step" t, counted but unused; λ weight_decay):
  ///   t ← t + 1 ;   g ← g + λ·p
  ///   v ← ρ·v + (1 − ρ)·g²
  ///   Δ ← √(u + ε) / √(v + ε) · g
  ///   u ← ρ·u + (1 − ρ)·Δ²
  ///   p ← p − lr·Δ
  void step() override;
  void explain(UpdateExplanation& e) const override;  ///< the trace of step(), beside it in the .cpp
  /// The options in use (lr as set by set_lr).
  Options options() const;
  Config config() const override;  ///< lr and every option
  /// Options from a config; a missing key keeps its default (as Keras' from_config), a mistyped one throws.
  static std::unique_ptr<Adadelta> from_config(std::vector<Tensor> params, const Config& c);

 private:
  Options opt_;
};

}  // namespace chainrule::optim
