// Model: compile, the loss of a batch, evaluate, predict, summary. fit is in nn/fit.cpp, save/load in
// nn/model_io.cpp, the callbacks in nn/callbacks.cpp.
#include "model.hpp"

#include <iomanip>
#include <iostream>

#include "data.hpp"
#include "../optim/optim.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {

namespace {
// Rows [b, e) of t, copied (contiguous in row-major storage).
Tensor rows(const Tensor& t, std::size_t b, std::size_t e) {
  std::vector<std::size_t> idx(e - b);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = b + i;
  return take_rows(t, idx);
}
}  // namespace

Model::Model() : net_(std::make_shared<Sequential>()) {}
Model::Model(std::shared_ptr<Sequential> net) : net_(std::move(net)) {
  if (!net_) throw std::invalid_argument("Model: given a null network");
}

Model& Model::add(std::shared_ptr<Module> layer) {
  if (optimizer_) throw std::logic_error("Model::add: the model is already compiled; add layers before compile()");
  net_->add(std::move(layer));
  return *this;
}

Model& Model::compile(const std::string& optimizer, const Loss& loss, std::vector<Metric> metrics, double lr) {
  if (net_->size() == 0) throw std::logic_error("Model::compile: the model has no layers");
  auto opt = optim::make_optimizer(optimizer, parameters(), lr);
  compile(std::move(opt), loss, std::move(metrics));
  optimizer_name_ = lower(optimizer);
  return *this;
}

// Resolves the loss, the metrics and whether the loss looks through the last layer's softmax/sigmoid, once.
Model& Model::compile(std::unique_ptr<optim::Optimizer> optimizer, const Loss& loss, std::vector<Metric> metrics) {
  if (net_->size() == 0) throw std::logic_error("Model::compile: the model has no layers");
  if (!optimizer) throw std::invalid_argument("Model::compile: null optimizer");
  Loss l = loss.resolve("Model::compile");
  const bool fused = !l.fuses().empty() && (*net_)[net_->size() - 1]->output_activation() == l.fuses();
  for (auto& m : metrics) m = m.resolve("Model::compile", l.takes_logits() && !fused);
  optimizer_name_ = lower(optimizer->name());
  optimizer_ = std::move(optimizer);
  loss_ = std::move(l);
  metrics_ = std::move(metrics);
  fused_ = fused;
  return *this;
}

Model& Model::set_penalty(std::optional<Penalty> p) {
  if (p) (*p)(*net_);  // validates alpha and r now, not in the middle of fit
  penalty_ = p;
  return *this;
}

optim::Optimizer& Model::optimizer() {
  if (!optimizer_) throw std::logic_error("Model: not compiled; call compile() first");
  return *optimizer_;
}

// Training loss on one batch (+ the penalty). When the loss looks through the last layer's softmax/sigmoid, that
// layer's pre_activation gives the logits and the loss is taken from them (log-softmax form, stable for any
// logit). *out gets the predictions as predict() would return them.
Tensor Model::loss_on(const Tensor& x, const Tensor& y, Tensor* out) {
  if (!optimizer_) throw std::logic_error("Model: not compiled; call compile() first");
  Tensor h = x;
  const std::size_t n = net_->size();
  for (std::size_t i = 0; i + 1 < n; ++i) h = (*(*net_)[i])(h);  // operator(): module hooks fire
  Module& last = *(*net_)[n - 1];
  Tensor loss;
  if (fused_) {
    const Tensor logits = last.pre_activation(h);
    if (out) {  // predictions only for metrics: off the tape, and not computed at all when nobody asks
      NoGradGuard no_grad;
      *out = loss_.fuses() == "softmax" ? softmax(logits) : sigmoid(logits);
    }
    loss = loss_.from_logits(logits, y);
  } else {
    h = last(h);
    if (out) *out = h;
    loss = loss_(h, y);
  }
  if (penalty_) loss = loss + (*penalty_)(*net_).to(loss.dtype());
  return loss;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size) {
  if (!optimizer_) throw std::logic_error("Model::evaluate: not compiled; call compile() first");
  if (batch_size == 0) throw std::invalid_argument("Model::evaluate: batch_size must be >= 1, got 0");
  Dataset d(x, y);
  if (d.size() == 0) throw std::invalid_argument("Model::evaluate: no rows (x is " + shape_str(x.shape()) + ")");
  const bool was_training = net_->is_training();
  net_->eval();
  NoGradGuard no_grad;
  Logs sum;
  for (const auto& [lo, hi] : batches(d.size(), batch_size)) {
    Tensor xb = rows(x, lo, hi), yb = rows(y, lo, hi), pred;
    const double bs = static_cast<double>(hi - lo);
    sum["loss"] += loss_on(xb, yb, &pred).item() * bs;
    for (const auto& m : metrics_) sum[m.name()] += m(pred, yb) * bs;
  }
  net_->train(was_training);
  for (auto& [k, v] : sum) v /= static_cast<double>(d.size());
  return sum;
}

Tensor Model::predict(const Tensor& x, std::size_t batch_size) {
  if (net_->size() == 0) throw std::logic_error("Model::predict: the model has no layers");
  if (batch_size == 0) throw std::invalid_argument("Model::predict: batch_size must be >= 1, got 0");
  if (x.dim() == 0) throw std::invalid_argument("Model::predict: x must have a batch axis, got a 0-d tensor");
  const bool was_training = net_->is_training();
  net_->eval();
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (const auto& [lo, hi] : batches(x.size(0), batch_size)) parts.push_back((*net_)(rows(x, lo, hi)));
  if (parts.empty()) parts.push_back((*net_)(x));  // no rows: the [0, outputs] result, as Keras
  net_->train(was_training);
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

std::size_t Model::input_width() const {
  for (const auto& [n, c] : net_->children())
    if (auto l = std::dynamic_pointer_cast<Linear>(c)) return l->in_features();
  throw std::logic_error("Model::summary: cannot tell the input width (no Linear/Dense layer)");
}

void Model::summary(std::ostream& os) const {
  const std::string rule(65, '_'), dbl(65, '=');
  os << "Model: \"sequential\"\n" << rule << "\n";
  os << std::left << std::setw(29) << " Layer (type)" << std::setw(26) << "Output Shape" << "Param #\n" << dbl << "\n";
  std::map<std::string, int> seen;
  std::size_t trainable = 0, fixed = 0;
  if (net_->size()) {
    const bool was_training = net_->is_training();
    net_->eval();
    NoGradGuard no_grad;
    Dtype dt = net_->parameters().empty() ? kFloat32 : net_->parameters()[0].dtype();
    Tensor h = zeros({1, input_width()}, dt);
    for (const auto& [n, c] : net_->children()) {
      h = c->forward(h);
      std::string type = c->name(), base = lower(type);
      const int k = seen[base]++;
      std::string layer = " " + base + (k ? "_" + std::to_string(k) : "") + " (" + type + ")";
      std::string shape = "(None";
      for (std::size_t i = 1; i < h.dim(); ++i) shape += ", " + std::to_string(h.size(static_cast<long>(i)));
      shape += h.dim() == 1 ? ", " + std::to_string(h.size(0)) + ")" : ")";
      std::size_t params = c->parameter_count(), buffers = 0;
      for (const auto& [bn, b] : c->named_buffers()) buffers += b.numel();
      trainable += params, fixed += buffers;
      os << std::setw(29) << layer << std::setw(26) << shape << params + buffers << "\n";
    }
    net_->train(was_training);
  }
  auto grouped = [](std::size_t v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
  };
  os << dbl << "\nTotal params: " << grouped(trainable + fixed) << "\nTrainable params: " << grouped(trainable)
     << "\nNon-trainable params: " << grouped(fixed) << "\n" << rule << "\n";
}
void Model::summary() const { summary(std::cout); }

}  // namespace chainrule::nn
