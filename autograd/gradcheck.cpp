#include "gradcheck.hpp"

#include <cmath>
#include <ostream>
#include <random>

#include "ops.hpp"

namespace chainrule {

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) {
  os << (r.second_order ? "gradgradcheck(" : "gradcheck(") << r.op << "): " << (r.ok ? "passed" : "FAILED") << ", "
     << r.checked << " elements";
  if (r.checked)
    os << "; worst: input #" << r.input << " element " << r.element << " analytic " << r.analytic << " numeric "
       << r.numeric;
  return os;
}

namespace {
// gradcheck's work; `recording`: f itself takes gradients (gradgradcheck), so its finite differences run with
// grad mode on.
GradcheckResult compare_numeric(const Function& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                      bool recording) {
  std::vector<Tensor> x;
  bool any = false;
  for (const auto& t : inputs) any = any || t.requires_grad();
  std::vector<bool> check;
  for (const auto& t : inputs) {
    x.push_back(t.detach().to(kFloat64));
    check.push_back(!any || t.requires_grad());
    if (check.back()) x.back().requires_grad_();
  }
  Tensor y = f(x);
  if (y.dtype() != kFloat64)
    throw std::invalid_argument(std::string("gradcheck: f returned ") + dtype_name(y.dtype()) +
                                " for float64 inputs; it must compute in the inputs' dtype");
  GradcheckResult r;
  r.op = y.op();
  // Fixed random weights w, so L = Σ w ⊙ f(x) mixes every output element differently.
  std::mt19937_64 gen(o.seed);
  std::normal_distribution<double> normal;
  Array<double> w = Array<double>::from_shape(y.shape());
  for (auto& v : w) v = normal(gen);
  Tensor wt(w);
  if (y.requires_grad()) sum(y * wt).backward();

  auto loss = [&] {
    AutoGradMode mode(recording);
    Tensor fy = f(x);
    return xt::sum(fy.data<double>() * w)();
  };
  double worst = -1;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!check[i]) continue;
    Array<double>& v = x[i].data<double>();
    Tensor g = x[i].grad();
    for (std::size_t e = 0; e < v.size(); ++e) {
      const double keep = v.data()[e];
      v.data()[e] = keep + o.eps;
      const double up = loss();
      v.data()[e] = keep - o.eps;
      const double down = loss();
      v.data()[e] = keep;
      const double numeric = (up - down) / (2 * o.eps);
      const double analytic = g.defined() ? g.data<double>().data()[e] : 0.0;
      const double excess = std::abs(analytic - numeric) - (o.atol + o.rtol * std::abs(numeric));
      const bool bad = !(excess <= 0) || !std::isfinite(analytic);
      ++r.checked;
      if (bad) r.ok = false;
      if (std::isnan(excess) || excess > worst || (bad && worst <= 0)) {
        worst = std::isnan(excess) ? INFINITY : excess;
        r.input = i, r.element = e, r.analytic = analytic, r.numeric = numeric;
      }
    }
  }
  return r;
}
}  // namespace

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions o) {
  return compare_numeric(f, inputs, o, false);
}

// As torch's gradgradcheck: random v (requires grad), then gradcheck of G(x, v) = ∂⟨f(x), v⟩/∂x, the
// first-order gradient computed with create_graph, with respect to x and v.
GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions o) {
  std::vector<Tensor> x;
  bool any = false;
  for (const auto& t : inputs) any = any || t.requires_grad();
  std::vector<bool> wrt;
  for (const auto& t : inputs) {
    x.push_back(t.detach().to(kFloat64));
    wrt.push_back(!any || t.requires_grad());
    if (wrt.back()) x.back().requires_grad_();
  }
  Tensor y = f(x);
  if (y.dtype() != kFloat64)
    throw std::invalid_argument(std::string("gradgradcheck: f returned ") + dtype_name(y.dtype()) +
                                " for float64 inputs; it must compute in the inputs' dtype");
  std::mt19937_64 gen(o.seed ^ 0x9e3779b97f4a7c15ULL);
  std::normal_distribution<double> normal;
  Array<double> v = Array<double>::from_shape(y.shape());
  for (auto& e : v) e = normal(gen);
  x.push_back(Tensor(std::move(v), true));
  wrt.push_back(true);
  const std::size_t n = inputs.size();
  const char* op = y.op();
  Function first = [&f, &wrt, n](const std::vector<Tensor>& xv) {
    std::vector<Tensor> xs(xv.begin(), xv.begin() + static_cast<long>(n)), diff;
    for (std::size_t i = 0; i < n; ++i)
      if (wrt[i]) diff.push_back(xs[i]);
    Tensor fy = f(xs);
    std::vector<Tensor> parts;
    if (fy.requires_grad()) {
      GradOptions go;
      go.grad_outputs = {xv[n]};
      go.create_graph = true;
      go.allow_unused = true;
      std::vector<Tensor> g = grad({fy}, diff, go);
      for (std::size_t i = 0; i < g.size(); ++i)
        parts.push_back(reshape(g[i].defined() ? g[i] : zeros_like(diff[i]), {-1}));
    } else {
      for (const auto& d : diff) parts.push_back(zeros({d.numel()}, kFloat64));
    }
    return concat(parts, 0);
  };
  std::vector<Tensor> all;
  for (std::size_t i = 0; i < x.size(); ++i) all.push_back(wrt[i] ? x[i] : x[i].detach());
  GradcheckResult r = compare_numeric(first, all, o, true);
  r.op = op;
  r.second_order = true;
  return r;
}

}  // namespace chainrule
