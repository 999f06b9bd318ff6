#include "metrics.hpp"

#include <stdexcept>
#include <vector>

#include "../autograd/autograd.hpp"
#include "data.hpp"
#include "losses.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {

namespace {
// Targets of one output column ([N]) are compared with outputs [N,1] as [N,1].
Tensor as_outputs(const Tensor& y, const Tensor& pred) {
  return y.dim() == 1 && pred.dim() == 2 && pred.size(1) == 1 ? reshape(y, {-1, 1}) : y;
}

// A row of the table: the metric given whether the outputs are logits.
using MetricRow = std::function<MetricFunction(bool logits)>;

NameTable<MetricRow>& metric_table() {
  static NameTable<MetricRow> t = [] {
    NameTable<MetricRow> t("metric");
    t.add("accuracy", [](bool logits) -> MetricFunction {
      return [logits](const Tensor& p, const Tensor& y) { return accuracy(p, y, logits); };
    });
    t.add("mse", [](bool) -> MetricFunction {
      return [](const Tensor& p, const Tensor& y) { return mse_loss(p, as_outputs(y, p)); };
    });
    t.add("mae", [](bool) -> MetricFunction {
      return [](const Tensor& p, const Tensor& y) { return l1_loss(p, as_outputs(y, p)); };
    });
    t.alias("acc", "accuracy").alias("mean_squared_error", "mse").alias("mean_absolute_error", "mae");
    return t;
  }();
  return t;
}
}  // namespace

Metric::Metric(std::string name, MetricFunction fn) : name_(std::move(name)), fn_(std::move(fn)) {
  if (!fn_) throw std::invalid_argument("Metric '" + name_ + "': empty function");
}

Metric Metric::resolve(const std::string& who, bool logits) const {
  if (fn_) return *this;
  const MetricRow& row = metric_table().at(who, name_);
  return Metric(metric_table().canonical(name_), row(logits));
}

void register_metric(const std::string& name, MetricFunction fn) {
  if (!fn) throw std::invalid_argument("register_metric: empty function for '" + name + "'");
  metric_table().add(name, [fn = std::move(fn)](bool) { return fn; });
}

Tensor accuracy(const Tensor& pred, const Tensor& y, bool logits) {
  std::vector<std::size_t> p, t;
  const std::size_t n = pred.size(0);
  if (pred.dim() == 2 && pred.size(1) > 1) {  // multi-class: argmax
    p = argmax(pred);
    t = y.dim() == 2 ? argmax(y) : to_labels(y);
  } else {  // one output: probability above ½ (logits: above 0)
    const double cut = logits ? 0 : 0.5;
    Tensor p64 = pred.to(kFloat64), y64 = y.to(kFloat64);
    for (std::size_t i = 0; i < n; ++i) {
      p.push_back(p64.data<double>().data()[i] > cut);
      t.push_back(y64.data<double>().data()[i] > 0.5);
    }
  }
  std::size_t hit = 0;
  for (std::size_t i = 0; i < n; ++i) hit += p[i] == t[i];
  return tensor(n ? static_cast<double>(hit) / static_cast<double>(n) : 0.0, kFloat64);
}

}  // namespace chainrule::nn
