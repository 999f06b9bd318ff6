#pragma once
// Adam (Kingma & Ba, 2015): momentum on the gradient, scaled by a running RMS, both bias-corrected.
#include <memory>

#include "optimizer.hpp"

namespace chainrule::optim {

/// Adam (Kingma & Ba, 2015), and AMSGrad, as torch 1.13 computes them.
class Adam : public Optimizer {
 public:
  /// torch 1.13's defaults.
  struct Options {
    /// Learning rate, moment decays, ε and L2 weight decay.
    ///@{
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    ///@}
    bool amsgrad = false;  ///< AMSGrad: divide by the largest second moment so far
  };
  /// Optimizes params; throws on an option out of range.
  Adam(std::vector<Tensor> params, Options o);
  /// Optimizes params with the default options.
  explicit Adam(std::vector<Tensor> params) : Adam(std::move(params), Options{}) {}
  /// Exactly as torch 1.13 computes it, for each parameter p with gradient g (state "step" t, "exp_avg" m,
  /// "exp_avg_sq" v, "max_exp_avg_sq" v̂ if amsgrad, all starting at 0; λ weight_decay):
  ///   t ← t + 1 ;   g ← g + λ·p
  ///   m ← β1·m + (1 − β1)·g
  ///   v ← β2·v + (1 − β2)·g²          amsgrad: v̂ ← max(v̂, v), and v̂ stands for v below
  ///   denom = √v / √(1 − β2ᵗ) + ε
  ///   p ← p − lr/(1 − β1ᵗ) · m / denom
  /// This is the paper's p ← p − lr·m̂/(√v̂ + ε), m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), rearranged (and rounded) as torch.
  void step() override;
  void explain(UpdateExplanation& e) const override;  ///< the trace of step(), beside it in the .cpp
  /// The options in use (lr as set by set_lr).
  Options options() const;
  Config config() const override;  ///< lr and every option
  /// Options from a config; a missing key keeps its default (as Keras' from_config), a mistyped one throws.
  static std::unique_ptr<Adam> from_config(std::vector<Tensor> params, const Config& c);

 private:
  Options opt_;
};

}  // namespace chainrule::optim
