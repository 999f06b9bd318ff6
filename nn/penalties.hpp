#pragma once
// Regularization penalties as the course defines them: the cost becomes F = loss + α·C, with the complexity C of
// the model's n penalized coefficients w₁…wₙ:
//   L1 (Lasso):  C = (1/n)·Σ|wⱼ|                    ∂C/∂wⱼ = sign(wⱼ)/n
//   L2 (Ridge):  C = (1/(2n))·Σwⱼ²                  ∂C/∂wⱼ = wⱼ/n
//   ElasticNet:  C = r·L1 + (1 − r)·L2,  r ∈ [0, 1]
// Which coefficients: the weight matrices (parameters with dim ≥ 2: Linear's "weight", any future kernel);
// with include_bias, also the "bias" of each layer whose "weight" is penalized. So BatchNorm's 1-D γ ("weight")
// and β ("bias") are never penalized: they scale and shift, they are not coefficients of the model.
#include <vector>

#include "module.hpp"

namespace chainrule::nn {

/// Which coefficients a penalty acts on.
struct PenaltyOptions {
  bool include_bias = false;  ///< also the biases (Keras and torch penalise weights only by default)
};

/// The coefficients the penalties act on, in named_parameters order (rule above).
std::vector<Tensor> penalized_parameters(const Module& m, PenaltyOptions o = {});

/// C over the given coefficients (n = their total element count); a 0-D tensor, 0 when there are none.
///@{
Tensor l1_penalty(const std::vector<Tensor>& ws);
Tensor l2_penalty(const std::vector<Tensor>& ws);
Tensor elastic_net_penalty(const std::vector<Tensor>& ws, double r);
///@}
/// C over a module's penalized coefficients.
///@{
Tensor l1_penalty(const Module& m, PenaltyOptions o = {});
Tensor l2_penalty(const Module& m, PenaltyOptions o = {});
Tensor elastic_net_penalty(const Module& m, double r, PenaltyOptions o = {});
///@}

/// α·C as a value: F = loss + penalty(model). alpha ≥ 0; r (ElasticNet's L1 share) in [0, 1].
struct Penalty {
  /// L1: (1/n)·Σ|w|; L2: (1/(2n))·Σw²; ElasticNet: r·L1 + (1 − r)·L2 (the rule above).
  enum class Kind { L1, L2, ElasticNet };
  Kind kind = Kind::L2;  ///< which penalty
  double alpha = 0.01;  ///< Keras' regularizers.l2 default
  double r = 0.5;  ///< ElasticNet's L1 share, in [0, 1]
  bool include_bias = false;  ///< penalise the biases too

  /// α·L1.
  static Penalty l1(double alpha) { return {Kind::L1, alpha}; }
  /// α·L2.
  static Penalty l2(double alpha) { return {Kind::L2, alpha}; }
  /// α·(r·L1 + (1 − r)·L2).
  static Penalty elastic_net(double alpha, double r) { return {Kind::ElasticNet, alpha, r}; }
  /// α·C(m); throws std::invalid_argument naming a bad alpha or r.
  Tensor operator()(const Module& m) const;
};

}  // namespace chainrule::nn
