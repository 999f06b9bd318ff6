#include "optim/adagrad.hpp"

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
    const T eta = T(lr_ / (1 + (t - 1) * opt_.lr_decay)), eps = T(opt_.eps), wd = T(opt_.weight_decay);
    T* p = param.data();
    const T* g = grad.data();
    for (std::size_t k = 0; k < param.size(); ++k) {
      const T gk = g[k] + wd * p[k];
      G[k] += gk * gk;
      p[k] -= eta * gk / (std::sqrt(G[k]) + eps);
    }
  });
}

}  // namespace chainrule::optim
