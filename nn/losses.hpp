#pragma once
// Loss functions, each with torch's reduction: Mean (default, except half_sse_loss: Sum), Sum, or None (the
// per-element, or per-row for cross-entropy, losses). Notation: o = prediction, t = target, z = logits, n = number of
// elements (rows for cross-entropy). The line above each is its formula and derivative.
// Prediction and target must have the same shape and dtype (no silent broadcasting: [N,1] vs [N] is an error).
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "../autograd/tensor.hpp"

namespace chainrule::nn {

/// How a loss reduces the per-element losses: not at all, their mean or their sum.
enum class Reduction { None, Mean, Sum };

/// L = (1/n)·Σ(o − t)²                              ∂L/∂o = 2(o − t)/n
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::Mean);
/// L = ½·Σ(t − o)²   (the course's error; Sum)      ∂L/∂o = o − t
Tensor half_sse_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::Sum);
/// L = (1/n)·Σ|o − t|   (MAE)                       ∂L/∂o = sign(o − t)/n   (0 at o = t)
Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::Mean);

/// L = −(1/n)·Σ[t·ln p + (1 − t)·ln(1 − p)],  p ∈ [0, 1]     ∂L/∂p = (p − t)/(p(1 − p))/n
/// NOTE: as torch, each log is clamped at −100 (so p = 0 or 1 gives a finite loss) and the derivative's
/// denominator p(1 − p) at 1e-12. Probabilities outside [0, 1] are an error.
Tensor binary_cross_entropy(const Tensor& prob, const Tensor& target, Reduction r = Reduction::Mean);
/// BCE on logits, p = σ(z), in the stable form  ℓ = max(z, 0) − z·t + ln(1 + e^(−|z|))     ∂ℓ/∂z = σ(z) − t
/// NOTE: fused: the composite's subgradients (relu'(0) = abs'(0) = 0) would give −t at z = 0, not ½ − t.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r = Reduction::Mean);

/// Cross-entropy of logits z:[N,C] against class labels yᵢ ∈ [0, C):
///   ℓᵢ = −log_softmax(zᵢ)[yᵢ] = log Σ_c e^(z_ic) − z_iyᵢ          ∂L/∂z = (softmax(z) − onehot(y))/N   (Mean)
/// Label out of range → std::out_of_range naming the label, its row and C.
Tensor cross_entropy(const Tensor& logits, const std::vector<std::size_t>& labels, Reduction r = Reduction::Mean);
/// targets either [N,C] (one-hot or probabilities: ℓᵢ = −Σ_c t_ic·log_softmax(zᵢ)_c,  ∂L/∂z = (softmax(z) − t)/N)
/// or [N] class indices stored as floats (each must be an integer in [0, C)).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction r = Reduction::Mean);

/// A loss as a value: (prediction, target) → scalar.
using LossFunction = std::function<Tensor(const Tensor& pred, const Tensor& target)>;

/// A loss as Model::compile takes it: a name from the loss table, or a callable of your own (as Keras).
///   "mean_squared_error" | "mse"          → mse_loss
///   "mean_absolute_error" | "mae"         → l1_loss
///   "binary_crossentropy"                 → binary_cross_entropy: the outputs are PROBABILITIES (Keras' default,
///                                            from_logits=False); binary_crossentropy(true) takes logits
///   "categorical_crossentropy"            → cross_entropy with [N,C] one-hot (or probability) targets
///   "sparse_categorical_crossentropy"     → cross_entropy with [N] (or [N,1]) class-index targets
/// NOTE: both categorical losses take LOGITS (no final softmax; log_softmax inside the loss is the stable form).
/// On a model whose last layer ends in softmax (categorical) or sigmoid (binary), Model computes the loss from the
/// logits before that layer, stably; predictions are still the probabilities. Targets [N] against outputs [N,1]
/// are compared as [N,1] (as Keras squeezes or expands them).
class Loss {
 public:
  Loss(const char* name) : name_(name) {}         ///< NOLINT: implicit, so compile("adam", "mse") reads as Keras
  Loss(const std::string& name) : name_(name) {}  ///< NOLINT: looked up in the table by resolve()
  /// A loss of your own: fn(outputs, targets) → scalar. Saved models record `name`; register_loss(name, fn) lets
  /// Model::load find it again.
  Loss(std::string name, LossFunction fn);

  /// The table's loss for a name (case-insensitive, aliases), named canonically; a callable loss returns itself.
  /// Unknown name → std::invalid_argument "<who>: unknown loss 'x'; valid names: ...".
  Loss resolve(const std::string& who) const;
  /// The canonical name ("mean_squared_error") or the name given.
  const std::string& name() const { return name_; }
  /// The loss of the model's outputs (after resolve()).
  Tensor operator()(const Tensor& pred, const Tensor& target) const { return fn_(pred, target); }
  /// The final activation ("softmax", "sigmoid") this loss can look through: from_logits(z, t) is then the loss
  /// of activation(z). "" if none.
  const std::string& fuses() const { return fuses_; }
  /// The loss of activation(z), computed from the logits z (see fuses()).
  Tensor from_logits(const Tensor& z, const Tensor& target) const { return logits_fn_(z, target); }
  /// True when the outputs themselves are read as logits (accuracy then thresholds one output at 0, not ½).
  bool takes_logits() const { return takes_logits_; }
  /// binary_crossentropy(true): the outputs are logits (Keras' from_logits=True).
  bool binary_from_logits() const { return name_ == "binary_crossentropy" && takes_logits_; }

 private:
  friend Loss binary_crossentropy(bool from_logits);
  Loss(std::string name, LossFunction fn, std::string fuses, LossFunction logits_fn, bool takes_logits);
  std::string name_;
  LossFunction fn_;
  std::string fuses_;
  LossFunction logits_fn_;
  bool takes_logits_ = false;
};

/// Keras' BinaryCrossentropy(from_logits): on probabilities (default) or on logits.
Loss binary_crossentropy(bool from_logits = false);
/// Adds a loss to the table under `name` (case-insensitive): compile("adam", name) and Model::load then find it.
void register_loss(const std::string& name, LossFunction fn);
/// Removes a loss from the table (a test's own registration, say).
void unregister_loss(const std::string& name);
/// The table's loss function by name (the Loss above, as a plain function). Unknown name → std::invalid_argument
/// "loss_by_name: unknown loss 'x'; valid names: ...".
LossFunction loss_by_name(const std::string& name);

}  // namespace chainrule::nn
