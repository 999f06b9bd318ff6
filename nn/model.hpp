#pragma once
// Model: the Keras workflow on top of a Sequential network.
//
//   nn::Model model;
//   model.add(nn::make_dense(784, 128, "relu")).add(nn::make_dense(128, 10, "softmax"));
//   model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
//   nn::FitOptions fo;  fo.epochs = 10;  fo.batch_size = 64;  fo.validation_split = 0.1;
//   nn::History h = model.fit(x_train, y_train, fo);
//   auto scores = model.evaluate(x_test, y_test);        // {"loss": …, "accuracy": …}
//   Tensor p = model.predict(x_test);
//   model.summary();  model.save("model.safetensors");  nn::Model again = nn::Model::load("model.safetensors");
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callbacks.hpp"
#include "layers.hpp"
#include "losses.hpp"
#include "metrics.hpp"
#include "penalties.hpp"
#include "serialize.hpp"
#include "data_parallel.hpp"
#include "../optim/optimizer.hpp"

namespace chainrule::nn {

/// The arguments of Model::fit (Keras' fit arguments, as fields).
struct FitOptions {
  std::size_t epochs = 1;             ///< train until this epoch (counting from 1)
  std::size_t initial_epoch = 0;      ///< epochs already done, when resuming from a checkpoint (as Keras)
  std::size_t batch_size = 32;        ///< 1: online learning; ≥ N: full batch
  double validation_split = 0;        ///< the LAST fraction of (x, y) is held out, as Keras does (before shuffling)
  std::optional<std::pair<Tensor, Tensor>> validation_data;  ///< or an explicit validation set
  bool shuffle = true;                ///< reshuffle the training rows every epoch
  std::uint64_t seed = 0;             ///< for the shuffles (and nothing else)
  std::vector<std::shared_ptr<Callback>> callbacks;  ///< called at each point of the loop (nn/callbacks.hpp), after fit's own history and progress
  int verbose = 1;                    ///< 0 silent; 1 progress bar (only on a terminal) + a line per epoch; 2 lines only
  /// Data-parallel training over these processes (e.g. nn::ProcessGroupMPI::world(), nn/distributed.hpp): each
  /// rank trains on its shard of every global batch of batch_size rows, gradients are averaged in one allreduce
  /// per step, and logs, validation, callbacks and the returned History are those of the global batches, the
  /// same on every rank; only rank 0 prints and ModelCheckpoint saves only there. Every rank must call fit with
  /// the same model, data and options. An exception on any rank ends the whole job (ProcessGroup::abort).
  /// Null: this process alone (a local group of one, whose collectives do nothing).
  std::shared_ptr<ProcessGroup> process_group;
  /// How the gradients are reduced over process_group (nn/data_parallel.hpp): overlapped with backward in buckets
  /// (default), and with shard_optimizer each rank updates only the parameters it owns (ZeRO-1: 1/P of the
  /// optimizer's work). fit then gathers the optimizer's state at the end of every epoch, before the callbacks,
  /// so checkpoints and the model after fit hold all of it; the weights are the unsharded run's to the bit.
  DataParallelOptions data_parallel;
  /// Subnormal numbers flushed to zero while fit runs (x86's FTZ+DAZ on the calling thread and the intra-op
  /// threads; set_flush_denormal), as Keras/TensorFlow do on CPU: Adam's moments of rarely active inputs decay
  /// into the subnormal range, where arithmetic is 2–10× slower (bench/README.md). Values below 1.2·10⁻³⁸ (float)
  /// then count as 0. false: IEEE semantics, as torch and the engine and optimizers used directly (fit then leaves
  /// the thread's mode alone). The caller's mode is restored when fit returns or throws.
  bool flush_denormal = true;
};

/// The batch fit is training on, for callbacks' batch hooks: inputs, targets, and each row's index in the data.
struct TrainBatch {
  /// The batch's inputs and targets.
  ///@{
  Tensor x, y;
  ///@}
  std::vector<std::size_t> rows;  ///< each row's index in the training data
};

/// A Keras-style model: a Sequential network with compile, fit, evaluate, predict, save and load.
class Model {
 public:
  Model();
  /// A model around an existing network.
  explicit Model(std::shared_ptr<Sequential> net);
  /// Appends a layer (Keras' model.add); returns *this.
  Model& add(std::shared_ptr<Module> layer);

  /// Optimizer by name ("sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"; lr < 0 keeps its
  /// default), loss by name or callable (nn/losses.hpp: "mean_squared_error"/"mse", "mean_absolute_error"/"mae",
  /// "binary_crossentropy", "categorical_crossentropy" (one-hot targets), "sparse_categorical_crossentropy" (class
  /// indices)), metrics by name or callable (nn/metrics.hpp: "accuracy", "mse", "mae"). Names are resolved here,
  /// once. Cross-entropy on a model ending in softmax (or sigmoid, for binary) is computed from the logits before
  /// it, stably; predict() still returns the probabilities.
  Model& compile(const std::string& optimizer, const Loss& loss, std::vector<Metric> metrics = {}, double lr = -1);
  /// Same with an optimizer object built on this model's parameters().
  Model& compile(std::unique_ptr<optim::Optimizer> optimizer, const Loss& loss, std::vector<Metric> metrics = {});
  /// Adds α·C to the training loss: F = loss + penalty(model) (L1, L2 or ElasticNet, nn/penalties.hpp).
  Model& set_penalty(std::optional<Penalty> p);

  /// Trains on (x, y) for o.epochs epochs (Keras' fit); returns every logged quantity per epoch.
  History fit(const Tensor& x, const Tensor& y, const FitOptions& o = {});
  /// {"loss": …, and each metric}, averaged over the samples.
  Logs evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size = 256);
  /// Outputs for x, in batches, in eval mode and without recording a tape.
  Tensor predict(const Tensor& x, std::size_t batch_size = 256);
  /// Keras-style table: layer, output shape, parameter count; totals.
  void summary(std::ostream& os) const;
  /// summary(std::cout).
  void summary() const;

  /// One safetensors file: weights and buffers, optimizer state ("optimizer.<slot>.<i>"), and in its metadata the
  /// architecture, compile settings and a format version (JSON). During a fit with a sharded optimizer
  /// (FitOptions::data_parallel), only at an epoch's end (ModelCheckpoint): std::logic_error in between, when each
  /// rank holds its own part of the optimizer's state. Written atomically: a failed save leaves the
  /// previous file intact.
  void save(const std::string& path) const;
  /// Reads a file written by save: architecture, weights, compile settings and optimizer state.
  static Model load(const std::string& path, const LoadOptions& options = {});

  /// The network.
  Sequential& net() { return *net_; }
  /// The network (read-only).
  const Sequential& net() const { return *net_; }
  /// The trainable tensors of the network.
  std::vector<Tensor> parameters() const { return net_->parameters(); }
  /// The optimizer set by compile; throws if the model is not compiled.
  optim::Optimizer& optimizer();
  /// Whether compile has been called.
  bool compiled() const { return optimizer_ != nullptr; }
  /// The network's output for x (no hooks, no batching).
  Tensor forward(const Tensor& x) { return net_->forward(x); }

  bool stop_training = false;  ///< set by callbacks to end fit (after the current batch)
  std::string stop_reason;  ///< why training ended early (set with stop_training); empty if it did not
  /// The process group of the data-parallel fit running now (null outside fit or without one): callbacks use it
  /// to act on rank 0 only.
  const std::shared_ptr<ProcessGroup>& process_group() const { return group_; }
  /// The batch being trained on (valid in callbacks' on_batch_begin / on_batch_end).
  const TrainBatch& current_batch() const { return batch_; }
  /// The loss and metrics as compile resolved them.
  const Loss& loss() const { return loss_; }
  /// The metrics as compile resolved them.
  const std::vector<Metric>& metrics() const { return metrics_; }

 private:
  struct Run;  ///< one fit call: its data, options, callbacks and process group (nn/fit.cpp)
  History fit_impl(const Tensor& x, const Tensor& y, const FitOptions& o);
  void prepare(Run& r);  ///< the process group, its checks, the callbacks
  bool run_epoch(Run& r, std::size_t epoch, Logs& logs);
  double train_step(Run& r, std::size_t lo, std::size_t hi, std::vector<double>& values);
  void evaluate_batches(Run& r, Logs& logs);
  Tensor loss_on(const Tensor& x, const Tensor& y, Tensor* out);  ///< training loss (+ penalty); out: predictions
  std::size_t input_width() const;

  std::shared_ptr<Sequential> net_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::string optimizer_name_;
  Loss loss_{""};
  std::vector<Metric> metrics_;
  bool fused_ = false;  ///< the loss looks through the last layer's softmax/sigmoid (Loss::fuses)
  std::optional<Penalty> penalty_;
  std::shared_ptr<ProcessGroup> group_;  ///< set while fit runs
  TrainBatch batch_;
  bool state_spread_ = false;  ///< a sharded fit stepped since it last gathered the optimizer's state: save refuses
};

}  // namespace chainrule::nn
