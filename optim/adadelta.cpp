#include "adadelta.hpp"

#include "../autograd/parallel.hpp"
#include "trace.hpp"

#include <cmath>

namespace chainrule::optim {

Adadelta::Adadelta(std::vector<Tensor> params, Options o)
    : Optimizer(std::move(params), o.lr, "Adadelta", {{"step", true}, {"square_avg", false, true}, {"acc_delta", false, true}}), opt_(o) {
  check_option(o.rho >= 0 && o.rho <= 1, "rho", "in [0, 1]", o.rho);
  check_option(o.eps >= 0 && std::isfinite(o.eps), "eps", ">= 0", o.eps);
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "weight_decay", ">= 0", o.weight_decay);
}

Adadelta::Options Adadelta::options() const {
  Options o = opt_;
  o.lr = lr_;
  return o;
}

void Adadelta::step() {
  for_each_grad([&](auto& param, const auto& grad, std::vector<Tensor>& s, bool /*first*/) {
    using T = typename std::decay_t<decltype(param)>::value_type;
    *s[0].data<double>().data() += 1;
    T* v = s[1].data<T>().data();
    T* u = s[2].data<T>().data();
    T* p = param.data();
    const T* g = grad.data();
    // Split over the intra-op threads (autograd/parallel.hpp; the divider makes an element cost ~4 adds); each
    // element is updated as on one thread.
    detail::parallel_for(param.size(), 4, [&](std::size_t k0, std::size_t k1) {
      // The coefficients are locals of this lambda: captured by reference they could alias p, and the loop would
      // not vectorize.
      const T lr = T(lr_), rho = T(opt_.rho), one_minus_rho = T(1 - opt_.rho), eps = T(opt_.eps),
              wd = T(opt_.weight_decay);
      for (std::size_t k = k0; k < k1; ++k) {
        const T gk = g[k] + wd * p[k];
        v[k] = v[k] * rho + one_minus_rho * gk * gk;
        const T delta = std::sqrt(u[k] + eps) / std::sqrt(v[k] + eps) * gk;
        u[k] = u[k] * rho + one_minus_rho * delta * delta;
        p[k] -= lr * delta;
      }
    });
  });
}

// The trace of step() for one element: each quantity above, as a number, with its formula.
void Adadelta::explain(UpdateExplanation& e) const {
  const auto opt = options();
  const double lr = e.lr();
  e.options("lr=" + format_number(lr) + ", ρ=" + format_number(opt.rho) + ", ε=" + format_number(opt.eps) +
            (opt.weight_decay > 0 ? ", λ=" + format_number(opt.weight_decay) : ""));
  const double g = e.gradient(opt.weight_decay);
  const double Eg2 = e.after("square_avg"), Edx2_old = e.before("acc_delta");
  e.add("E[g²]", Eg2, "E[g²] ← ρ·E[g²] + (1 − ρ)·g²  (running average of squared gradients)");
  const double dx = std::sqrt(Edx2_old + opt.eps) / std::sqrt(Eg2 + opt.eps) * g;
  e.add("Δx", dx, "Δx = √(E[Δx²] + ε) / √(E[g²] + ε) · g  (E[Δx²] of the previous step: " + format_number(Edx2_old) + ")");
  e.add("E[Δx²]", e.after("acc_delta"), "E[Δx²] ← ρ·E[Δx²] + (1 − ρ)·Δx²  (running average of squared updates)");
  e.add("p'", e.p_after(), "p' = p − lr·Δx");}

Config Adadelta::config() const {
  const Options x = options();
  return Optimizer::config()
      .set("rho", x.rho)
      .set("eps", x.eps)
      .set("weight_decay", x.weight_decay);
}

std::unique_ptr<Adadelta> Adadelta::from_config(std::vector<Tensor> params, const Config& c) {
  Options o;
  if (c.has("lr")) o.lr = c.number("lr");
  if (c.has("rho")) o.rho = c.number("rho");
  if (c.has("eps")) o.eps = c.number("eps");
  if (c.has("weight_decay")) o.weight_decay = c.number("weight_decay");
  return std::make_unique<Adadelta>(std::move(params), o);
}

}  // namespace chainrule::optim
