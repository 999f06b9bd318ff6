#include "trace.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>


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

double UpdateExplanation::gradient(double weight_decay) {
  add("p", p_, "the value before the step");
  const double g = g_raw_ + weight_decay * p_;
  add("g", g, weight_decay != 0 ? "∂L/∂p + λ·p" : "∂L/∂p");
  return g;
}

void UpdateExplanation::add(std::string symbol, double value, std::string formula) {
  lines_.push_back({std::move(symbol), value, std::move(formula)});
}

void Optimizer::explain(UpdateExplanation&) const {
  throw std::invalid_argument(std::string("UpdateTrace(") + name() + "): no trace rules for this optimizer (it "
                              "does not override Optimizer::explain)");
}

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
  UpdateExplanation dry;  // explain() reads only numbers: a dry run tells, before any step, whether it can
  opt.explain(dry);
}

std::map<std::string, double> UpdateTrace::slots() const {
  std::map<std::string, double> slot;
  const std::string suffix = "." + std::to_string(param_);
  for (const auto& [name, t] : opt_.state()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    slot[name.substr(0, name.size() - suffix.size())] = t.numel() == 1 && t.dim() == 0 ? t.item()
                                                                                      : element_of(t, element_);
  }
  return slot;
}

TraceStep UpdateTrace::step(std::ostream& os) {
  TraceStep s = step();
  os << s;
  return s;
}

// Runs step() between two looks at the element and its state; the optimizer lays out what happened.
TraceStep UpdateTrace::step() {
  const Tensor grad = opt_.params()[param_].grad();
  if (!grad.defined())
    throw std::logic_error(std::string("UpdateTrace(") + opt_.name() + "): parameter #" + std::to_string(param_) +
                           " has no gradient: call backward() before step()");
  UpdateExplanation e;
  e.g_raw_ = element_of(grad, element_);
  e.p_ = element_of(opt_.params()[param_], element_);
  e.before_ = slots();
  opt_.step();
  e.p_after_ = element_of(opt_.params()[param_], element_);
  e.after_ = slots();
  e.lr_ = opt_.lr();
  opt_.explain(e);
  TraceStep s;
  s.header = std::string(opt_.name()) + " step " + std::to_string(history_.size() + 1) + ", parameter #" +
             std::to_string(param_) + " element " + std::to_string(element_) + "  (" + e.options_ + ")";
  s.lines = std::move(e.lines_);
  history_.push_back(s);
  return s;
}

}  // namespace chainrule::optim
