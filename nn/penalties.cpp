#include "penalties.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace chainrule::nn {
namespace {

void check_r(const char* who, double r) {
  if (!(r >= 0 && r <= 1)) {
    std::ostringstream s;
    s << who << ": r must be in [0, 1], got " << r;
    throw std::invalid_argument(s.str());
  }
}

// Σ f(wⱼ) over all coefficients and their count n; f is abs or square.
template <class F> std::pair<Tensor, std::size_t> total(const std::vector<Tensor>& ws, F f) {
  Tensor s;
  std::size_t n = 0;
  for (const auto& w : ws) {
    Tensor part = sum(f(w));
    s = s.defined() ? s + part : part;
    n += w.numel();
  }
  return {s, n};
}

// A 0-D zero in the coefficients' dtype (float32 when there are none): the penalty of nothing.
Tensor zero(const std::vector<Tensor>& ws) { return tensor(0.0, ws.empty() ? kFloat32 : ws.front().dtype()); }

}  // namespace

std::vector<Tensor> penalized_parameters(const Module& m, PenaltyOptions o) {
  const NamedTensors named = m.named_parameters();
  auto penalized_weight = [&](const std::string& name) {
    for (const auto& [n, t] : named)
      if (n == name) return t.dim() >= 2;
    return false;
  };
  std::vector<Tensor> out;
  for (const auto& [name, t] : named) {
    const std::size_t dot = name.rfind('.');
    const std::string prefix = dot == std::string::npos ? "" : name.substr(0, dot + 1);
    const std::string leaf = name.substr(prefix.size());
    if (t.dim() >= 2 || (o.include_bias && leaf == "bias" && penalized_weight(prefix + "weight"))) out.push_back(t);
  }
  return out;
}

// C = (1/n)·Σ|wⱼ|                 composite: ∂C/∂wⱼ = sign(wⱼ)/n
Tensor l1_penalty(const std::vector<Tensor>& ws) {
  auto [s, n] = total(ws, [](const Tensor& w) { return abs(w); });
  return n ? s / double(n) : zero(ws);
}

// C = (1/(2n))·Σwⱼ²               composite: ∂C/∂wⱼ = wⱼ/n
Tensor l2_penalty(const std::vector<Tensor>& ws) {
  auto [s, n] = total(ws, [](const Tensor& w) { return square(w); });
  return n ? s / (2.0 * double(n)) : zero(ws);
}

// C = r·L1 + (1 − r)·L2
Tensor elastic_net_penalty(const std::vector<Tensor>& ws, double r) {
  check_r("elastic_net_penalty", r);
  return r * l1_penalty(ws) + (1 - r) * l2_penalty(ws);
}

namespace {
// The module's penalized coefficients; when there are none, a zero of the module's dtype stands in for them.
std::vector<Tensor> coefficients(const Module& m, PenaltyOptions o) {
  std::vector<Tensor> ws = penalized_parameters(m, o);
  const std::vector<Tensor> ps = m.parameters();
  if (ws.empty()) ws.push_back(zeros({0}, ps.empty() ? kFloat32 : ps.front().dtype()));
  return ws;
}
}  // namespace

Tensor l1_penalty(const Module& m, PenaltyOptions o) { return l1_penalty(coefficients(m, o)); }
Tensor l2_penalty(const Module& m, PenaltyOptions o) { return l2_penalty(coefficients(m, o)); }
Tensor elastic_net_penalty(const Module& m, double r, PenaltyOptions o) {
  return elastic_net_penalty(coefficients(m, o), r);
}

// α·C
Tensor Penalty::operator()(const Module& m) const {
  if (!(alpha >= 0) || !std::isfinite(alpha)) {
    std::ostringstream s;
    s << "Penalty: alpha must be a finite number >= 0, got " << alpha;
    throw std::invalid_argument(s.str());
  }
  if (kind == Kind::ElasticNet) check_r("Penalty", r);
  const PenaltyOptions o{include_bias};
  switch (kind) {
    case Kind::L1: return alpha * l1_penalty(m, o);
    case Kind::L2: return alpha * l2_penalty(m, o);
    case Kind::ElasticNet: break;
  }
  return alpha * elastic_net_penalty(m, r, o);
}

}  // namespace chainrule::nn
