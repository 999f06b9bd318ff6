#include "adagrad.hpp"

#include "../autograd/parallel.hpp"
#include "trace.hpp"

#include <algorithm>
#include <cmath>

namespace chainrule::optim {

Adagrad::Adagrad(std::vector<Tensor> params, Options o)
    : Optimizer(std::move(params), o.lr, "Adagrad", {{"step", true}, {"sum", false, true}}), opt_(o) {
  check_option(o.lr_decay >= 0 && std::isfinite(o.lr_decay), "lr_decay", ">= 0", o.lr_decay);
  check_option(o.initial_accumulator_value >= 0 && std::isfinite(o.initial_accumulator_value),
               "initial_accumulator_value", ">= 0", o.initial_accumulator_value);
  check_option(o.eps >= 0 && std::isfinite(o.eps), "eps", ">= 0", o.eps);
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "weight_decay", ">= 0", o.weight_decay);
}

Adagrad::Options Adagrad::options() const {
  Options o = opt_;
  o.lr = lr_;
  return o;
}

void Adagrad::step() {
  for_each_grad([&](auto& param, const auto& grad, std::vector<Tensor>& s, bool first) {
    using T = typename std::decay_t<decltype(param)>::value_type;
    double& t = *s[0].data<double>().data();
    T* G = s[1].data<T>().data();
    if (first) std::fill_n(G, param.size(), T(opt_.initial_accumulator_value));
    t += 1;
    T* p = param.data();
    const T* g = grad.data();
    // Split over the intra-op threads (autograd/parallel.hpp; the divider makes an element cost ~4 adds); each
    // element is updated as on one thread.
    detail::parallel_for(param.size(), 4, [&](std::size_t k0, std::size_t k1) {
      // The coefficients are locals of this lambda: captured by reference they could alias p, and the loop would
      // not vectorize.
      const T eta = T(lr_ / (1 + (t - 1) * opt_.lr_decay)), eps = T(opt_.eps), wd = T(opt_.weight_decay);
      for (std::size_t k = k0; k < k1; ++k) {
        const T gk = g[k] + wd * p[k];
        G[k] += gk * gk;
        p[k] -= eta * gk / (std::sqrt(G[k]) + eps);
      }
    });
  });
}

// The trace of step() for one element: each quantity above, as a number, with its formula.
void Adagrad::explain(UpdateExplanation& e) const {
  const auto opt = options();
  const double lr = e.lr();
  e.options("lr=" + format_number(lr) + (opt.lr_decay > 0 ? ", lr_decay=" + format_number(opt.lr_decay) : "") +
            ", ε=" + format_number(opt.eps) + (opt.weight_decay > 0 ? ", λ=" + format_number(opt.weight_decay) : ""));
  const double g = e.gradient(opt.weight_decay);
  const double t = e.after("step"), G = e.after("sum");
  e.add("t", t, "t ← t + 1");
  const bool from_g0 = e.first() && opt.initial_accumulator_value != 0;
  e.add("G", G, from_g0 ? "G ← G₀ + g²  (accumulated squares, G₀ = " + format_number(opt.initial_accumulator_value) + ")"
                        : "G ← G + g²  (accumulated squares)");
  double eta = lr;
  if (opt.lr_decay > 0) {
    eta = lr / (1 + (t - 1) * opt.lr_decay);
    e.add("η", eta, "η = lr / (1 + (t − 1)·lr_decay)");
  }
  const double delta = eta * g / (std::sqrt(G) + opt.eps);
  e.add("Δ", delta, opt.lr_decay > 0 ? "Δ = η·g / (√G + ε)" : "Δ = lr·g / (√G + ε)");
  e.add("p'", e.p_after(), "p' = p − Δ");}

Config Adagrad::config() const {
  const Options x = options();
  return Optimizer::config()
      .set("lr_decay", x.lr_decay)
      .set("initial_accumulator_value", x.initial_accumulator_value)
      .set("eps", x.eps)
      .set("weight_decay", x.weight_decay);
}

std::unique_ptr<Adagrad> Adagrad::from_config(std::vector<Tensor> params, const Config& c) {
  Options o;
  if (c.has("lr")) o.lr = c.number("lr");
  if (c.has("lr_decay")) o.lr_decay = c.number("lr_decay");
  if (c.has("initial_accumulator_value")) o.initial_accumulator_value = c.number("initial_accumulator_value");
  if (c.has("eps")) o.eps = c.number("eps");
  if (c.has("weight_decay")) o.weight_decay = c.number("weight_decay");
  return std::make_unique<Adagrad>(std::move(params), o);
}

}  // namespace chainrule::optim
