#pragma once
// Layers: Linear, Dense (Keras': Linear + activation), Sequential, the MLP factory, BatchNorm1d and Dropout.
// Every options struct lists dtype first, so {kFloat64} alone selects float64 (what gradcheck needs).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "init.hpp"
#include "module.hpp"

namespace chainrule::nn {

/// Options of Linear (Linear::Options).
struct LinearOptions {
  Dtype dtype = kFloat32;  ///< dtype of the weight and bias
  bool bias = true;  ///< with a bias b
  init::Initializer weight_init = init::Init::XavierUniform;  ///< "glorot_uniform", Keras Dense's default
  init::Initializer bias_init = init::Init::Zeros;  ///< how b starts
};

/// y = x·W + b,   x:[N,in] (or [in], one sample)  W:[in,out]  b:[out]  →  y:[N,out]
/// NOTE: W is stored [in, out] (as Keras' Dense kernel), so a row-major batch multiplies it with no transpose;
/// torch's nn.Linear stores [out, in] and computes x·Wᵀ. Parameters are named "weight" and "bias".
class Linear : public Module {
 public:
  using Options = LinearOptions;  ///< NOTE: defined outside, as a nested struct cannot be a default argument
  /// y = x·W + b from in to out features; throws unless both are at least 1.
  Linear(std::size_t in, std::size_t out, Options o = {});
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;  ///< "in=784, out=128, bias=true"
  Config config() const override;            ///< in, out, bias
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<Linear> from_config(const Config& c, Dtype dtype);

  /// The number of input features.
  std::size_t in_features() const { return in_; }
  /// The number of output features.
  std::size_t out_features() const { return out_; }
  /// W, [in, out].
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  ///< undefined when built with bias = false

 private:
  std::size_t in_, out_;
  Tensor weight_, bias_;
};

/// Keras' Dense: y = activation(x·W + b). A Linear whose activation is part of the layer, so summaries and
/// saved architectures read as in Keras. Parameters "weight" [in,out] and "bias" [out].
class Dense : public Linear {
 public:
  /// A Linear layer followed by an activation named as in Keras ("relu", "softmax", ...; "linear": none).
  Dense(std::size_t in, std::size_t out, std::string activation = "linear", Linear::Options o = {});
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dense"; }
  std::string extra_repr() const override;
  /// The activation's name.
  const std::string& activation() const { return activation_; }
  /// x·W + b, before the activation (the logits when the activation is softmax).
  Tensor pre_activation(const Tensor& x) override { return Linear::forward(x); }
  std::string output_activation() const override;
  Config config() const override;  ///< in, out, bias, activation
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<Dense> from_config(const Config& c, Dtype dtype);

 private:
  std::string activation_;
  std::shared_ptr<Module> act_;
};
/// Keras-style factory: model.add(nn::make_dense(784, 128, "relu")).
inline std::shared_ptr<Dense> make_dense(std::size_t in, std::size_t out, const std::string& activation = "linear",
                                         Linear::Options o = {}) {
  return std::make_shared<Dense>(in, out, activation, o);
}

/// Modules applied in order: y = mₖ(…m₁(m₀(x))). Children are named "0", "1", …, so named_parameters() gives
/// "0.weight", "0.bias", "2.weight", …
class Sequential : public Module {
 public:
  Sequential() = default;
  /// The modules, in order.
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  /// Appends m (named by its index) and returns *this, so calls chain: s.add(a).add(b).
  Sequential& add(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }
  /// The number of modules.
  std::size_t size() const { return children().size(); }
  /// The i-th module; throws std::out_of_range past the end.
  std::shared_ptr<Module> operator[](std::size_t i) const;
  /// The i-th module as its concrete type M; throws if it is not an M (or i is past the end).
  template <class M> M& at(std::size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!m) throw std::invalid_argument("Sequential::at: module " + std::to_string(i) + " is a " + (*this)[i]->name());
    return *m;
  }
};

/// Multilayer perceptron: Linear(sizes[0]→sizes[1]), activation, …, Linear(sizes[n−2]→sizes[n−1]); no activation
/// after the last layer, which outputs logits (pair it with cross_entropy, or add a Softmax yourself).
/// activation is a make_activation name; every Linear gets `o`.
std::shared_ptr<Sequential> MLP(const std::vector<std::size_t>& sizes, const std::string& activation = "relu",
                                Linear::Options o = {});

/// Options of BatchNorm1d (BatchNorm1d::Options).
struct BatchNorm1dOptions {
  Dtype dtype = kFloat32;  ///< dtype of the parameters and statistics
  double eps = 1e-5;  ///< added to the variance
  double momentum = 0.1;  ///< running ← (1 − momentum)·running + momentum·batch, as torch
  bool affine = true;  ///< with a learned scale γ and shift β
};

/// Batch normalization of x:[N,F], per feature f:
///   training:  y = (x − μ_B)/√(σ²_B + ε)·γ + β,  μ_B = mean over the batch, σ²_B = biased batch variance;
///              running ← (1 − momentum)·running + momentum·batch statistic, with the UNBIASED variance
///              σ²_B·N/(N−1) for running_var (torch's rule);
///   eval:      y = (x − running_mean)/√(running_var + ε)·γ + β.
/// γ ("weight", ones) and β ("bias", zeros) are learned when affine; running_mean (zeros) and running_var (ones)
/// are buffers. Built from primitive ops, so its gradient (through μ_B and σ²_B too) is automatic.
class BatchNorm1d : public Module {
 public:
  /// The layer's options.
  using Options = BatchNorm1dOptions;
  /// Normalizes each of `features` columns over the batch; throws unless features > 0 and the options are valid.
  explicit BatchNorm1d(std::size_t features, Options o = {});
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "BatchNorm1d"; }
  std::string extra_repr() const override;  ///< "features=4, eps=1e-05, momentum=0.1, affine=true"
  Config config() const override;            ///< features, eps, momentum, affine
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<BatchNorm1d> from_config(const Config& c, Dtype dtype);
  /// The number of features normalized.
  std::size_t features() const { return features_; }
  /// The options given.
  const Options& options() const { return opt_; }
  /// The running mean used in eval mode.
  const Tensor& running_mean() const { return running_mean_; }
  /// The running variance used in eval mode.
  const Tensor& running_var() const { return running_var_; }

 private:
  std::size_t features_;
  Options opt_;
  Tensor weight_, bias_, running_mean_, running_var_;
};

/// Inverted dropout: in training, y = x ⊙ m/(1 − p) with m ~ Bernoulli(1 − p) drawn from the engine's generator
/// (chainrule::manual_seed makes it reproducible), so the expected output equals x and eval needs no rescaling;
/// in eval (or with p = 0), y = x. p must lie in [0, 1]; p = 1 drops everything (y = 0), as torch.
class Dropout : public Module {
 public:
  /// Zeroes each input with probability p in training (scaling the rest by 1/(1 − p)); throws unless 0 ≤ p ≤ 1.
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override;  ///< "p=0.5"
  Config config() const override { return Config().set("p", p_); }
  /// Rebuilds the layer from config() (the layer registry calls it).
  static std::shared_ptr<Dropout> from_config(const Config& c, Dtype) { return std::make_shared<Dropout>(c.number("p")); }
  /// The drop probability.
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace chainrule::nn
