#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

namespace chainrule::optim {

namespace {
std::vector<Optimizer::Slot> slots(const Adam::Options& o) {
  std::vector<Optimizer::Slot> s{{"step", true}, {"exp_avg"}, {"exp_avg_sq", false, true}};
  if (o.amsgrad) s.push_back({"max_exp_avg_sq", false, true});
  return s;
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, Options o) : Optimizer(std::move(params), o.lr, "Adam", slots(o)), opt_(o) {
  check_option(o.beta1 >= 0 && o.beta1 < 1, "beta1", "in [0, 1)", o.beta1);
  check_option(o.beta2 >= 0 && o.beta2 < 1, "beta2", "in [0, 1)", o.beta2);
  check_option(o.eps >= 0 && std::isfinite(o.eps), "eps", ">= 0", o.eps);
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "weight_decay", ">= 0", o.weight_decay);
}

Adam::Options Adam::options() const {
  Options o = opt_;
  o.lr = lr_;
  return o;
}

void Adam::step() {
  for_each_grad([&](auto& param, const auto& grad, std::vector<Tensor>& s, bool /*first*/) {
    using T = typename std::decay_t<decltype(param)>::value_type;
    double& t = *s[0].data<double>().data();
    t += 1;
    T* m = s[1].data<T>().data();
    T* v = s[2].data<T>().data();
    T* vmax = opt_.amsgrad ? s[3].data<T>().data() : nullptr;
    const double bias_correction1 = 1 - std::pow(opt_.beta1, t), bias_correction2 = 1 - std::pow(opt_.beta2, t);
    const T step_size = T(lr_ / bias_correction1), bias_correction2_sqrt = T(std::sqrt(bias_correction2));
    const T beta1 = T(opt_.beta1), one_minus_beta1 = T(1 - opt_.beta1), beta2 = T(opt_.beta2),
            one_minus_beta2 = T(1 - opt_.beta2), eps = T(opt_.eps), wd = T(opt_.weight_decay);
    T* p = param.data();
    const T* g = grad.data();
    for (std::size_t k = 0; k < param.size(); ++k) {
      const T gk = g[k] + wd * p[k];
      m[k] = m[k] * beta1 + one_minus_beta1 * gk;
      v[k] = v[k] * beta2 + one_minus_beta2 * gk * gk;
      if (vmax) vmax[k] = std::max(vmax[k], v[k]);
      const T denom = std::sqrt(vmax ? vmax[k] : v[k]) / bias_correction2_sqrt + eps;
      p[k] -= step_size * m[k] / denom;
    }
  });
}

}  // namespace chainrule::optim
