#include "sgd.hpp"

#include "../autograd/parallel.hpp"
#include "trace.hpp"

#include <cmath>

namespace chainrule::optim {

namespace {
std::vector<Optimizer::Slot> slots(const SGD::Options& o) {
  if (o.momentum > 0) return {{"momentum_buffer"}};
  return {};
}
}  // namespace

SGD::SGD(std::vector<Tensor> params, Options o) : Optimizer(std::move(params), o.lr, "SGD", slots(o)), opt_(o) {
  check_option(o.momentum >= 0 && std::isfinite(o.momentum), "momentum", ">= 0", o.momentum);
  check_option(o.dampening >= 0 && o.dampening <= 1, "dampening", "in [0, 1]", o.dampening);
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "weight_decay", ">= 0", o.weight_decay);
  if (o.nesterov) {
    check_option(o.momentum > 0, "momentum", "> 0 with nesterov", o.momentum);
    check_option(o.dampening == 0, "dampening", "0 with nesterov", o.dampening);
  }
}

SGD::Options SGD::options() const {
  Options o = opt_;
  o.lr = lr_;
  return o;
}

void SGD::step() {
  for_each_grad([&](auto& param, const auto& grad, std::vector<Tensor>& s, bool first) {
    using T = typename std::decay_t<decltype(param)>::value_type;
    T* p = param.data();
    const T* g = grad.data();
    T* b = opt_.momentum != 0 ? s[0].data<T>().data() : nullptr;
    // Split over the intra-op threads (autograd/parallel.hpp); each element is updated as on one thread.
    detail::parallel_for(param.size(), 1, [&](std::size_t k0, std::size_t k1) {
      // The coefficients are locals of this lambda: captured by reference they could alias p, and the loop would
      // not vectorize.
      const T lr = T(lr_), mu = T(opt_.momentum), wd = T(opt_.weight_decay), one_minus_tau = T(1 - opt_.dampening);
      const bool nesterov = opt_.nesterov;
      for (std::size_t k = k0; k < k1; ++k) {
        T d = g[k] + wd * p[k];
        if (b) {
          b[k] = first ? d : mu * b[k] + one_minus_tau * d;
          d = nesterov ? d + mu * b[k] : b[k];
        }
        p[k] -= lr * d;
      }
    });
  });
}

// The trace of step() for one element: each quantity above, as a number, with its formula.
void SGD::explain(UpdateExplanation& e) const {
  const auto opt = options();
  const double lr = e.lr();
  e.options("lr=" + format_number(lr) + (opt.momentum > 0 ? ", μ=" + format_number(opt.momentum) : "") +
            (opt.dampening > 0 ? ", τ=" + format_number(opt.dampening) : "") + (opt.nesterov ? ", nesterov" : "") +
            (opt.weight_decay > 0 ? ", λ=" + format_number(opt.weight_decay) : ""));
  const double g = e.gradient(opt.weight_decay);
  double d = g;
  if (opt.momentum > 0) {
    const double b = e.after("momentum_buffer");
    e.add("b", b, e.first()                 ? "b ← g at the first step (velocity)"
                 : opt.dampening > 0 ? "b ← μ·b + (1 − τ)·g (velocity)"
                                     : "b ← μ·b + g (velocity)");
    d = opt.nesterov ? g + opt.momentum * b : b;
    e.add("d", d, opt.nesterov ? "d = g + μ·b (Nesterov: look ahead along b)" : "d = b");
    e.add("p'", e.p_after(), "p' = p − lr·d");
  } else {
    e.add("p'", e.p_after(), "p' = p − lr·g");
  }
}

Config SGD::config() const {
  const Options x = options();
  return Optimizer::config()
      .set("momentum", x.momentum)
      .set("dampening", x.dampening)
      .set("nesterov", x.nesterov)
      .set("weight_decay", x.weight_decay);
}

std::unique_ptr<SGD> SGD::from_config(std::vector<Tensor> params, const Config& c) {
  Options o;
  if (c.has("lr")) o.lr = c.number("lr");
  if (c.has("momentum")) o.momentum = c.number("momentum");
  if (c.has("dampening")) o.dampening = c.number("dampening");
  if (c.has("nesterov")) o.nesterov = c.flag("nesterov");
  if (c.has("weight_decay")) o.weight_decay = c.number("weight_decay");
  return std::make_unique<SGD>(std::move(params), o);
}

}  // namespace chainrule::optim
