#include "rmsprop.hpp"

#include "../autograd/parallel.hpp"
#include "trace.hpp"

#include <cmath>

namespace chainrule::optim {

namespace {
std::vector<Optimizer::Slot> slots(const RMSprop::Options& o) {
  std::vector<Optimizer::Slot> s{{"step", true}, {"square_avg", false, true}};
  if (o.momentum > 0) s.push_back({"momentum_buffer"});
  if (o.centered) s.push_back({"grad_avg"});
  return s;
}
}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, Options o)
    : Optimizer(std::move(params), o.lr, "RMSprop", slots(o)), opt_(o) {
  check_option(o.alpha >= 0 && o.alpha <= 1, "alpha", "in [0, 1]", o.alpha);
  check_option(o.eps >= 0 && std::isfinite(o.eps), "eps", ">= 0", o.eps);
  check_option(o.momentum >= 0 && std::isfinite(o.momentum), "momentum", ">= 0", o.momentum);
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "weight_decay", ">= 0", o.weight_decay);
}

RMSprop::Options RMSprop::options() const {
  Options o = opt_;
  o.lr = lr_;
  return o;
}

void RMSprop::step() {
  for_each_grad([&](auto& param, const auto& grad, std::vector<Tensor>& s, bool /*first*/) {
    using T = typename std::decay_t<decltype(param)>::value_type;
    *s[0].data<double>().data() += 1;
    T* v = s[1].data<T>().data();
    T* b = opt_.momentum > 0 ? s[2].data<T>().data() : nullptr;
    T* gbar = opt_.centered ? s.back().data<T>().data() : nullptr;
    T* p = param.data();
    const T* g = grad.data();
    // Split over the intra-op threads (autograd/parallel.hpp; the divider makes an element cost ~4 adds); each
    // element is updated as on one thread.
    detail::parallel_for(param.size(), 4, [&](std::size_t k0, std::size_t k1) {
      // The coefficients are locals of this lambda: captured by reference they could alias p, and the loop would
      // not vectorize.
      const T lr = T(lr_), alpha = T(opt_.alpha), one_minus_alpha = T(1 - opt_.alpha), eps = T(opt_.eps),
              mu = T(opt_.momentum), wd = T(opt_.weight_decay);
      for (std::size_t k = k0; k < k1; ++k) {
        const T gk = g[k] + wd * p[k];
        v[k] = v[k] * alpha + one_minus_alpha * gk * gk;
        T a;
        if (gbar) {
          gbar[k] = gbar[k] * alpha + one_minus_alpha * gk;
          a = std::sqrt(v[k] - gbar[k] * gbar[k]) + eps;
        } else {
          a = std::sqrt(v[k]) + eps;
        }
        if (b) {
          b[k] = b[k] * mu + gk / a;
          p[k] -= lr * b[k];
        } else {
          p[k] -= lr * gk / a;
        }
      }
    });
  });
}

// The trace of step() for one element: each quantity above, as a number, with its formula.
void RMSprop::explain(UpdateExplanation& e) const {
  const auto opt = options();
  const double lr = e.lr();
  e.options("lr=" + format_number(lr) + ", α=" + format_number(opt.alpha) + ", ε=" + format_number(opt.eps) +
            (opt.momentum > 0 ? ", μ=" + format_number(opt.momentum) : "") + (opt.centered ? ", centered" : "") +
            (opt.weight_decay > 0 ? ", λ=" + format_number(opt.weight_decay) : ""));
  const double g = e.gradient(opt.weight_decay);
  const double Eg2 = e.after("square_avg");
  e.add("E[g²]", Eg2, "E[g²] ← α·E[g²] + (1 − α)·g²  (running average of squared gradients)");
  double a;
  if (opt.centered) {
    const double gbar = e.after("grad_avg");
    e.add("ḡ", gbar, "ḡ ← α·ḡ + (1 − α)·g  (running average of gradients)");
    a = std::sqrt(Eg2 - gbar * gbar) + opt.eps;
    e.add("a", a, "a = √(E[g²] − ḡ²) + ε");
  } else {
    a = std::sqrt(Eg2) + opt.eps;
    e.add("a", a, "a = √E[g²] + ε  (the running RMS of g)");
  }
  if (opt.momentum > 0) {
    e.add("b", e.after("momentum_buffer"), "b ← μ·b + g / a");
    e.add("p'", e.p_after(), "p' = p − lr·b");
  } else {
    e.add("Δ", lr * g / a, "Δ = lr·g / a");
    e.add("p'", e.p_after(), "p' = p − Δ");
  }
}

Config RMSprop::config() const {
  const Options x = options();
  return Optimizer::config()
      .set("alpha", x.alpha)
      .set("eps", x.eps)
      .set("momentum", x.momentum)
      .set("centered", x.centered)
      .set("weight_decay", x.weight_decay);
}

std::unique_ptr<RMSprop> RMSprop::from_config(std::vector<Tensor> params, const Config& c) {
  Options o;
  if (c.has("lr")) o.lr = c.number("lr");
  if (c.has("alpha")) o.alpha = c.number("alpha");
  if (c.has("eps")) o.eps = c.number("eps");
  if (c.has("momentum")) o.momentum = c.number("momentum");
  if (c.has("centered")) o.centered = c.flag("centered");
  if (c.has("weight_decay")) o.weight_decay = c.number("weight_decay");
  return std::make_unique<RMSprop>(std::move(params), o);
}

}  // namespace chainrule::optim
