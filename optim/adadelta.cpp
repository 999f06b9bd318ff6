#include "optim/adadelta.hpp"

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
    const T lr = T(lr_), rho = T(opt_.rho), one_minus_rho = T(1 - opt_.rho), eps = T(opt_.eps),
            wd = T(opt_.weight_decay);
    T* p = param.data();
    const T* g = grad.data();
    for (std::size_t k = 0; k < param.size(); ++k) {
      const T gk = g[k] + wd * p[k];
      v[k] = v[k] * rho + one_minus_rho * gk * gk;
      const T delta = std::sqrt(u[k] + eps) / std::sqrt(v[k] + eps) * gk;
      u[k] = u[k] * rho + one_minus_rho * delta * delta;
      p[k] -= lr * delta;
    }
  });
}

}  // namespace chainrule::optim
