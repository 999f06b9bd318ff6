#pragma once
// Callbacks: hooks into Model::fit, as Keras' (keras.callbacks). fit calls, in order:
//   on_train_begin · for each epoch: on_epoch_begin · for each batch: on_batch_begin, on_batch_end · on_epoch_end ·
//   on_train_end
// Logs hold running means over the epoch's batches so far ("loss", metrics) at on_batch_end, and the epoch's
// numbers ("loss", metrics, "val_loss", "val_<metric>", "lr", "epoch") at on_epoch_end. To stop, a callback sets
// model.stop_training (and model.stop_reason): fit ends after the current batch.
// History, the progress bar and the stop on a non-finite loss are callbacks too; fit adds them itself.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../autograd/autograd.hpp"
#include "module.hpp"

namespace chainrule::nn {

class Model;

/// Per-epoch numbers: "loss", "accuracy", "val_loss", "val_accuracy", "lr", ... (one value per epoch).
using Logs = std::map<std::string, double>;

/// What fit returns: every logged quantity per epoch, in order.
struct History {
  std::map<std::string, std::vector<double>> history;  ///< each quantity ("loss", "val_accuracy", ...) → its value per epoch
  std::size_t epochs = 0;            ///< epochs actually run
  std::string stop_reason;           ///< empty, or why training ended early (early stopping, NaN loss, ...)
  /// The values of one quantity; throws std::out_of_range naming the key and the keys present.
  const std::vector<double>& operator[](const std::string& key) const;
  /// CSV with a header: epoch,loss,accuracy,...
  void to_csv(const std::string& path) const;
};

/// Hooks into fit's loop (Keras' Callback): each method runs at that point of training; the defaults do nothing.
class Callback {
 public:
  virtual ~Callback() = default;
  /// Before the first epoch.
  virtual void on_train_begin(Model&) {}
  /// At the start of each epoch (0-based).
  virtual void on_epoch_begin(Model&, std::size_t /*epoch*/) {}
  /// Before each batch (0-based within the epoch).
  virtual void on_batch_begin(Model&, std::size_t /*batch*/) {}
  /// After each batch, with its logs ("loss", metrics).
  virtual void on_batch_end(Model&, std::size_t /*batch*/, const Logs& /*logs*/) {}
  /// After each epoch, with its logs (validation included); a callback may add entries.
  virtual void on_epoch_end(Model&, std::size_t /*epoch*/, Logs& /*logs*/) {}
  /// After the last epoch, or when training stopped early.
  virtual void on_train_end(Model&) {}
};

/// Records each epoch's logs into a History (fit adds one; its History is what fit returns).
class HistoryCallback : public Callback {
 public:
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;
  void on_train_end(Model& m) override;
  /// What was recorded so far.
  const History& history() const { return h_; }

 private:
  History h_;
};

/// Stops training at the first batch whose loss is NaN or infinite, before the step that would spread it into the
/// weights (Keras' TerminateOnNaN). The reason names the epoch and batch and, when the batch's own input holds a
/// non-finite value, the first one (dataset row and column); only a finite input suggests lowering the rate.
class TerminateOnNaN : public Callback {
 public:
  void on_epoch_begin(Model&, std::size_t epoch) override { epoch_ = epoch; }
  void on_batch_end(Model& m, std::size_t batch, const Logs& logs) override;

 private:
  std::size_t epoch_ = 0;
};

/// Keras' progress output: "Epoch 3/10", a bar with the running means while an epoch runs (only on a terminal),
/// and a line per epoch. verbose 1: bar + lines; 2: lines only.
class ProgressBar : public Callback {
 public:
  /// verbose 1 or 2; epochs and steps per epoch for the counters; order: the logs to show, in order.
  ProgressBar(int verbose, std::size_t epochs, std::size_t steps, std::vector<std::string> order);
  void on_epoch_begin(Model& m, std::size_t epoch) override;
  void on_batch_end(Model& m, std::size_t batch, const Logs& logs) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;
  void on_train_end(Model& m) override;

 private:
  double seconds() const;
  bool bar_;
  std::size_t epochs_, steps_;
  std::vector<std::string> order_;
  double t0_ = 0;
};

/// Stops when `monitor` has not improved by more than min_delta for `patience` epochs in a row (patience 0: at the
/// first epoch without improvement); optionally puts back the
/// weights of the best epoch when training ends. mode: "min", "max", or "auto" (max for accuracy, else min).
class EarlyStopping : public Callback {
 public:
  /// Settings of EarlyStopping (Keras' names and defaults).
  struct Options {
    std::string monitor = "val_loss";  ///< the logged quantity watched
    int patience = 0;  ///< int, as Keras: a negative value is an error, not a wrapped 2⁶⁴ − 1
    double min_delta = 0;  ///< a change of at most this much is no improvement
    bool restore_best_weights = false;  ///< put back the best epoch's weights when training ends
    std::string mode = "auto";  ///< "min", "max", or "auto" (max for accuracy, else min)
  };
  /// Checks the options (patience ≥ 0, a known mode) and starts watching.
  explicit EarlyStopping(Options o);
  EarlyStopping() : EarlyStopping(Options{}) {}
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;
  void on_train_end(Model& m) override;
  std::size_t stopped_epoch() const { return stopped_epoch_; }  ///< 0 if it never stopped training
  std::size_t best_epoch() const { return best_epoch_; }        ///< 1-based

 private:
  Options o_;
  bool maximize_ = false;
  double best_ = 0;
  std::size_t wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  NamedTensors best_weights_;  ///< the best epoch's state_dict, copied
};

/// Saves the model to `path` after each epoch, or only when `monitor` improved (save_best_only). mode: "min",
/// "max", or "auto" (max for accuracy, else min).
class ModelCheckpoint : public Callback {
 public:
  /// Writes the model to path (Model::save); mode: "min", "max" or "auto".
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
  /// schedule(epoch, lr) gives the rate for each epoch.
  explicit LearningRateScheduler(std::function<double(std::size_t epoch, double lr)> schedule);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  std::function<double(std::size_t, double)> schedule_;
};
/// Step decay: lr = initial · drop^⌊epoch / every⌋, initial being the optimizer's rate when each fit starts.
class StepDecay : public Callback {
 public:
  /// Multiplies the rate by drop every `every` epochs.
  StepDecay(double drop, std::size_t every);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  double drop_, initial_ = 0;
  std::size_t every_;
};
/// A StepDecay callback, ready for FitOptions::callbacks.
inline std::shared_ptr<StepDecay> step_decay(double drop, std::size_t every) {
  return std::make_shared<StepDecay>(drop, every);
}

/// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience` epochs.
class ReduceLROnPlateau : public Callback {
 public:
  /// Settings of ReduceLROnPlateau (Keras' names and defaults).
  struct Options {
    std::string monitor = "val_loss";  ///< the logged quantity watched
    double factor = 0.1;  ///< the rate is multiplied by this on a plateau
    int patience = 10;  ///< epochs without improvement before reducing
    double min_delta = 1e-4;  ///< a change of at most this much is no improvement
    double min_lr = 0;  ///< the rate never goes below this
    std::string mode = "auto";  ///< "min", "max", or "auto" (max for accuracy, else min)
  };
  /// Checks the options and starts watching.
  explicit ReduceLROnPlateau(Options o);
  ReduceLROnPlateau() : ReduceLROnPlateau(Options{}) {}
  void on_epoch_end(Model& m, std::size_t epoch, Logs& logs) override;

 private:
  Options o_;
  std::optional<double> best_;
  std::size_t wait_ = 0;
};

}  // namespace chainrule::nn
