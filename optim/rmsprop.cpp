#include "optim/rmsprop.hpp"

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
    const T lr = T(lr_), alpha = T(opt_.alpha), one_minus_alpha = T(1 - opt_.alpha), eps = T(opt_.eps),
            mu = T(opt_.momentum), wd = T(opt_.weight_decay);
    T* p = param.data();
    const T* g = grad.data();
    for (std::size_t k = 0; k < param.size(); ++k) {
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
}

}  // namespace chainrule::optim
