// Model::fit: the training loop. It reads as the algorithm:
//   for each epoch:  for each batch: train_step  (forward, backward, gradients averaged over the process group,
//                                                 one optimizer step)
//                    evaluate_batches on the validation rows
// with callbacks around every batch and epoch (History, the progress bar and the stop on a non-finite loss are
// callbacks too). Without a process group, fit trains over a local group of one whose collectives do nothing.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "data.hpp"
#include "data_parallel.hpp"
#include "model.hpp"

namespace chainrule::nn {

/// One fit call: its data, options, callbacks (the user's and fit's own) and process group.
struct Model::Run {
  Run(const FitOptions& opts, Dataset all) : o(opts), train(std::move(all)) {}
  const FitOptions& o;
  Dataset train, val;
  std::unique_ptr<DataParallel> dp;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // the global batches, [lo, hi) of the epoch's order
  std::vector<std::size_t> order;                          // the epoch's order of the training rows
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::shared_ptr<HistoryCallback> history = std::make_shared<HistoryCallback>();
  std::vector<double> values;  // one batch's [loss, metrics...]: reused, no allocation per batch
  Logs running;                // the epoch's running means, for on_batch_end: reused likewise

  template <class F> void each(F&& f) {
    for (auto& c : callbacks) f(*c);
  }
};

namespace {

// A message with "row i" (row i of the batch) turned into "dataset row r", so that an error inside fit names the
// row of the data that holds the bad value, not its place in a shuffled batch.
std::string in_dataset_rows(std::string msg, const std::vector<std::size_t>& rows) {
  const std::string key = "row ";
  for (std::size_t at = msg.find(key); at != std::string::npos; at = msg.find(key, at)) {
    std::size_t b = at + key.size(), e = b;
    while (e < msg.size() && std::isdigit(static_cast<unsigned char>(msg[e]))) ++e;
    const std::size_t i = e > b && e - b < 19 ? std::stoull(msg.substr(b, e - b)) : rows.size();
    if (i >= rows.size()) {
      at = b;
      continue;
    }
    const std::string dataset_row = "dataset row " + std::to_string(rows[i]);
    msg.replace(at, e - at, dataset_row);
    at += dataset_row.size();
  }
  return msg;
}

// The order of the training rows in one epoch: a fresh permutation per epoch, or 0..n-1.
void epoch_order(std::vector<std::size_t>& order, std::size_t n, bool shuffle, std::uint64_t seed) {
  if (shuffle) {
    order = permutation(n, seed);
  } else {
    order.resize(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
  }
}

void check_fit_options(const FitOptions& o) {
  if (o.batch_size == 0) throw std::invalid_argument("Model::fit: batch_size must be >= 1, got 0");
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw std::invalid_argument("Model::fit: validation_split must be in [0, 1), got " +
                                std::to_string(o.validation_split));
}

}  // namespace

// Data-parallel fit: an exception on one rank would leave the others waiting in a collective forever, so it ends
// the whole job instead, naming the rank and the error (ProcessGroup::abort).
History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  const FlushDenormalGuard flush(o.flush_denormal);  // Keras' CPU semantics by default (FitOptions::flush_denormal)
  if (!o.process_group) return fit_impl(x, y, o);
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
  check_fit_options(o);
  Run r(o, Dataset(x, y));  // Dataset checks that x and y have as many rows
  if (r.train.size() == 0)
    throw std::invalid_argument("Model::fit: no training rows (x is " + shape_str(x.shape()) + ")");
  if (o.validation_data) {
    r.val = Dataset(o.validation_data->first, o.validation_data->second);
  } else if (o.validation_split > 0) {
    std::tie(r.train, r.val) = r.train.split(o.validation_split);
  }
  struct Reset {  // group_ is set only while this fit runs
    std::shared_ptr<ProcessGroup>& g;
    ~Reset() { g.reset(); }
  } reset{group_};
  prepare(r);

  stop_training = false;
  stop_reason.clear();
  r.each([&](Callback& c) { c.on_train_begin(*this); });
  for (std::size_t epoch = o.initial_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    r.each([&](Callback& c) { c.on_epoch_begin(*this, epoch); });
    Logs logs;
    if (!run_epoch(r, epoch, logs)) break;  // not one finite batch (a NaN in the first)
    r.dp->consolidate_optimizer_state(*optimizer_);  // sharded: every rank's state whole, for checkpoints
    state_spread_ = false;
    r.dp->broadcast_buffers();  // BatchNorm's running statistics: rank 0's, so replicas evaluate alike
    if (r.val.size() > 0) evaluate_batches(r, logs);
    logs["lr"] = optimizer_->lr();
    logs["epoch"] = static_cast<double>(epoch + 1);
    r.each([&](Callback& c) { c.on_epoch_end(*this, epoch, logs); });
  }
  r.each([&](Callback& c) { c.on_train_end(*this); });
  r.dp->group().barrier();  // rank 0's checkpoints are on disk when fit returns on any rank
  batch_ = TrainBatch{};
  return r.history->history();
}

// The process group (a local one without FitOptions::process_group), the check that every rank runs the same fit,
// and the callbacks: the NaN stop first, the user's, then History and the progress bar.
void Model::prepare(Run& r) {
  const FitOptions& o = r.o;
  group_ = o.process_group ? o.process_group : local_group();
  std::vector<Tensor> buffers;
  for (const auto& [n, b] : net_->named_buffers()) buffers.push_back(b);
  r.dp = std::make_unique<DataParallel>(group_, parameters(), buffers, o.data_parallel);  // rank 0's weights
  std::size_t state = 0;
  for (const auto& [n, t] : optimizer_->state()) state += t.numel();
  r.dp->check_same({{"training rows", double(r.train.size())}, {"validation rows", double(r.val.size())},
                    {"batch_size", double(o.batch_size)}, {"epochs", double(o.epochs)},
                    {"initial_epoch", double(o.initial_epoch)}, {"shuffle", double(o.shuffle)},
                    {"seed", double(o.seed)}, {"optimizer state elements", double(state)},
                    {"metrics", double(metrics_.size())}},
                   "Model::fit");
  r.spans = batches(r.train.size(), o.batch_size);
  r.values.resize(1 + metrics_.size());
  std::vector<std::string> order = {"loss"};  // the progress bar's order of the logs
  for (const auto& m : metrics_) order.push_back(m.name());
  if (r.val.size() > 0) {
    order.push_back("val_loss");
    for (const auto& m : metrics_) order.push_back("val_" + m.name());
  }
  const int verbose = r.dp->rank() != 0 ? 0 : o.verbose;  // only rank 0 prints
  r.callbacks.push_back(std::make_shared<TerminateOnNaN>());
  r.callbacks.insert(r.callbacks.end(), o.callbacks.begin(), o.callbacks.end());
  r.callbacks.push_back(r.history);
  if (verbose > 0) r.callbacks.push_back(std::make_shared<ProgressBar>(verbose, o.epochs, r.spans.size(), order));
}

// One epoch of train_step over the batches; logs ← the means over its rows ("loss", metrics). False if no batch
// had a finite loss.
bool Model::run_epoch(Run& r, std::size_t epoch, Logs& logs) {
  net_->train();
  // Each batch gathers its rows straight from the epoch's order: no shuffled copy of the whole set.
  epoch_order(r.order, r.train.size(), r.o.shuffle, r.o.seed + epoch);
  std::vector<double> sums(r.values.size(), 0.0);
  std::size_t seen = 0;
  for (std::size_t b = 0; b < r.spans.size() && !stop_training; ++b) {
    r.each([&](Callback& c) { c.on_batch_begin(*this, b); });
    const auto [lo, hi] = r.spans[b];
    train_step(r, lo, hi, r.values);
    const bool finite = std::isfinite(r.values[0]);
    if (finite) {
      for (std::size_t k = 0; k < sums.size(); ++k) sums[k] += r.values[k] * static_cast<double>(hi - lo);
      seen += hi - lo;
    }
    r.running["loss"] = finite ? sums[0] / static_cast<double>(seen) : r.values[0];
    for (std::size_t k = 0; k < metrics_.size(); ++k)
      r.running[metrics_[k].name()] = seen ? sums[k + 1] / static_cast<double>(seen) : r.values[k + 1];
    r.each([&](Callback& c) { c.on_batch_end(*this, b, r.running); });
  }
  if (!seen) return false;
  logs["loss"] = sums[0] / static_cast<double>(seen);
  for (std::size_t k = 0; k < metrics_.size(); ++k) logs[metrics_[k].name()] = sums[k + 1] / static_cast<double>(seen);
  return true;
}

// One optimizer step on the global batch [lo, hi) of the epoch's order: this process's shard of it forward and
// backward, the gradients (and values = [loss, metrics...]) averaged over the group, then the step, unless the
// batch's loss is not finite (the NaN stop then explains).
double Model::train_step(Run& r, std::size_t lo, std::size_t hi, std::vector<double>& values) {
  const auto [slo, shi] = r.dp->shard(lo, hi);  // this rank's rows of the batch
  batch_.rows.assign(r.order.begin() + static_cast<long>(slo), r.order.begin() + static_cast<long>(shi));
  optimizer_->zero_grad(true);  // every step writes fresh gradients: no memset of the old ones
  std::fill(values.begin(), values.end(), 0.0);
  // On every rank, even one without rows or with a NaN loss (the collectives must pair up): gradient buckets go
  // out while backward still runs.
  r.dp->begin_step(shi - slo, hi - lo);
  if (!batch_.rows.empty()) {  // empty only on a rank without rows, when a batch has fewer rows than there are ranks
    batch_.x = take_rows(r.train.x(), batch_.rows);
    batch_.y = take_rows(r.train.y(), batch_.rows);
    Tensor pred, loss;
    try {
      loss = loss_on(batch_.x, batch_.y, metrics_.empty() ? nullptr : &pred);
    } catch (const std::out_of_range& e) {
      throw std::out_of_range(in_dataset_rows(e.what(), batch_.rows));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(in_dataset_rows(e.what(), batch_.rows));
    }
    values[0] = loss.item();
    if (std::isfinite(values[0])) {
      loss.backward();
      NoGradGuard no_grad;
      for (std::size_t k = 0; k < metrics_.size(); ++k) values[k + 1] = metrics_[k](pred.detach(), batch_.y);
    }
  }
  r.dp->allreduce_gradients(shi - slo, hi - lo, values);  // a NaN anywhere stops every rank at this batch
  if (std::isfinite(values[0])) {
    r.dp->step(*optimizer_);  // optimizer_->step(), and with a sharded optimizer each owner's parameters to all
    state_spread_ = r.o.data_parallel.shard_optimizer && r.dp->size() > 1;
  } else {
    r.dp->skip_step();
  }
  return values[0];
}

// Validation: each process evaluates its shard of the validation rows; the means, weighted by rows, are summed
// over the group. logs ← "val_loss", "val_<metric>".
void Model::evaluate_batches(Run& r, Logs& logs) {
  const std::size_t n = r.val.size(), batch_size = std::max<std::size_t>(r.o.batch_size, 256);
  const auto [lo, hi] = r.dp->shard(0, n);
  std::vector<double> v(1 + metrics_.size(), 0.0);
  if (hi > lo) {
    std::vector<std::size_t> idx;
    for (std::size_t i = lo; i < hi && hi - lo < n; ++i) idx.push_back(i);  // a shard: its rows; all: no copy
    Logs part = idx.empty() ? evaluate(r.val.x(), r.val.y(), batch_size)
                            : evaluate(take_rows(r.val.x(), idx), take_rows(r.val.y(), idx), batch_size);
    v[0] = part["loss"];
    for (std::size_t k = 0; k < metrics_.size(); ++k) v[k + 1] = part[metrics_[k].name()];
  }
  const double w = static_cast<double>(hi - lo) / static_cast<double>(n);
  for (auto& e : v) e *= w;
  r.dp->group().allreduce_sum(v.data(), v.size());
  logs["val_loss"] = v[0];
  for (std::size_t k = 0; k < metrics_.size(); ++k) logs["val_" + metrics_[k].name()] = v[k + 1];
}

}  // namespace chainrule::nn
