#include "optim/trace.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>

#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

namespace chainrule::optim {

namespace {
// Element k of t as a double, whatever t's dtype.
double element_of(const Tensor& t, std::size_t k) {
  return detail::dispatch(t.dtype(), [&](auto tag) { return double(t.data<decltype(tag)>().data()[k]); });
}

// Columns a symbol takes on a terminal: code points, less combining marks (U+0300–U+036F, as in m̂).
std::size_t display_width(const std::string& s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool continuation = (c & 0xC0) == 0x80;
    const bool combining = c == 0xCC || (c == 0xCD && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0xAF);
    w += !continuation && !combining;
  }
  return w;
}

std::string fmt(double v) { return format_number(v); }
}  // namespace

bool TraceStep::has(const std::string& symbol) const {
  for (const auto& l : lines)
    if (l.symbol == symbol) return true;
  return false;
}

double TraceStep::operator[](const std::string& symbol) const {
  std::string present;
  for (const auto& l : lines) {
    if (l.symbol == symbol) return l.value;
    present += (present.empty() ? "" : ", ") + l.symbol;
  }
  throw std::out_of_range("TraceStep: no quantity '" + symbol + "' in this step (it has " + present + ")");
}

std::ostream& operator<<(std::ostream& os, const TraceStep& s) {
  os << s.header << "\n";
  for (const auto& l : s.lines) {
    char value[32];
    std::snprintf(value, sizeof value, "%14.8g", l.value);
    const std::size_t w = display_width(l.symbol);
    os << "    " << l.symbol << std::string(w < 6 ? 6 - w : 0, ' ') << " = " << value << "   " << l.formula << "\n";
  }
  return os;
}

/// The traced element's value and its optimizer state, slot name → value ("exp_avg" → m).
struct UpdateTrace::Snapshot {
  double p = 0;
  std::map<std::string, double> slot;
  double at(const std::string& name) const { return slot.count(name) ? slot.at(name) : 0.0; }  // fresh: zeros
};

UpdateTrace::UpdateTrace(Optimizer& opt, std::size_t param, std::size_t element)
    : opt_(opt), param_(param), element_(element) {
  const std::string where = std::string("UpdateTrace(") + opt.name() + "): ";
  if (param >= opt.params().size())
    throw std::invalid_argument(where + "parameter #" + std::to_string(param) + " out of range: the optimizer has " +
                                std::to_string(opt.params().size()) + " parameters");
  const Tensor& p = opt.params()[param];
  if (element >= p.numel())
    throw std::invalid_argument(where + "element " + std::to_string(element) + " out of range for parameter #" +
                                std::to_string(param) + " of shape " + shape_str(p.shape()) + " (" +
                                std::to_string(p.numel()) + " elements)");
  if (!dynamic_cast<SGD*>(&opt) && !dynamic_cast<Adagrad*>(&opt) && !dynamic_cast<Adadelta*>(&opt) &&
      !dynamic_cast<RMSprop*>(&opt) && !dynamic_cast<Adam*>(&opt))
    throw std::invalid_argument(where + "no trace rules for this optimizer (expected SGD, Adagrad, Adadelta, "
                                "RMSprop or Adam)");
}

UpdateTrace::Snapshot UpdateTrace::snapshot() const {
  Snapshot s;
  s.p = element_of(opt_.params()[param_], element_);
  const std::string suffix = "." + std::to_string(param_);
  for (const auto& [name, t] : opt_.state()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    s.slot[name.substr(0, name.size() - suffix.size())] = t.numel() == 1 && t.dim() == 0 ? t.item()
                                                                                        : element_of(t, element_);
  }
  return s;
}

TraceStep UpdateTrace::step(std::ostream& os) {
  TraceStep s = step();
  os << s;
  return s;
}

TraceStep UpdateTrace::step() {
  const Tensor grad = opt_.params()[param_].grad();
  if (!grad.defined())
    throw std::logic_error(std::string("UpdateTrace(") + opt_.name() + "): parameter #" + std::to_string(param_) +
                           " has no gradient: call backward() before step()");
  const double g_raw = element_of(grad, element_);
  const Snapshot before = snapshot();
  opt_.step();
  const Snapshot after = snapshot();

  TraceStep s;
  auto add = [&](std::string symbol, double value, std::string formula) {
    s.lines.push_back({std::move(symbol), value, std::move(formula)});
  };
  const double p = before.p, lr = opt_.lr();
  const bool first = before.slot.empty();
  auto header = [&](const std::string& options) {
    s.header = std::string(opt_.name()) + " step " + std::to_string(history_.size() + 1) + ", parameter #" +
               std::to_string(param_) + " element " + std::to_string(element_) + "  (" + options + ")";
  };
  // g, with weight decay folded in as every optimizer here does: g ← ∂L/∂p + λ·p.
  auto gradient = [&](double wd) {
    add("p", p, "the value before the step");
    const double g = g_raw + wd * p;
    add("g", g, wd != 0 ? "∂L/∂p + λ·p" : "∂L/∂p");
    return g;
  };

  if (auto* o = dynamic_cast<SGD*>(&opt_)) {
    const auto opt = o->options();
    header("lr=" + fmt(lr) + (opt.momentum > 0 ? ", μ=" + fmt(opt.momentum) : "") +
           (opt.dampening > 0 ? ", τ=" + fmt(opt.dampening) : "") + (opt.nesterov ? ", nesterov" : "") +
           (opt.weight_decay > 0 ? ", λ=" + fmt(opt.weight_decay) : ""));
    const double g = gradient(opt.weight_decay);
    double d = g;
    if (opt.momentum > 0) {
      const double b = after.at("momentum_buffer");
      add("b", b, first                 ? "b ← g at the first step (velocity)"
                   : opt.dampening > 0 ? "b ← μ·b + (1 − τ)·g (velocity)"
                                       : "b ← μ·b + g (velocity)");
      d = opt.nesterov ? g + opt.momentum * b : b;
      add("d", d, opt.nesterov ? "d = g + μ·b (Nesterov: look ahead along b)" : "d = b");
      add("p'", after.p, "p' = p − lr·d");
    } else {
      add("p'", after.p, "p' = p − lr·g");
    }
  } else if (auto* o = dynamic_cast<Adagrad*>(&opt_)) {
    const auto opt = o->options();
    header("lr=" + fmt(lr) + (opt.lr_decay > 0 ? ", lr_decay=" + fmt(opt.lr_decay) : "") +
           ", ε=" + fmt(opt.eps) + (opt.weight_decay > 0 ? ", λ=" + fmt(opt.weight_decay) : ""));
    const double g = gradient(opt.weight_decay);
    const double t = after.at("step"), G = after.at("sum");
    add("t", t, "t ← t + 1");
    add("G", G, first && opt.initial_accumulator_value != 0 ? "G ← G₀ + g²  (accumulated squares, G₀ = " +
                                                                  fmt(opt.initial_accumulator_value) + ")"
                                                            : "G ← G + g²  (accumulated squares)");
    double eta = lr;
    if (opt.lr_decay > 0) {
      eta = lr / (1 + (t - 1) * opt.lr_decay);
      add("η", eta, "η = lr / (1 + (t − 1)·lr_decay)");
    }
    const double delta = eta * g / (std::sqrt(G) + opt.eps);
    add("Δ", delta, opt.lr_decay > 0 ? "Δ = η·g / (√G + ε)" : "Δ = lr·g / (√G + ε)");
    add("p'", after.p, "p' = p − Δ");
  } else if (auto* o = dynamic_cast<Adadelta*>(&opt_)) {
    const auto opt = o->options();
    header("lr=" + fmt(lr) + ", ρ=" + fmt(opt.rho) + ", ε=" + fmt(opt.eps) +
           (opt.weight_decay > 0 ? ", λ=" + fmt(opt.weight_decay) : ""));
    const double g = gradient(opt.weight_decay);
    const double Eg2 = after.at("square_avg"), Edx2_old = before.at("acc_delta");
    add("E[g²]", Eg2, "E[g²] ← ρ·E[g²] + (1 − ρ)·g²  (running average of squared gradients)");
    const double dx = std::sqrt(Edx2_old + opt.eps) / std::sqrt(Eg2 + opt.eps) * g;
    add("Δx", dx, "Δx = √(E[Δx²] + ε) / √(E[g²] + ε) · g  (E[Δx²] of the previous step: " + fmt(Edx2_old) + ")");
    add("E[Δx²]", after.at("acc_delta"), "E[Δx²] ← ρ·E[Δx²] + (1 − ρ)·Δx²  (running average of squared updates)");
    add("p'", after.p, "p' = p − lr·Δx");
  } else if (auto* o = dynamic_cast<RMSprop*>(&opt_)) {
    const auto opt = o->options();
    header("lr=" + fmt(lr) + ", α=" + fmt(opt.alpha) + ", ε=" + fmt(opt.eps) +
           (opt.momentum > 0 ? ", μ=" + fmt(opt.momentum) : "") + (opt.centered ? ", centered" : "") +
           (opt.weight_decay > 0 ? ", λ=" + fmt(opt.weight_decay) : ""));
    const double g = gradient(opt.weight_decay);
    const double Eg2 = after.at("square_avg");
    add("E[g²]", Eg2, "E[g²] ← α·E[g²] + (1 − α)·g²  (running average of squared gradients)");
    double a;
    if (opt.centered) {
      const double gbar = after.at("grad_avg");
      add("ḡ", gbar, "ḡ ← α·ḡ + (1 − α)·g  (running average of gradients)");
      a = std::sqrt(Eg2 - gbar * gbar) + opt.eps;
      add("a", a, "a = √(E[g²] − ḡ²) + ε");
    } else {
      a = std::sqrt(Eg2) + opt.eps;
      add("a", a, "a = √E[g²] + ε  (the running RMS of g)");
    }
    if (opt.momentum > 0) {
      add("b", after.at("momentum_buffer"), "b ← μ·b + g / a");
      add("p'", after.p, "p' = p − lr·b");
    } else {
      add("Δ", lr * g / a, "Δ = lr·g / a");
      add("p'", after.p, "p' = p − Δ");
    }
  } else if (auto* o = dynamic_cast<Adam*>(&opt_)) {
    const auto opt = o->options();
    header("lr=" + fmt(lr) + ", β1=" + fmt(opt.beta1) + ", β2=" + fmt(opt.beta2) + ", ε=" + fmt(opt.eps) +
           (opt.amsgrad ? ", amsgrad" : "") + (opt.weight_decay > 0 ? ", λ=" + fmt(opt.weight_decay) : ""));
    gradient(opt.weight_decay);
    const double t = after.at("step"), m = after.at("exp_avg"), v = after.at("exp_avg_sq");
    add("t", t, "t ← t + 1");
    add("m", m, "m ← β1·m + (1 − β1)·g  (first moment: momentum)");
    add("v", v, "v ← β2·v + (1 − β2)·g²  (second moment)");
    double v_used = v;
    if (opt.amsgrad) {
      v_used = after.at("max_exp_avg_sq");
      add("v_max", v_used, "v_max ← max(v_max, v)  (AMSGrad)");
    }
    const double m_hat = m / (1 - std::pow(opt.beta1, t)), v_hat = v_used / (1 - std::pow(opt.beta2, t));
    add("m̂", m_hat, "m̂ = m / (1 − β1ᵗ)  (bias-corrected)");
    add("v̂", v_hat, opt.amsgrad ? "v̂ = v_max / (1 − β2ᵗ)  (bias-corrected)" : "v̂ = v / (1 − β2ᵗ)  (bias-corrected)");
    const double delta = lr * m_hat / (std::sqrt(v_hat) + opt.eps);
    add("Δ", delta, "Δ = lr·m̂ / (√v̂ + ε)");
    add("p'", after.p, "p' = p − Δ");
  }
  history_.push_back(s);
  return s;
}

}  // namespace chainrule::optim
