#pragma once
// Metrics for Model::compile: by name from the metric table, or a callable of your own (as Keras).
//   "accuracy" | "acc"                       argmax of [N,C] outputs against labels or one-hot rows; for one output,
//                                            output > ½ (> 0 when the outputs are logits) against target > ½
//   "mse" | "mean_squared_error"             mean of (o − t)²
//   "mae" | "mean_absolute_error"            mean of |o − t|
// A metric is a mean over the batch's rows; fit and evaluate average it over batches weighted by their rows.
#include <functional>
#include <string>

#include "../autograd/tensor.hpp"

namespace chainrule::nn {

/// (outputs, targets) → the batch's mean, as a scalar tensor.
using MetricFunction = std::function<Tensor(const Tensor& pred, const Tensor& target)>;

/// A metric by name ("accuracy", "mse", "mae") or a callable, logged by fit and evaluate.
class Metric {
 public:
  Metric(const char* name) : name_(name) {}         ///< NOLINT: implicit, so compile(..., {"accuracy"}) reads as Keras
  Metric(const std::string& name) : name_(name) {}  ///< NOLINT
  /// A metric of your own, logged under `name` (and "val_<name>"); register_metric makes saved models find it.
  Metric(std::string name, MetricFunction fn);

  /// The table's metric for a name (case-insensitive, aliases), named canonically; a callable metric returns
  /// itself. logits: the model's outputs are logits (accuracy of one output then thresholds at 0).
  /// Unknown name → std::invalid_argument "<who>: unknown metric 'x'; valid names: accuracy, mse, mae".
  Metric resolve(const std::string& who, bool logits) const;
  /// The canonical name or the name given.
  const std::string& name() const { return name_; }
  /// The metric of one batch (after resolve()).
  double operator()(const Tensor& pred, const Tensor& target) const { return fn_(pred, target).item(); }

 private:
  std::string name_;
  MetricFunction fn_;
};

/// Adds a metric to the table under `name` (case-insensitive). Register before compile or load, not while
/// another thread compiles.
void register_metric(const std::string& name, MetricFunction fn);

/// Fraction of rows classified right (see the table above): a 0-d float64 tensor.
Tensor accuracy(const Tensor& pred, const Tensor& target, bool logits = false);

}  // namespace chainrule::nn
