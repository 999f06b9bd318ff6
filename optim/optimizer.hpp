#pragma once
// Optimizer: updates parameters in place from their gradients, outside the tape.
//
// Each optimizer keeps per-parameter state in named slots, as torch does ("exp_avg", "momentum_buffer", "step"),
// created at the parameter's first update; state() / load_state() save and restore it under the names
// "<slot>.<parameter index>" ("exp_avg.3"), so a checkpoint resumes exactly.
#include <string>
#include <utility>
#include <vector>

#include "../autograd/autograd.hpp"
#include "../util/config.hpp"

namespace chainrule::optim {

class UpdateExplanation;  ///< optim/trace.hpp

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Base of the optimizers: the parameters, the learning rate and per-parameter state, which it can save and restore.
class Optimizer {
 public:
  /// One kind of per-parameter state: a tensor shaped like the parameter, or (counter) a 0-d float64 tensor.
  struct Slot {
    std::string name;  ///< "exp_avg", "step", ...
    bool counter = false;  ///< a 0-d float64 step count rather than a tensor like the parameter
    bool non_negative = false;  ///< a running sum or average of squares: a negative value cannot have been reached
  };

  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  /// One update of every parameter that has a gradient; parameters whose grad is undefined are skipped (as torch).
  virtual void step() = 0;
  /// Clears the gradients of the parameters: zeros, as torch 1.13's default, or with set_to_none drops them (torch
  /// 2's default: no memset, and a parameter that then gets no gradient is skipped by step()).
  void zero_grad(bool set_to_none = false);
  /// The learning rate used by the next step.
  double lr() const { return lr_; }
  /// Changes the learning rate from the next step on (learning-rate schedules); throws unless lr ≥ 0 and finite.
  void set_lr(double lr);
  /// The parameters, in the order given.
  const std::vector<Tensor>& params() const { return params_; }
  /// Every option, the learning rate as it is now ("lr", "beta1", ...): from_config(params, config()) rebuilds
  /// this optimizer (Keras' get_config). The name() finds the class in the registry (optim/factory.cpp).
  virtual Config config() const { return Config().set("lr", lr_); }
  /// Lays out one traced update of one element, quantity by quantity, with the formula of each (optim/trace.hpp):
  /// each optimizer writes it beside its step(). The base refuses: "no trace rules for this optimizer".
  virtual void explain(UpdateExplanation& e) const;
  /// Type name ("Adam"), used in every error message.
  const char* name() const { return name_; }

  /// Copies of the internal state as named tensors, "<slot>.<i>" for parameter i ("exp_avg.0", "step.0"; a step
  /// count is a 0-d float64 tensor). Parameters not yet updated have no entries.
  NamedTensors state() const;
  /// Restores state() output (copied in): the next step continues bit-identically. Throws, changing nothing, on
  /// an unknown name, a shape or dtype that does not match the parameter, or a parameter with only part of its
  /// slots; parameters without entries start afresh.
  void load_state(const NamedTensors& state);
  /// Parameter i's state tensors in slot order, not copies: writing their data writes the state. Absent (not yet
  /// updated): empty, or with `create` made as at a first update (zeros) and kept. For code that moves state
  /// between processes (nn::DataParallel::consolidate_optimizer_state). i < params().size(), else out_of_range.
  std::vector<Tensor> param_state(std::size_t i, bool create = false);

 protected:
  /// For subclasses: params, their initial rate, the type name and the state slots.
  Optimizer(std::vector<Tensor> params, double lr, const char* name, std::vector<Slot> slots);

  /// Calls f(p, g, s, fresh) for each parameter whose grad is defined: p and g are its value and gradient arrays
  /// (Array<float> or Array<double>), s its state tensors in slot order, fresh is true at its first update
  /// (s then holds zeros).
  template <class F> void for_each_grad(F&& f);
  /// Throws "<Name>: <option> must be <rule>, got <value>" unless ok.
  void check_option(bool ok, const char* option, const char* rule, double value) const;

  std::vector<Tensor> params_;  ///< the parameters updated
  double lr_;  ///< the learning rate
  const char* name_;  ///< type name for messages

 private:
  std::vector<Tensor> new_state(std::size_t i) const;
  std::vector<Slot> slots_;
  std::vector<std::vector<Tensor>> state_;  ///< [parameter][slot]; empty until the parameter's first update
};

/// Shortest decimal text that reads back as v ("0.1", "1e-08"), for error messages.
std::string format_number(double v);

template <class F> void Optimizer::for_each_grad(F&& f) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    const bool fresh = state_[i].empty();
    if (fresh) state_[i] = new_state(i);
    detail::dispatch(params_[i].dtype(), [&](auto tag) {
      using T = decltype(tag);
      f(params_[i].data<T>(), g.data<T>(), state_[i], fresh);
    });
  }
}

}  // namespace chainrule::optim
