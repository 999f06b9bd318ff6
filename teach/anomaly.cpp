// Anomaly mode: the checks record() and the engine call while a guard lives (autograd/function.hpp, g_watch).
#include "anomaly.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "../autograd/function.hpp"

namespace chainrule {

AnomalyMode::AnomalyMode() { ++detail::g_watch.anomaly; }
AnomalyMode::~AnomalyMode() { --detail::g_watch.anomaly; }
bool anomaly_mode_enabled() { return detail::g_watch.anomaly > 0; }

namespace detail {
namespace {
// "[2,3] range [-1, 4]": the shape and the finite range, with the count of NaN / inf when there are any.
template <class T> std::string describe(const Array<T>& a) {
  std::ostringstream s;
  s << shape_str(a.shape());
  double lo = INFINITY, hi = -INFINITY;
  std::size_t nan = 0, inf = 0;
  for (T v : a) {
    if (std::isnan(v)) ++nan;
    else if (std::isinf(v)) ++inf;
    else lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  }
  if (nan + inf < a.size()) s << " range [" << lo << ", " << hi << "]";
  if (nan) s << ", " << nan << " NaN";
  if (inf) s << ", " << inf << " inf";
  return s.str();
}
std::string describe(const Node& n) {
  return dispatch(n.dtype, [&](auto tag) { return describe(as<decltype(tag)>(n).value); });
}
// What the array holds: "NaN", "inf" or "-inf" (the first non-finite element).
template <class T> std::string bad_value(const Array<T>& a) {
  for (T v : a)
    if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  return "finite values";
}
std::string quoted_label(const std::string& l) { return l.empty() ? "" : " '" + l + "'"; }
}  // namespace

void check_forward(const char* op, const Tensor& y, const std::vector<Tensor>& inputs) {
  std::ostringstream s;
  dispatch(y.dtype(), [&](auto tag) {
    const auto& v = y.data<decltype(tag)>();
    s << "anomaly mode: forward of '" << op << "' produced " << bad_value(v) << " (output " << describe(v) << ")";
  });
  for (std::size_t i = 0; i < inputs.size(); ++i)
    s << "; input #" << i << quoted_label(inputs[i].label()) << " " << describe(inputs[i].node());
  throw std::runtime_error(s.str());
}

template <class T> void check_contribution_impl(const char* op, std::size_t input, const Array<T>& g) {
  if (all_finite(g)) return;
  std::ostringstream s;
  const Node* n = g_watch.current;
  if (!n) {  // the seed of backward
    s << "anomaly mode: backward was seeded with a gradient holding " << bad_value(g) << " (" << describe(g) << ")";
    throw std::runtime_error(s.str());
  }
  s << "anomaly mode: backward of '" << op << "'" << quoted_label(n->label) << " produced " << bad_value(g)
    << " in the gradient of input #" << input << " (" << describe(g) << ")";
  for (std::size_t i = 0; i < n->inputs.size(); ++i)
    s << "; input #" << i << quoted_label(n->inputs[i]->label) << " " << describe(*n->inputs[i]);
  s << "; output " << describe(*n);
  if (n->grad) s << "; upstream gradient " << describe(*n->grad);
  throw std::runtime_error(s.str());
}
void check_contribution(const char* op, std::size_t input, const Array<float>& g) {
  check_contribution_impl(op, input, g);
}
void check_contribution(const char* op, std::size_t input, const Array<double>& g) {
  check_contribution_impl(op, input, g);
}

}  // namespace detail
}  // namespace chainrule
