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

#include "nn/layers.hpp"
#include "nn/losses.hpp"
#include "nn/penalties.hpp"
#include "nn/serialize.hpp"
#include "optim/optimizer.hpp"

namespace chainrule::nn {

class Model;
class ProcessGroup;  // nn/data_parallel.hpp

/// Keras' Dense: y = activation(x·W + b). A Linear whose activation is part of the layer, so summaries and
/// saved architectures read as in Keras. Parameters "weight" [in,out] and "bias" [out].
class Dense : public Linear {
 public:
  Dense(std::size_t in, std::size_t out, std::string activation = "linear", Linear::Options o = {});
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dense"; }
  std::string extra_repr() const override;
  const std::string& activation() const { return activation_; }
  /// x·W + b, before the activation (the logits when the activation is softmax).
  Tensor pre_activation(const Tensor& x) { return Linear::forward(x); }

 private:
  std::string activation_;
  std::shared_ptr<Module> act_;
};
/// Keras-style factory: model.add(nn::make_dense(784, 128, "relu")).
inline std::shared_ptr<Dense> make_dense(std::size_t in, std::size_t out, const std::string& activation = "linear",
                                         Linear::Options o = {}) {
  return std::make_shared<Dense>(in, out, activation, o);
}

/// Per-epoch numbers: "loss", "accuracy", "val_loss", "val_accuracy", "lr", ... (one value per epoch).
using Logs = std::map<std::string, double>;

/// What fit returns: every logged quantity per epoch, in order.
struct History {
  std::map<std::string, std::vector<double>> history;
  std::size_t epochs = 0;            // epochs actually run
  std::string stop_reason;           // empty, or why training ended early (early stopping, NaN loss, ...)
  const std::vector<double>& operator[](const std::string& key) const;
  /// CSV with a header: epoch,loss,accuracy,...
  void to_csv(const std::string& path) const;
};

/// Hooks into fit. Return values are not used: to stop, set model.stop_training = true.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_epoch_end(Model&, std::size_t /*epoch*/, Logs& /*logs*/) {}
  virtual void on_train_end(Model&) {}
};

/// Stops when `monitor` has not improved by more than min_delta for `patience` epochs in a row (patience 0: at the
/// first epoch without improvement); optionally puts back the
/// weights of the best epoch when training ends. mode: "min", "max", or "auto" (max for accuracy, else min).
class EarlyStopping : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    int patience = 0;  // int, as Keras: a negative value is an error, not a wrapped 2⁶⁴ − 1
    double min_delta = 0;
    bool restore_best_weights = false;
    std::string mode = "auto";
  };
  explicit EarlyStopping(Options o);
  EarlyStopping() : EarlyStopping(Options{}) {}
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;
  void on_train_end(Model& m) override;
  std::size_t stopped_epoch() const { return stopped_epoch_; }  // 0 if it never stopped training
  std::size_t best_epoch() const { return best_epoch_; }        // 1-based

 private:
  Options o_;
  bool maximize_ = false;
  double best_ = 0;
  std::size_t wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  std::vector<Tensor> best_weights_;
};

/// Saves the model to `path` after each epoch, or only when `monitor` improved (save_best_only). mode: "min",
/// "max", or "auto" (max for accuracy, else min).
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::string path, std::string monitor = "val_loss", bool save_best_only = true,
                  const std::string& mode = "auto");
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  std::string path_, monitor_;
  bool best_only_, maximize_;
  std::optional<double> best_;
};

/// Sets the learning rate at the start of each epoch to schedule(epoch, lr) (epoch 0-based).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(std::size_t epoch, double lr)> schedule);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  std::function<double(std::size_t, double)> schedule_;
};
/// Step decay: lr = initial · drop^⌊epoch / every⌋, initial being the optimizer's rate when each fit starts.
class StepDecay : public Callback {
 public:
  StepDecay(double drop, std::size_t every);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  double drop_, initial_ = 0;
  std::size_t every_;
};
inline std::shared_ptr<StepDecay> step_decay(double drop, std::size_t every) {
  return std::make_shared<StepDecay>(drop, every);
}

/// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience` epochs.
class ReduceLROnPlateau : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    double min_delta = 1e-4;
    double min_lr = 0;
    std::string mode = "auto";  // "min", "max", or "auto" (max for accuracy, else min)
  };
  explicit ReduceLROnPlateau(Options o);
  ReduceLROnPlateau() : ReduceLROnPlateau(Options{}) {}
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  Options o_;
  std::optional<double> best_;
  std::size_t wait_ = 0;
};

struct FitOptions {
  std::size_t epochs = 1;             // train until this epoch (counting from 1)
  std::size_t initial_epoch = 0;      // epochs already done, when resuming from a checkpoint (as Keras)
  std::size_t batch_size = 32;        // 1: online learning; ≥ N: full batch
  double validation_split = 0;        // the LAST fraction of (x, y) is held out, as Keras does (before shuffling)
  std::optional<std::pair<Tensor, Tensor>> validation_data;  // or an explicit validation set
  bool shuffle = true;                // reshuffle the training rows every epoch
  std::uint64_t seed = 0;             // for the shuffles (and nothing else)
  std::vector<std::shared_ptr<Callback>> callbacks;
  int verbose = 1;                    // 0 silent; 1 progress bar (only on a terminal) + a line per epoch; 2 lines only
  /// Data-parallel training over these processes (e.g. nn::ProcessGroupMPI::world(), nn/distributed.hpp): each
  /// rank trains on its shard of every global batch of batch_size rows, gradients are averaged in one allreduce
  /// per step, and logs, validation, callbacks and the returned History are those of the global batches, the
  /// same on every rank; only rank 0 prints and ModelCheckpoint saves only there. Every rank must call fit with
  /// the same model, data and options. An exception on any rank ends the whole job (ProcessGroup::abort).
  std::shared_ptr<ProcessGroup> process_group;
};

class Model {
 public:
  Model();
  explicit Model(std::shared_ptr<Sequential> net);
  /// Appends a layer (Keras' model.add); returns *this.
  Model& add(std::shared_ptr<Module> layer);

  /// Optimizer by name ("sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"; lr < 0 keeps its
  /// default), loss by name ("mean_squared_error"/"mse", "mean_absolute_error"/"mae", "binary_crossentropy",
  /// "categorical_crossentropy" (one-hot targets), "sparse_categorical_crossentropy" (class indices)), metrics
  /// "accuracy", "mse", "mae". Cross-entropy on a model ending in softmax (or sigmoid, for binary) is computed
  /// from the logits before it, stably; predict() still returns the probabilities.
  Model& compile(const std::string& optimizer, const std::string& loss, std::vector<std::string> metrics = {},
                 double lr = -1);
  /// Same with an optimizer object built on this model's parameters().
  Model& compile(std::unique_ptr<optim::Optimizer> optimizer, const std::string& loss,
                 std::vector<std::string> metrics = {});
  /// Adds α·C to the training loss: F = loss + penalty(model) (L1, L2 or ElasticNet, nn/penalties.hpp).
  Model& set_penalty(std::optional<Penalty> p);

  History fit(const Tensor& x, const Tensor& y, const FitOptions& o = {});
  /// {"loss": …, and each metric}, averaged over the samples.
  Logs evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size = 256);
  /// Outputs for x, in batches, in eval mode and without recording a tape.
  Tensor predict(const Tensor& x, std::size_t batch_size = 256);
  /// Keras-style table: layer, output shape, parameter count; totals.
  void summary(std::ostream& os) const;
  void summary() const;

  /// One safetensors file: weights and buffers, optimizer state ("optimizer.<slot>.<i>"), and in its metadata the
  /// architecture, compile settings and a format version (JSON). Written atomically: a failed save leaves the
  /// previous file intact.
  void save(const std::string& path) const;
  static Model load(const std::string& path, const LoadOptions& options = {});

  Sequential& net() { return *net_; }
  const Sequential& net() const { return *net_; }
  std::vector<Tensor> parameters() const { return net_->parameters(); }
  optim::Optimizer& optimizer();
  bool compiled() const { return optimizer_ != nullptr; }
  Tensor forward(const Tensor& x) { return net_->forward(x); }

  bool stop_training = false;  // set by callbacks to end fit after the current epoch
  std::string stop_reason;
  /// The process group of the data-parallel fit running now (null outside fit or without one): callbacks use it
  /// to act on rank 0 only.
  const std::shared_ptr<ProcessGroup>& process_group() const { return group_; }

 private:
  struct Batch;
  History fit_impl(const Tensor& x, const Tensor& y, const FitOptions& o);
  Tensor loss_on(const Tensor& x, const Tensor& y, Tensor* out);  // training loss (+ penalty); out: predictions
  Logs run_metrics(const Tensor& pred, const Tensor& y) const;
  std::size_t input_width() const;

  std::shared_ptr<Sequential> net_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::string optimizer_name_, loss_name_;
  std::vector<std::string> metrics_;
  std::optional<Penalty> penalty_;
  std::shared_ptr<ProcessGroup> group_;  // set while a data-parallel fit runs
};

}  // namespace chainrule::nn
