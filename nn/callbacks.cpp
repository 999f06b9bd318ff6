// Callbacks: History, the stop on a non-finite loss, the progress bar, early stopping, checkpoints, schedules.
#include "callbacks.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "data_parallel.hpp"
#include "model.hpp"
#include "serialize.hpp"

namespace chainrule::nn {

namespace {

std::string joined_keys(const Logs& logs) {
  std::string have;
  for (const auto& [k, v] : logs) have += (have.empty() ? "" : ", ") + k;
  return have;
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
  if (it == logs.end())
    throw std::invalid_argument(std::string(who) + ": monitored quantity '" + key + "' is not logged (logged: " +
                                joined_keys(logs) + ")");
  return it->second;
}

// The first NaN or ±inf of t: "nan at dataset row 17, column 2" (rows[i] is row i's row in the dataset).
std::string first_non_finite(const Tensor& t, const std::vector<std::size_t>& rows) {
  if (!t.defined() || t.numel() == 0) return "";
  return detail::dispatch(t.dtype(), [&](auto tag) -> std::string {
    const auto* v = t.data<decltype(tag)>().data();
    const std::size_t n = t.numel(), width = t.dim() == 0 ? 1 : n / t.size(0);
    for (std::size_t k = 0; k < n; ++k)
      if (!std::isfinite(v[k])) {
        std::ostringstream s;
        s << v[k] << " at dataset row " << (k / width < rows.size() ? rows[k / width] : k / width);
        if (t.dim() > 1) s << ", column " << k % width;
        return s.str();
      }
    return "";
  });
}

}  // namespace

// ---- History ----------------------------------------------------------------------------------------------------
const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it != history.end()) return it->second;
  std::string have;
  for (const auto& [k, v] : history) have += (have.empty() ? "" : ", ") + k;
  throw std::out_of_range("History: no quantity named '" + key + "' (" +
                          (have.empty() ? "nothing was logged: fit ran no complete epoch" : "logged: " + have) + ")");
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

void HistoryCallback::on_train_begin(Model&) { h_ = History{}; }
void HistoryCallback::on_epoch_end(Model&, std::size_t, Logs& logs) {
  for (const auto& [k, v] : logs) h_.history[k].push_back(v);
  ++h_.epochs;
}
void HistoryCallback::on_train_end(Model& m) { h_.stop_reason = m.stop_reason; }

// ---- TerminateOnNaN ---------------------------------------------------------------------------------------------
void TerminateOnNaN::on_batch_end(Model& m, std::size_t batch, const Logs& logs) {
  auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  m.stop_training = true;
  std::string where = "epoch " + std::to_string(epoch_ + 1) + ", batch " + std::to_string(batch + 1) + ": ";
  const TrainBatch& b = m.current_batch();
  if (std::string bad = first_non_finite(b.x, b.rows); !bad.empty()) {
    m.stop_reason = where + "the input x holds " + bad + "; training stopped (clean the data)";
  } else if (std::string bad = first_non_finite(b.y, b.rows); !bad.empty()) {
    m.stop_reason = where + "the target y holds " + bad + "; training stopped (clean the data)";
  } else {
    m.stop_reason = where + "loss is " + (std::isnan(it->second) ? "nan" : "inf") +
                    "; training stopped (lower the learning rate?)";
  }
}

// ---- ProgressBar ------------------------------------------------------------------------------------------------
ProgressBar::ProgressBar(int verbose, std::size_t epochs, std::size_t steps, std::vector<std::string> order)
    : bar_(verbose == 1 && isatty(fileno(stdout))), epochs_(epochs), steps_(steps), order_(std::move(order)) {}

double ProgressBar::seconds() const {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count() - t0_;
}

void ProgressBar::on_epoch_begin(Model&, std::size_t epoch) {
  t0_ = 0, t0_ = seconds();
  std::printf("Epoch %zu/%zu\n", epoch + 1, epochs_);
}

void ProgressBar::on_batch_end(Model& m, std::size_t b, const Logs& logs) {
  if (!bar_ || m.stop_training) return;
  const double dt = seconds();
  const std::size_t width = 30, done = width * (b + 1) / steps_;
  std::printf("\r%zu/%zu [%s%s] - ETA: %.0fs%s", b + 1, steps_, std::string(done, '=').c_str(),
              std::string(width - done, '.').c_str(),
              dt / static_cast<double>(b + 1) * static_cast<double>(steps_ - b - 1), format_logs(logs, order_).c_str());
  std::fflush(stdout);
}

void ProgressBar::on_epoch_end(Model&, std::size_t, Logs& logs) {
  const double dt = seconds();
  std::printf("%s%zu/%zu [%s] - %.1fs %.0fms/step%s\n", bar_ ? "\r" : "", steps_, steps_,
              std::string(30, '=').c_str(), dt, 1e3 * dt / static_cast<double>(steps_),
              format_logs(logs, order_).c_str());
}

void ProgressBar::on_train_end(Model& m) {
  if (!m.stop_reason.empty()) std::printf("%s\n", m.stop_reason.c_str());
}

// ---- EarlyStopping ----------------------------------------------------------------------------------------------
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
      best_weights_ = m.net().state_dict();
      for (auto& [n, t] : best_weights_) t = t.detach();  // a copy: training goes on
    }
  } else if (++wait_ >= std::max<std::size_t>(std::size_t(o_.patience), 1)) {
    stopped_epoch_ = epoch + 1;
    m.stop_training = true;
    m.stop_reason = "early stopping at epoch " + std::to_string(epoch + 1) + ": " + o_.monitor + " has not improved " +
                    "since epoch " + std::to_string(best_epoch_);
  }
}

void EarlyStopping::on_train_end(Model& m) {
  if (o_.restore_best_weights && !best_weights_.empty()) m.net().load_state_dict(best_weights_);
}

// ---- ModelCheckpoint --------------------------------------------------------------------------------------------
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

// ---- learning-rate schedules ------------------------------------------------------------------------------------
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
