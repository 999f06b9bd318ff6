#include "adam.hpp"

#include "../autograd/parallel.hpp"
#include "trace.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace chainrule::optim {

namespace {
std::vector<Optimizer::Slot> slots(const Adam::Options& o) {
  std::vector<Optimizer::Slot> s{{"step", true}, {"exp_avg"}, {"exp_avg_sq", false, true}};
  if (o.amsgrad) s.push_back({"max_exp_avg_sq", false, true});
  return s;
}

// One range of Adam's update (step() below has the rule), with every coefficient a value.
template <class T> struct AdamCoefficients { T beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, wd, step; };
template <class T>
[[gnu::always_inline]] inline void adam_loop(std::size_t k0, std::size_t k1, T* p, const T* g, T* m, T* v, T* vmax,
                                             AdamCoefficients<T> c) {
  for (std::size_t k = k0; k < k1; ++k) {
    const T gk = g[k] + c.wd * p[k];
    m[k] = m[k] * c.beta1 + c.one_minus_beta1 * gk;
    v[k] = v[k] * c.beta2 + c.one_minus_beta2 * gk * gk;
    if (vmax) vmax[k] = std::max(vmax[k], v[k]);
    const T denom = std::sqrt(vmax ? vmax[k] : v[k]) / c.bc2_sqrt + c.eps;
    p[k] -= c.step * m[k] / denom;
  }
}

// g++ on x86-64 compiles a 512-bit copy of the float32 loop (clang lacks the prefer-vector-width target attribute).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CHAINRULE_ADAM_512 1
#endif

#ifdef CHAINRULE_ADAM_512
// The float32 loop on 512-bit vectors, for CPUs whose divider and square root are 512 bits wide. Each element's
// operations are the same correctly rounded IEEE ones (no FMA: -ffp-contract=off), so the bits are too.
[[gnu::target("avx512f,prefer-vector-width=512")]] void adam_loop_512(std::size_t k0, std::size_t k1, float* p,
                                                                      const float* g, float* m, float* v,
                                                                      float* vmax, AdamCoefficients<float> c) {
  adam_loop<float>(k0, k1, p, g, m, v, vmax, c);
}

// AMD Zen 5 (family 1Ah) and later: full-width 512-bit units, so Adam's divider-bound float32 loop runs 1.8×
// faster on them (bench/README.md, session 9). Zen 4 splits 512-bit operations in two halves and Intel's
// AVX-512 divider is no wider per element than its AVX2 one, so there the loop stays on 256 bits.
bool wide_divider() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx) || ebx != 0x68747541) return false;  // "Auth": AuthenticAMD
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  const unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
  return family >= 0x1a && __builtin_cpu_supports("avx512f");
}
#endif

template <class T>
void adam_update(std::size_t k0, std::size_t k1, T* p, const T* g, T* m, T* v, T* vmax, AdamCoefficients<T> c) {
#ifdef CHAINRULE_ADAM_512
  static const bool wide = wide_divider();
  if constexpr (std::is_same_v<T, float>)
    if (wide) return adam_loop_512(k0, k1, p, g, m, v, vmax, c);
#endif
  adam_loop<T>(k0, k1, p, g, m, v, vmax, c);
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
    // Split over the intra-op threads (autograd/parallel.hpp; the divider makes an element cost ~4 adds); each
    // element is updated as on one thread. The range runs in adam_update, whose arguments are values: captured by
    // reference, the coefficients could alias m, v or p and the loop would not vectorize (2× slower on case c).
    detail::parallel_for(param.size(), 4, [=](std::size_t k0, std::size_t k1) {
      adam_update<T>(k0, k1, p, g, m, v, vmax, {beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt,
                                                eps, wd, step_size});
    });
  });
}

// The trace of step() for one element: each quantity above, as a number, with its formula.
void Adam::explain(UpdateExplanation& e) const {
  const auto opt = options();
  const double lr = e.lr();
  e.options("lr=" + format_number(lr) + ", β1=" + format_number(opt.beta1) + ", β2=" + format_number(opt.beta2) + ", ε=" + format_number(opt.eps) +
            (opt.amsgrad ? ", amsgrad" : "") + (opt.weight_decay > 0 ? ", λ=" + format_number(opt.weight_decay) : ""));
  e.gradient(opt.weight_decay);
  const double t = e.after("step"), m = e.after("exp_avg"), v = e.after("exp_avg_sq");
  e.add("t", t, "t ← t + 1");
  e.add("m", m, "m ← β1·m + (1 − β1)·g  (first moment: momentum)");
  e.add("v", v, "v ← β2·v + (1 − β2)·g²  (second moment)");
  double v_used = v;
  if (opt.amsgrad) {
    v_used = e.after("max_exp_avg_sq");
    e.add("v_max", v_used, "v_max ← max(v_max, v)  (AMSGrad)");
  }
  const double m_hat = m / (1 - std::pow(opt.beta1, t)), v_hat = v_used / (1 - std::pow(opt.beta2, t));
  e.add("m̂", m_hat, "m̂ = m / (1 − β1ᵗ)  (bias-corrected)");
  e.add("v̂", v_hat, opt.amsgrad ? "v̂ = v_max / (1 − β2ᵗ)  (bias-corrected)" : "v̂ = v / (1 − β2ᵗ)  (bias-corrected)");
  const double delta = lr * m_hat / (std::sqrt(v_hat) + opt.eps);
  e.add("Δ", delta, "Δ = lr·m̂ / (√v̂ + ε)");
  e.add("p'", e.p_after(), "p' = p − Δ");
}

Config Adam::config() const {
  const Options x = options();
  return Optimizer::config()
      .set("beta1", x.beta1)
      .set("beta2", x.beta2)
      .set("eps", x.eps)
      .set("weight_decay", x.weight_decay)
      .set("amsgrad", x.amsgrad);
}

std::unique_ptr<Adam> Adam::from_config(std::vector<Tensor> params, const Config& c) {
  Options o;
  if (c.has("lr")) o.lr = c.number("lr");
  if (c.has("beta1")) o.beta1 = c.number("beta1");
  if (c.has("beta2")) o.beta2 = c.number("beta2");
  if (c.has("eps")) o.eps = c.number("eps");
  if (c.has("weight_decay")) o.weight_decay = c.number("weight_decay");
  if (c.has("amsgrad")) o.amsgrad = c.flag("amsgrad");
  return std::make_unique<Adam>(std::move(params), o);
}

}  // namespace chainrule::optim
