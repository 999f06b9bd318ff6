#pragma once
// UpdateTrace: an optimizer's arithmetic for one element of one parameter, step by step, so a student can follow
// an update by hand. It wraps step(): before it, it copies the element's value and the optimizer's state; after
// it, it reads the new state ("momentum_buffer", "exp_avg", "sum", "square_avg", ...) and value, and lays out
// every quantity with the formula that produced it:
//
//   optim::Adam opt({w}, {0.1});
//   optim::UpdateTrace trace(opt, 0, 0);          // parameter #0, element 0 (flat index)
//   loss.backward();  trace.step(std::cout);       // runs opt.step(), then prints
//
//   Adam step 1, parameter #0 element 0  (lr=0.1, β1=0.9, β2=0.999, ε=1e-08)
//     p      =             2   the value before the step
//     g      =           -24   ∂L/∂p
//     t      =             1   t ← t + 1
//     m      =          -2.4   m ← β1·m + (1 − β1)·g
//     ...
//     p'     =           2.1   p' = p − Δ
//
// Stored quantities (m, v, b, G, E[g²], E[Δx²], t) are the optimizer's own state; derived ones (m̂, v̂, Δ, the
// denominators) are computed from it with the formula shown; p' is the parameter as step() left it.
#include <cstddef>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "optimizer.hpp"

namespace chainrule::optim {

/// One quantity of a traced update: its symbol, its value and how it was computed.
struct TraceLine {
  std::string symbol;   ///< "m̂"
  double value;  ///< its value
  std::string formula;  ///< "m / (1 − β1ᵗ)"
};

/// The quantities of one traced step, in the order the update computes them.
struct TraceStep {
  std::string header;   ///< "Adam step 1, parameter #0 element 0  (lr=0.1, β1=0.9, β2=0.999, ε=1e-08)"
  std::vector<TraceLine> lines;  ///< in the order computed
  /// Whether a line with this symbol was computed.
  bool has(const std::string& symbol) const;
  /// The value of the line with this symbol; throws std::out_of_range naming the symbol and those present.
  double operator[](const std::string& symbol) const;
};
/// Prints the header and one line per quantity.
std::ostream& operator<<(std::ostream& os, const TraceStep& s);

/// What an optimizer's explain() reads (the traced element and its state before and after step()) and writes (the
/// header's options and one line per quantity).
class UpdateExplanation {
 public:
  double p() const { return p_; }              ///< the value before the step
  double p_after() const { return p_after_; }  ///< as step() left it
  /// The learning rate of the step.
  double lr() const { return lr_; }
  bool first() const { return before_.empty(); }  ///< the parameter's first update (its state started at zeros)
  /// A state slot's value for the element ("exp_avg"), before or after the step (0 if it had none).
  double before(const std::string& slot) const { return at(before_, slot); }
  /// A state slot's value for the element after the step (0 if it had none).
  double after(const std::string& slot) const { return at(after_, slot); }
  /// The options shown in the header: "lr=0.1, β1=0.9".
  void options(const std::string& text) { options_ = text; }
  /// Lines p and g, with weight decay folded in as every optimizer here does (g ← ∂L/∂p + λ·p); returns g.
  double gradient(double weight_decay);
  /// Adds a line: symbol, its value and the formula it came from.
  void add(std::string symbol, double value, std::string formula);

 private:
  friend class UpdateTrace;
  static double at(const std::map<std::string, double>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  }
  double p_ = 0, p_after_ = 0, lr_ = 0, g_raw_ = 0;
  std::map<std::string, double> before_, after_;
  std::string options_;
  std::vector<TraceLine> lines_;
};

/// Runs one optimizer step and explains one element's update, quantity by quantity (the teaching trace).
class UpdateTrace {
 public:
  /// Traces element `element` (flat, row-major) of opt.params()[param]. The optimizer must explain itself (SGD,
  /// Adagrad, Adadelta, RMSprop, Adam do); throws std::invalid_argument otherwise or when an index is out of range.
  UpdateTrace(Optimizer& opt, std::size_t param = 0, std::size_t element = 0);
  /// Runs opt.step() (all parameters) and returns the traced element's quantities. Throws std::logic_error,
  /// without stepping, if the traced parameter has no gradient (step() would skip it).
  TraceStep step();
  /// Same, and prints the step to os.
  TraceStep step(std::ostream& os);
  /// Every step traced so far.
  const std::vector<TraceStep>& history() const { return history_; }

 private:
  std::map<std::string, double> slots() const;  ///< the traced element's state, slot name → value
  Optimizer& opt_;
  std::size_t param_, element_;
  std::vector<TraceStep> history_;
};

}  // namespace chainrule::optim
