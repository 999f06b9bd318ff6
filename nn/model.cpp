// Model: compile / fit / evaluate / predict / summary / save / load.
#include "nn/model.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nn/activations.hpp"
#include "nn/data.hpp"
#include "nn/data_parallel.hpp"
#include "nn/serialize.hpp"
#include "optim/optim.hpp"

namespace chainrule::nn {

using json = nlohmann::json;

// ---- Dense ------------------------------------------------------------------------------------------------------
Dense::Dense(std::size_t in, std::size_t out, std::string activation, Linear::Options o)
    : Linear(in, out, o), activation_(std::move(activation)) {
  std::transform(activation_.begin(), activation_.end(), activation_.begin(), ::tolower);
  if (activation_ != "linear") act_ = make_activation(activation_);  // identity needs no node
}
Tensor Dense::forward(const Tensor& x) { return act_ ? act_->forward(Linear::forward(x)) : Linear::forward(x); }
std::string Dense::extra_repr() const { return Linear::extra_repr() + ", activation=" + activation_; }

// ---- History ----------------------------------------------------------------------------------------------------
const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it == history.end()) throw std::out_of_range("History: no quantity named '" + key + "'");
  return it->second;
}

void History::to_csv(const std::string& path) const {
  std::ostringstream s;
  s << "epoch";
  for (const auto& [k, v] : history)
    if (k != "epoch") s << ',' << k;
  s << '\n' << std::setprecision(17);
  for (std::size_t e = 0; e < epochs; ++e) {
    s << (*this)["epoch"][e];
    for (const auto& [k, v] : history)
      if (k != "epoch") s << ',' << (e < v.size() ? v[e] : NAN);
    s << '\n';
  }
  save_text_atomic(path, s.str());  // a failed export keeps the previous file
}

// ---- helpers ----------------------------------------------------------------------------------------------------
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// Rows [b, e) of t, copied (contiguous in row-major storage).
Tensor rows(const Tensor& t, std::size_t b, std::size_t e) {
  std::vector<std::size_t> idx(e - b);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = b + i;
  return take_rows(t, idx);
}

// The squashing function a model ends with: the loss is then computed from the values before it (stable).
enum class Squash { None, Softmax, Sigmoid };

Squash squash_of(const Module& m) {
  if (auto d = dynamic_cast<const Dense*>(&m)) {
    if (d->activation() == "softmax") return Squash::Softmax;
    if (d->activation() == "sigmoid") return Squash::Sigmoid;
  }
  if (dynamic_cast<const Softmax*>(&m)) return Squash::Softmax;
  if (dynamic_cast<const Sigmoid*>(&m)) return Squash::Sigmoid;
  return Squash::None;
}

bool is_cross_entropy(const std::string& loss) {
  return loss == "categorical_crossentropy" || loss == "sparse_categorical_crossentropy" ||
         loss == "binary_crossentropy";
}

const std::vector<std::string>& known_losses() {
  static const std::vector<std::string> k = {"mean_squared_error", "mse", "mean_absolute_error", "mae",
                                             "binary_crossentropy", "categorical_crossentropy",
                                             "sparse_categorical_crossentropy"};
  return k;
}

// Targets of one output column ([N]) are compared with predictions [N,1] as [N,1].
Tensor align(const Tensor& y, const Tensor& pred) {
  if (y.dim() == 1 && pred.dim() == 2 && pred.size(1) == 1) return reshape(y, {-1, 1});
  return y;
}

std::string format_logs(const Logs& logs, const std::vector<std::string>& order) {
  std::ostringstream s;
  s << std::setprecision(4) << std::fixed;
  for (const auto& k : order) {
    auto it = logs.find(k);
    if (it != logs.end()) s << " - " << k << ": " << it->second;
  }
  return s.str();
}

bool improved(double value, double best, double min_delta, bool maximize) {
  return maximize ? value > best + min_delta : value < best - min_delta;
}
bool maximize_for(const std::string& monitor, const std::string& mode, const char* who) {
  if (mode != "auto" && mode != "min" && mode != "max")
    throw std::invalid_argument(std::string(who) + ": mode must be auto, min or max, got '" + mode + "'");
  if (mode != "auto") return mode == "max";
  return monitor.find("acc") != std::string::npos;
}
double monitored(const Logs& logs, const std::string& key, const char* who) {
  auto it = logs.find(key);
  if (it == logs.end()) {
    std::string have;
    for (const auto& [k, v] : logs) have += (have.empty() ? "" : ", ") + k;
    throw std::invalid_argument(std::string(who) + ": monitored quantity '" + key + "' is not logged (logged: " +
                                have + ")");
  }
  return it->second;
}

}  // namespace

// ---- Model ------------------------------------------------------------------------------------------------------
Model::Model() : net_(std::make_shared<Sequential>()) {}
Model::Model(std::shared_ptr<Sequential> net) : net_(std::move(net)) {
  if (!net_) throw std::invalid_argument("Model: given a null network");
}

Model& Model::add(std::shared_ptr<Module> layer) {
  if (optimizer_) throw std::logic_error("Model::add: the model is already compiled; add layers before compile()");
  net_->add(std::move(layer));
  return *this;
}

Model& Model::compile(const std::string& optimizer, const std::string& loss, std::vector<std::string> metrics,
                      double lr) {
  if (net_->size() == 0) throw std::logic_error("Model::compile: the model has no layers");
  auto opt = optim::make_optimizer(lower(optimizer), parameters(), lr);
  compile(std::move(opt), loss, std::move(metrics));
  optimizer_name_ = lower(optimizer);
  return *this;
}

Model& Model::compile(std::unique_ptr<optim::Optimizer> optimizer, const std::string& loss,
                      std::vector<std::string> metrics) {
  if (net_->size() == 0) throw std::logic_error("Model::compile: the model has no layers");
  if (!optimizer) throw std::invalid_argument("Model::compile: null optimizer");
  const std::string l = lower(loss);
  if (std::find(known_losses().begin(), known_losses().end(), l) == known_losses().end()) {
    std::string valid;
    for (const auto& k : known_losses()) valid += (valid.empty() ? "" : ", ") + k;
    throw std::invalid_argument("Model::compile: unknown loss '" + loss + "'; valid names: " + valid);
  }
  for (auto& m : metrics) {
    m = lower(m);
    if (m == "acc") m = "accuracy";
    if (m == "mean_squared_error") m = "mse";
    if (m == "mean_absolute_error") m = "mae";
    if (m != "accuracy" && m != "mse" && m != "mae")
      throw std::invalid_argument("Model::compile: unknown metric '" + m + "'; valid names: accuracy, mse, mae");
  }
  optimizer_name_ = lower(optimizer->name());
  optimizer_ = std::move(optimizer);
  loss_name_ = l;
  metrics_ = std::move(metrics);
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

// Training loss on one batch. For cross-entropy, a final softmax/sigmoid is not applied: the loss is taken from
// the logits before it (log-softmax form, stable for any logit). Without such a final layer the outputs are
// logits already. *out gets the predictions as predict() would return them.
Tensor Model::loss_on(const Tensor& x, const Tensor& y, Tensor* out) {
  if (!optimizer_) throw std::logic_error("Model: not compiled; call compile() first");
  Tensor h = x;
  const std::size_t n = net_->size();
  const Squash squash = squash_of(*(*net_)[n - 1]);
  const bool from_logits = is_cross_entropy(loss_name_) && squash != Squash::None;
  for (std::size_t i = 0; i + 1 < n; ++i) h = (*net_)[i]->forward(h);
  Tensor logits;
  if (from_logits) {
    auto d = std::dynamic_pointer_cast<Dense>((*net_)[n - 1]);
    logits = d ? d->pre_activation(h) : h;
    if (out) {  // predictions only for metrics: off the tape, and not computed at all when nobody asks
      NoGradGuard no_grad;
      h = squash == Squash::Softmax ? softmax(logits) : sigmoid(logits);
    }
  } else {
    h = (*net_)[n - 1]->forward(h);
    logits = h;
  }
  if (out) *out = h;
  Tensor loss;
  if (loss_name_ == "mse" || loss_name_ == "mean_squared_error") {
    loss = mse_loss(h, align(y, h));
  } else if (loss_name_ == "mae" || loss_name_ == "mean_absolute_error") {
    loss = l1_loss(h, align(y, h));
  } else if (loss_name_ == "binary_crossentropy") {
    loss = binary_cross_entropy_with_logits(logits, align(y, logits));
  } else if (loss_name_ == "categorical_crossentropy") {
    if (y.dim() != 2)
      throw std::invalid_argument("categorical_crossentropy: targets must be one-hot rows [N,C], got " +
                                  shape_str(y.shape()) + " (use sparse_categorical_crossentropy for class indices)");
    loss = cross_entropy(logits, y);
  } else {  // sparse_categorical_crossentropy
    if (y.dim() != 1)
      throw std::invalid_argument("sparse_categorical_crossentropy: targets must be class indices [N], got " +
                                  shape_str(y.shape()) + " (use categorical_crossentropy for one-hot rows)");
    loss = cross_entropy(logits, y);
  }
  if (penalty_) loss = loss + (*penalty_)(*net_).to(loss.dtype());
  return loss;
}

Logs Model::run_metrics(const Tensor& pred, const Tensor& y) const {
  Logs logs;
  for (const auto& m : metrics_) {
    if (m == "accuracy") {
      std::vector<std::size_t> p, t;
      const std::size_t n = pred.size(0);
      if (pred.dim() == 2 && pred.size(1) > 1) {  // multi-class: argmax
        p = argmax(pred);
        t = y.dim() == 2 ? argmax(y) : to_labels(y);
      } else {  // one output: probability above ½ (logits: above 0)
        const bool logits = is_cross_entropy(loss_name_) && squash_of(*(*net_)[net_->size() - 1]) == Squash::None;
        const double cut = logits ? 0 : 0.5;
        Tensor p64 = pred.to(kFloat64), y64 = y.to(kFloat64);
        for (std::size_t i = 0; i < n; ++i) {
          p.push_back(p64.data<double>().data()[i] > cut);
          t.push_back(y64.data<double>().data()[i] > 0.5);
        }
      }
      std::size_t hit = 0;
      for (std::size_t i = 0; i < n; ++i) hit += p[i] == t[i];
      logs["accuracy"] = n ? static_cast<double>(hit) / static_cast<double>(n) : 0;
    } else {
      NoGradGuard g;
      logs[m] = (m == "mse" ? mse_loss(pred, align(y, pred)) : l1_loss(pred, align(y, pred))).item();
    }
  }
  return logs;
}

// Data-parallel fit: an exception on one rank would leave the others waiting in a collective forever, so it ends
// the whole job instead, naming the rank and the error (ProcessGroup::abort).
History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  if (!o.process_group) return fit_impl(x, y, o);
  struct Reset {  // group_ is set only while this fit runs
    std::shared_ptr<ProcessGroup>& g;
    ~Reset() { g.reset(); }
  } reset{group_};
  group_ = o.process_group;
  try {
    return fit_impl(x, y, o);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    o.process_group->abort(what.rfind("Model::fit", 0) == 0 ? what : "Model::fit: " + what);
  } catch (...) {
    o.process_group->abort("Model::fit: an exception not derived from std::exception");
  }
  std::abort();  // not reached: abort() ends the job (g++ does not see [[noreturn]] through the virtual call)
}

History Model::fit_impl(const Tensor& x, const Tensor& y, const FitOptions& o) {
  if (!optimizer_) throw std::logic_error("Model::fit: not compiled; call compile() first");
  if (o.batch_size == 0) throw std::invalid_argument("Model::fit: batch_size must be >= 1, got 0");
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw std::invalid_argument("Model::fit: validation_split must be in [0, 1), got " +
                                std::to_string(o.validation_split));
  Dataset all(x, y);  // checks that x and y have as many rows
  if (all.size() == 0) throw std::invalid_argument("Model::fit: no training rows (x is " + shape_str(x.shape()) + ")");
  Dataset train = all, val;
  if (o.validation_data) {
    val = Dataset(o.validation_data->first, o.validation_data->second);
  } else if (o.validation_split > 0) {
    std::tie(train, val) = all.split(o.validation_split);
  }
  const bool has_val = val.size() > 0;
  // Data-parallel: rank r trains on its shard() of every global batch; DataParallel broadcasts rank 0's weights.
  std::unique_ptr<DataParallel> dp;
  if (o.process_group) {
    std::vector<Tensor> buffers;
    for (const auto& [n, b] : net_->named_buffers()) buffers.push_back(b);
    dp = std::make_unique<DataParallel>(o.process_group, parameters(), buffers);
    std::size_t state = 0;
    for (const auto& [n, t] : optimizer_->state()) state += t.numel();
    dp->check_same({{"training rows", double(train.size())}, {"validation rows", double(val.size())},
                    {"batch_size", double(o.batch_size)}, {"epochs", double(o.epochs)},
                    {"initial_epoch", double(o.initial_epoch)}, {"shuffle", double(o.shuffle)},
                    {"seed", double(o.seed)}, {"optimizer state elements", double(state)},
                    {"metrics", double(metrics_.size())}},
                   "Model::fit");
  }
  const int verbose = dp && dp->rank() != 0 ? 0 : o.verbose;  // only rank 0 prints
  const bool bar = verbose == 1 && isatty(fileno(stdout));
  std::vector<std::string> order = {"loss"};
  for (const auto& m : metrics_) order.push_back(m);
  if (has_val) {
    order.push_back("val_loss");
    for (const auto& m : metrics_) order.push_back("val_" + m);
  }

  History h;
  stop_training = false;
  stop_reason.clear();
  for (auto& c : o.callbacks) c->on_train_begin(*this);
  const auto spans = batches(train.size(), o.batch_size);
  for (std::size_t epoch = o.initial_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    net_->train();
    // Each batch gathers its rows straight from the epoch's permutation: no shuffled copy of the whole set.
    std::vector<std::size_t> perm = o.shuffle ? permutation(train.size(), o.seed + epoch) : std::vector<std::size_t>();
    if (!o.shuffle)
      for (std::size_t i = 0; i < train.size(); ++i) perm.push_back(i);
    double loss_sum = 0;
    std::map<std::string, double> metric_sum;
    std::size_t seen = 0;
    if (verbose > 0) std::printf("Epoch %zu/%zu\n", epoch + 1, o.epochs);
    for (std::size_t b = 0; b < spans.size(); ++b) {
      const auto [lo, hi] = spans[b];
      const auto [slo, shi] = dp ? dp->shard(lo, hi) : std::pair(lo, hi);  // this rank's rows of the batch
      const std::vector<std::size_t> idx(perm.begin() + static_cast<long>(slo), perm.begin() + static_cast<long>(shi));
      optimizer_->zero_grad(true);  // every step writes fresh gradients: no memset of the old ones
      Tensor yb, pred, loss;
      double lv = 0;
      if (!idx.empty()) {  // empty only on a rank without rows, when a batch has fewer rows than there are ranks
        yb = take_rows(train.y(), idx);
        loss = loss_on(take_rows(train.x(), idx), yb, metrics_.empty() ? nullptr : &pred);
        lv = loss.item();
      }
      Logs batch_metrics;
      if (dp) {  // this rank's mean loss, metrics and gradient → the global batch's, the same on every rank
        std::vector<double> v(1 + metrics_.size(), 0.0);
        if (loss.defined()) {
          loss.backward();
          if (!metrics_.empty()) batch_metrics = run_metrics(pred.detach(), yb);
          v[0] = lv;
          for (std::size_t k = 0; k < metrics_.size(); ++k) v[k + 1] = batch_metrics[metrics_[k]];
        }
        dp->allreduce_gradients(idx.size(), hi - lo, v);  // so a NaN anywhere stops every rank at this batch
        lv = v[0];
        for (std::size_t k = 0; k < metrics_.size(); ++k) batch_metrics[metrics_[k]] = v[k + 1];
      }
      if (!std::isfinite(lv)) {
        stop_training = true;
        stop_reason = "epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) + ": loss is " +
                      (std::isnan(lv) ? "nan" : "inf") + "; training stopped (lower the learning rate?)";
        break;
      }
      if (!dp) loss.backward();
      optimizer_->step();
      const double bs = static_cast<double>(hi - lo);
      loss_sum += lv * bs;
      if (!metrics_.empty())
        for (const auto& [k, v] : dp ? batch_metrics : run_metrics(pred.detach(), yb)) metric_sum[k] += v * bs;
      seen += hi - lo;
      if (bar) {
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const std::size_t width = 30, done = width * (b + 1) / spans.size();
        Logs running = {{"loss", loss_sum / static_cast<double>(seen)}};
        for (const auto& [k, v] : metric_sum) running[k] = v / static_cast<double>(seen);
        std::printf("\r%zu/%zu [%s%s] - ETA: %.0fs%s", b + 1, spans.size(), std::string(done, '=').c_str(),
                    std::string(width - done, '.').c_str(), dt / static_cast<double>(b + 1) *
                    static_cast<double>(spans.size() - b - 1), format_logs(running, order).c_str());
        std::fflush(stdout);
      }
    }
    if (!seen) break;  // NaN in the first batch
    Logs logs = {{"loss", loss_sum / static_cast<double>(seen)}};
    for (const auto& [k, v] : metric_sum) logs[k] = v / static_cast<double>(seen);
    if (dp) dp->broadcast_buffers();  // BatchNorm's running statistics: rank 0's, so replicas evaluate alike
    if (has_val && !dp)
      for (const auto& [k, v] : evaluate(val.x(), val.y(), std::max<std::size_t>(o.batch_size, 256)))
        logs["val_" + k] = v;
    if (has_val && dp) {  // each rank evaluates its shard of the validation set; means weighted by rows
      const auto [vlo, vhi] = dp->shard(0, val.size());
      std::vector<double> v(1 + metrics_.size(), 0.0);
      if (vhi > vlo) {
        Logs part = evaluate(rows(val.x(), vlo, vhi), rows(val.y(), vlo, vhi), std::max<std::size_t>(o.batch_size, 256));
        v[0] = part["loss"];
        for (std::size_t k = 0; k < metrics_.size(); ++k) v[k + 1] = part[metrics_[k]];
      }
      const double w = static_cast<double>(vhi - vlo) / static_cast<double>(val.size());
      for (auto& e : v) e *= w;
      dp->group().allreduce_sum(v.data(), v.size());
      logs["val_loss"] = v[0];
      for (std::size_t k = 0; k < metrics_.size(); ++k) logs["val_" + metrics_[k]] = v[k + 1];
    }
    logs["lr"] = optimizer_->lr();
    logs["epoch"] = static_cast<double>(epoch + 1);
    for (auto& c : o.callbacks) c->on_epoch_end(*this, epoch, logs);
    for (const auto& [k, v] : logs) h.history[k].push_back(v);
    ++h.epochs;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (verbose > 0)
      std::printf("%s%zu/%zu [%s] - %.1fs %.0fms/step%s\n", bar ? "\r" : "", spans.size(), spans.size(),
                  std::string(30, '=').c_str(), dt, 1e3 * dt / static_cast<double>(spans.size()),
                  format_logs(logs, order).c_str());
  }
  for (auto& c : o.callbacks) c->on_train_end(*this);
  h.stop_reason = stop_reason;
  if (verbose > 0 && !stop_reason.empty()) std::printf("%s\n", stop_reason.c_str());
  if (dp) dp->group().barrier();  // rank 0's checkpoints are on disk when fit returns on any rank
  return h;
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
    for (const auto& [k, v] : run_metrics(pred, yb)) sum[k] += v * bs;
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
  for (const auto& [lo, hi] : batches(x.size(0), batch_size)) parts.push_back(net_->forward(rows(x, lo, hi)));
  if (parts.empty()) parts.push_back(net_->forward(x));  // no rows: the [0, outputs] result, as Keras
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

// ---- save / load ------------------------------------------------------------------------------------------------
namespace {

constexpr int kFormatVersion = 1;

json layer_config(const Module& m) {
  json j = {{"type", m.name()}};
  if (auto d = dynamic_cast<const Dense*>(&m)) {
    j["in"] = d->in_features(), j["out"] = d->out_features(), j["bias"] = d->bias().defined();
    j["activation"] = d->activation();
  } else if (auto l = dynamic_cast<const Linear*>(&m)) {
    j["in"] = l->in_features(), j["out"] = l->out_features(), j["bias"] = l->bias().defined();
  } else if (auto b = dynamic_cast<const BatchNorm1d*>(&m)) {
    j["features"] = b->features(), j["eps"] = b->options().eps, j["momentum"] = b->options().momentum;
    j["affine"] = b->options().affine;
  } else if (auto p = dynamic_cast<const Dropout*>(&m)) {
    j["p"] = p->p();
  } else if (auto a = dynamic_cast<const LeakyReLU*>(&m)) {
    j["slope"] = a->slope();
  } else if (auto a = dynamic_cast<const PiecewiseLinear*>(&m)) {
    j["x_min"] = a->x_min(), j["x_max"] = a->x_max();
  } else if (auto a = dynamic_cast<const LinearActivation*>(&m)) {
    j["a"] = a->a(), j["b"] = a->b();
  } else if (auto s = dynamic_cast<const Sequential*>(&m)) {
    j["layers"] = json::array();
    for (const auto& [n, c] : s->children()) j["layers"].push_back(layer_config(*c));
  } else if (!dynamic_cast<const Sigmoid*>(&m) && !dynamic_cast<const Tanh*>(&m) && !dynamic_cast<const ReLU*>(&m) &&
             !dynamic_cast<const Softmax*>(&m) && !dynamic_cast<const LogSoftmax*>(&m) &&
             !dynamic_cast<const Step*>(&m) && !dynamic_cast<const Gaussian*>(&m)) {
    throw std::invalid_argument("Model::save: cannot describe layer type '" + m.name() +
                                "' (save its weights with save_safetensors(path, net.named_parameters()))");
  }
  return j;
}

// `budget`: how many values the file holds (plus slack). Every parameter must come from the file, so a description
// asking for more (a hostile "in": 1073741824) is refused before its weights are allocated. `depth`: Sequentials
// nest at most kMaxDepth deep, so a hostile nesting cannot exhaust the stack.
constexpr int kMaxDepth = 64;
std::shared_ptr<Module> make_layer(const json& j, Dtype dt, const std::string& file, std::uint64_t& budget,
                                   int depth = 0) {
  auto fail = [&](const std::string& why) {
    return std::runtime_error(file + ": architecture: " + why + " in " + j.dump());
  };
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) throw fail("layer without a type");
  auto spend = [&](std::uint64_t values) {
    if (values > budget)
      throw std::runtime_error(file + ": architecture: needs more values than the file's tensors hold (layer " +
                               j.dump() + ")");
    budget -= values;
  };
  const std::string t = j["type"];
  auto num = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_number()) throw fail(std::string("missing number '") + k + "'");
    return j[k].get<double>();
  };
  auto count = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_number_unsigned() || j[k].get<std::uint64_t>() == 0 ||
        j[k].get<std::uint64_t>() > (1u << 30))
      throw fail(std::string("'") + k + "' must be a positive integer");
    return static_cast<std::size_t>(j[k].get<std::uint64_t>());
  };
  auto flag = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_boolean()) throw fail(std::string("missing boolean '") + k + "'");
    return j[k].get<bool>();
  };
  Linear::Options lo;
  lo.dtype = dt;
  if (t == "Dense" || t == "Linear") {
    lo.bias = flag("bias");
    spend(std::uint64_t{count("in")} * count("out") + (lo.bias ? count("out") : 0));  // each ≤ 2^30: no overflow
    if (t == "Linear") return std::make_shared<Linear>(count("in"), count("out"), lo);
    if (!j.contains("activation") || !j["activation"].is_string()) throw fail("missing 'activation'");
    return std::make_shared<Dense>(count("in"), count("out"), j["activation"].get<std::string>(), lo);
  }
  if (t == "BatchNorm1d") {
    BatchNorm1d::Options bo;
    bo.dtype = dt, bo.eps = num("eps"), bo.momentum = num("momentum"), bo.affine = flag("affine");
    spend(count("features"));  // at least its running mean
    return std::make_shared<BatchNorm1d>(count("features"), bo);
  }
  if (t == "Dropout") return std::make_shared<Dropout>(num("p"));
  if (t == "LeakyReLU") return std::make_shared<LeakyReLU>(num("slope"));
  if (t == "PiecewiseLinear") return std::make_shared<PiecewiseLinear>(num("x_min"), num("x_max"));
  if (t == "LinearActivation") return std::make_shared<LinearActivation>(num("a"), num("b"));
  if (t == "Sequential") {
    if (!j.contains("layers") || !j["layers"].is_array()) throw fail("missing 'layers'");
    if (depth == kMaxDepth)
      throw std::runtime_error(file + ": architecture: Sequentials nested more than " + std::to_string(kMaxDepth) +
                               " deep");
    auto s = std::make_shared<Sequential>();
    for (const auto& c : j["layers"]) s->add(make_layer(c, dt, file, budget, depth + 1));
    return s;
  }
  for (const char* name : {"Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "Step", "Gaussian"})
    if (t == name) {
      std::string key = t == "LogSoftmax" ? "log_softmax" : lower(t);
      return make_activation(key);
    }
  throw fail("unknown layer type '" + t + "'");
}

// The optimizer's type and every option, so that load() rebuilds it exactly (the learning rate as it is now).
json optimizer_config(const optim::Optimizer& o) {
  json j = {{"type", o.name()}, {"lr", o.lr()}};
  if (auto p = dynamic_cast<const optim::SGD*>(&o)) {
    const auto x = p->options();
    j.update({{"momentum", x.momentum}, {"dampening", x.dampening}, {"nesterov", x.nesterov},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adagrad*>(&o)) {
    const auto x = p->options();
    j.update({{"lr_decay", x.lr_decay}, {"initial_accumulator_value", x.initial_accumulator_value}, {"eps", x.eps},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adadelta*>(&o)) {
    const auto x = p->options();
    j.update({{"rho", x.rho}, {"eps", x.eps}, {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::RMSprop*>(&o)) {
    const auto x = p->options();
    j.update({{"alpha", x.alpha}, {"eps", x.eps}, {"momentum", x.momentum}, {"centered", x.centered},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adam*>(&o)) {
    const auto x = p->options();
    j.update({{"beta1", x.beta1}, {"beta2", x.beta2}, {"eps", x.eps}, {"weight_decay", x.weight_decay},
              {"amsgrad", x.amsgrad}});
  } else {
    throw std::invalid_argument(std::string("Model::save: cannot describe optimizer type '") + o.name() + "'");
  }
  return j;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const json& j, std::vector<Tensor> params) {
  const std::string t = j.at("type").get<std::string>();
  auto set = [&](auto& o) {  // every field present in j (json::at throws on a missing one)
    o.lr = j.at("lr").get<double>();
    return o;
  };
  if (t == "SGD") {
    optim::SGD::Options o;
    o.momentum = j.at("momentum"), o.dampening = j.at("dampening"), o.nesterov = j.at("nesterov");
    o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::SGD>(std::move(params), set(o));
  }
  if (t == "Adagrad") {
    optim::Adagrad::Options o;
    o.lr_decay = j.at("lr_decay"), o.initial_accumulator_value = j.at("initial_accumulator_value");
    o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::Adagrad>(std::move(params), set(o));
  }
  if (t == "Adadelta") {
    optim::Adadelta::Options o;
    o.rho = j.at("rho"), o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::Adadelta>(std::move(params), set(o));
  }
  if (t == "RMSprop") {
    optim::RMSprop::Options o;
    o.alpha = j.at("alpha"), o.eps = j.at("eps"), o.momentum = j.at("momentum"), o.centered = j.at("centered");
    o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::RMSprop>(std::move(params), set(o));
  }
  if (t == "Adam") {
    optim::Adam::Options o;
    o.beta1 = j.at("beta1"), o.beta2 = j.at("beta2"), o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    o.amsgrad = j.at("amsgrad");
    return std::make_unique<optim::Adam>(std::move(params), set(o));
  }
  throw std::invalid_argument("unknown optimizer type '" + t + "'");
}

}  // namespace

void Model::save(const std::string& path) const {
  json meta = {{"format", "chainrule.model"}, {"format_version", kFormatVersion}};
  meta["architecture"] = layer_config(*net_);
  const auto params = net_->parameters();
  meta["dtype"] = dtype_name(params.empty() ? kFloat32 : params[0].dtype());
  NamedTensors tensors = net_->named_parameters();
  for (auto& b : net_->named_buffers()) tensors.push_back(b);
  if (optimizer_) {
    meta["compile"] = {{"optimizer", optimizer_name_}, {"optimizer_config", optimizer_config(*optimizer_)},
                       {"loss", loss_name_}, {"metrics", metrics_}};
    if (penalty_)
      meta["compile"]["penalty"] = {{"kind", static_cast<int>(penalty_->kind)}, {"alpha", penalty_->alpha},
                                    {"r", penalty_->r}, {"include_bias", penalty_->include_bias}};
    for (auto& [n, t] : optimizer_->state()) tensors.emplace_back("optimizer." + n, t);
  }
  save_safetensors(path, tensors, {{"chainrule", meta.dump()}});
}

Model Model::load(const std::string& path, const LoadOptions& options) {
  Metadata md;
  NamedTensors tensors = load_safetensors(path, &md);
  check_finite(path, tensors, options);  // NaN weights or optimizer state cannot train (issue 15)
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  auto it = md.find("chainrule");
  if (it == md.end()) throw fail("no chainrule model description in the metadata (a plain safetensors file?)");
  json meta = json::parse(it->second, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) throw fail("model description is not valid JSON");
  if (!meta.contains("format") || meta["format"] != "chainrule.model") throw fail("not a chainrule model file");
  const json version = meta.contains("format_version") ? meta["format_version"] : json();
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1 || version.get<std::int64_t>() > kFormatVersion)
    throw fail("unsupported format_version " + meta.value("format_version", json()).dump() + " (this build reads up to " +
               std::to_string(kFormatVersion) + ")");
  const json dtj = meta.contains("dtype") ? meta["dtype"] : json();
  if (dtj != "float32" && dtj != "float64") throw fail("unknown dtype " + dtj.dump());
  const std::string dts = dtj.get<std::string>();
  const Dtype dt = dts == "float64" ? kFloat64 : kFloat32;
  if (!meta.contains("architecture")) throw fail("no architecture");
  // The layers may not ask for more values than the file holds, plus some slack so that a file missing a tensor is
  // reported as exactly that (below) rather than as too small: a hostile description then allocates 64 MiB at most.
  std::uint64_t budget = std::uint64_t{1} << 24;
  for (const auto& [n, t] : tensors) budget += t.numel();
  std::shared_ptr<Sequential> seq;
  try {  // the layers' own checks (an unknown activation, a Dropout p of 7) become errors about this file
    seq = std::dynamic_pointer_cast<Sequential>(make_layer(meta["architecture"], dt, path, budget));
  } catch (const std::invalid_argument& e) {
    throw fail(std::string("architecture: ") + e.what());
  }
  if (!seq) throw fail("architecture is not a Sequential");
  Model m(seq);

  // Every parameter and buffer must come from the file, with its shape and dtype; nothing may be left over.
  std::map<std::string, Tensor> by_name;
  for (auto& [n, t] : tensors) by_name.emplace(n, t);
  NamedTensors expected = seq->named_parameters();
  for (auto& b : seq->named_buffers()) expected.push_back(b);
  for (auto& [n, t] : expected) {
    auto f = by_name.find(n);
    if (f == by_name.end()) throw fail("tensor '" + n + "' is missing");
    if (f->second.dtype() != t.dtype() || f->second.shape() != t.shape())
      throw fail("tensor '" + n + "' is " + dtype_name(f->second.dtype()) + " " + shape_str(f->second.shape()) +
                 ", the architecture needs " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    detail::dispatch(dt, [&, &t = t](auto tag) {  // a structured binding is captured by name (C++17)
      using T = decltype(tag);
      Tensor dst = t;
      dst.data<T>() = f->second.data<T>();
    });
    by_name.erase(f);
  }
  optim::NamedTensors opt_state;
  for (auto& [n, t] : by_name) {
    if (n.rfind("optimizer.", 0) != 0) throw fail("unexpected tensor '" + n + "' (not in the architecture)");
    opt_state.emplace_back(n.substr(10), t);
  }
  if (meta.contains("compile")) {
    const json& c = meta["compile"];
    try {
      m.compile(make_optimizer(c.at("optimizer_config"), m.parameters()), c.at("loss").get<std::string>(),
                c.at("metrics").get<std::vector<std::string>>());
      m.optimizer_name_ = c.at("optimizer").get<std::string>();
      if (c.contains("penalty")) {
        const json& p = c["penalty"];
        Penalty pen;
        const int kind = p.at("kind").get<int>();
        if (kind < 0 || kind > 2)
          throw std::invalid_argument("penalty kind " + std::to_string(kind) + " is not 0, 1 or 2");
        pen.kind = static_cast<Penalty::Kind>(kind);
        pen.alpha = p.at("alpha").get<double>(), pen.r = p.at("r").get<double>();
        pen.include_bias = p.at("include_bias").get<bool>();
        m.set_penalty(pen);
      }
    } catch (const std::exception& e) {
      throw fail(std::string("bad compile settings: ") + e.what());
    }
    try {
      m.optimizer().load_state(opt_state);
    } catch (const std::exception& e) {
      throw fail(std::string("optimizer state: ") + e.what());
    }
  } else if (!opt_state.empty()) {
    throw fail("optimizer state without compile settings");
  }
  return m;
}

// ---- callbacks --------------------------------------------------------------------------------------------------
EarlyStopping::EarlyStopping(Options o) : o_(std::move(o)) {
  if (o_.patience < 0)
    throw std::invalid_argument("EarlyStopping: patience must be >= 0, got " + std::to_string(o_.patience));
  if (!(o_.min_delta >= 0))
    throw std::invalid_argument("EarlyStopping: min_delta must be >= 0, got " + std::to_string(o_.min_delta));
  maximize_ = maximize_for(o_.monitor, o_.mode, "EarlyStopping");
}

void EarlyStopping::on_train_begin(Model&) {
  wait_ = stopped_epoch_ = best_epoch_ = 0;
  best_ = maximize_ ? -INFINITY : INFINITY;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(Model& m, std::size_t epoch, Logs& logs) {
  const double v = monitored(logs, o_.monitor, "EarlyStopping");
  if (improved(v, best_, o_.min_delta, maximize_) || best_epoch_ == 0) {
    best_ = v, best_epoch_ = epoch + 1, wait_ = 0;
    if (o_.restore_best_weights) {
      best_weights_.clear();
      for (const auto& p : m.parameters()) best_weights_.push_back(p.detach());
      for (const auto& [n, b] : m.net().named_buffers()) best_weights_.push_back(b.detach());
    }
  } else if (++wait_ >= std::max<std::size_t>(std::size_t(o_.patience), 1)) {
    stopped_epoch_ = epoch + 1;
    m.stop_training = true;
    m.stop_reason = "early stopping at epoch " + std::to_string(epoch + 1) + ": " + o_.monitor + " has not improved " +
                    "since epoch " + std::to_string(best_epoch_);
  }
}

void EarlyStopping::on_train_end(Model& m) {
  if (!o_.restore_best_weights || best_weights_.empty()) return;
  std::vector<Tensor> dst = m.parameters();
  for (const auto& [n, b] : m.net().named_buffers()) dst.push_back(b);
  for (std::size_t i = 0; i < dst.size(); ++i)
    detail::dispatch(dst[i].dtype(), [&](auto tag) {
      using T = decltype(tag);
      dst[i].data<T>() = best_weights_[i].data<T>();
    });
}

ModelCheckpoint::ModelCheckpoint(std::string path, std::string monitor, bool save_best_only, const std::string& mode)
    : path_(std::move(path)), monitor_(std::move(monitor)), best_only_(save_best_only),
      maximize_(maximize_for(monitor_, mode, "ModelCheckpoint")) {}

void ModelCheckpoint::on_epoch_end(Model& m, std::size_t, Logs& logs) {
  if (best_only_) {
    const double v = monitored(logs, monitor_, "ModelCheckpoint");
    if (best_ && !improved(v, *best_, 0, maximize_)) return;
    best_ = v;
  }
  if (m.process_group() && m.process_group()->rank() != 0) return;  // data-parallel: replicas are equal; one file
  m.save(path_);
}

LearningRateScheduler::LearningRateScheduler(std::function<double(std::size_t, double)> schedule)
    : schedule_(std::move(schedule)) {
  if (!schedule_) throw std::invalid_argument("LearningRateScheduler: empty schedule");
}
void LearningRateScheduler::on_train_begin(Model& m) { m.optimizer().set_lr(schedule_(0, m.optimizer().lr())); }
void LearningRateScheduler::on_epoch_end(Model& m, std::size_t epoch, Logs&) {
  m.optimizer().set_lr(schedule_(epoch + 1, m.optimizer().lr()));
}

StepDecay::StepDecay(double drop, std::size_t every) : drop_(drop), every_(every) {
  if (!(drop > 0 && drop <= 1) || every == 0)
    throw std::invalid_argument("step_decay: need 0 < drop <= 1 and every >= 1, got drop " + std::to_string(drop) +
                                ", every " + std::to_string(every));
}
void StepDecay::on_train_begin(Model& m) { initial_ = m.optimizer().lr(); }
void StepDecay::on_epoch_end(Model& m, std::size_t epoch, Logs&) {
  m.optimizer().set_lr(initial_ * std::pow(drop_, static_cast<double>((epoch + 1) / every_)));
}

ReduceLROnPlateau::ReduceLROnPlateau(Options o) : o_(std::move(o)) {
  if (o_.patience < 0)
    throw std::invalid_argument("ReduceLROnPlateau: patience must be >= 0, got " + std::to_string(o_.patience));
  if (!(o_.factor > 0 && o_.factor < 1))
    throw std::invalid_argument("ReduceLROnPlateau: factor must be in (0, 1), got " + std::to_string(o_.factor));
  if (!(o_.min_lr >= 0) || !std::isfinite(o_.min_lr))
    throw std::invalid_argument("ReduceLROnPlateau: min_lr must be a finite number >= 0, got " +
                                std::to_string(o_.min_lr));
  if (!(o_.min_delta >= 0) || !std::isfinite(o_.min_delta))
    throw std::invalid_argument("ReduceLROnPlateau: min_delta must be a finite number >= 0, got " +
                                std::to_string(o_.min_delta));
  maximize_for(o_.monitor, o_.mode, "ReduceLROnPlateau");  // validates mode now
}

void ReduceLROnPlateau::on_epoch_end(Model& m, std::size_t, Logs& logs) {
  const double v = monitored(logs, o_.monitor, "ReduceLROnPlateau");
  const bool maximize = maximize_for(o_.monitor, o_.mode, "ReduceLROnPlateau");
  if (!best_ || improved(v, *best_, o_.min_delta, maximize)) {
    best_ = v, wait_ = 0;
  } else if (++wait_ >= std::size_t(o_.patience)) {
    m.optimizer().set_lr(std::max(o_.min_lr, m.optimizer().lr() * o_.factor));
    wait_ = 0;
  }
}

}  // namespace chainrule::nn
