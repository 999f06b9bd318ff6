// Write your own op: softplus with a hand-written derivative, defined with autograd::Function (forward, backward,
// saved tensors, saved data, and a tangent rule for forward mode), checked against its closed form, by gradcheck,
// by gradgradcheck, and its forward-mode jvp against the reverse-mode Jacobian.
//   build/examples/custom_op [--beta 2]
#include "../cli.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <chainrule/autograd.hpp>

using namespace chainrule;

// y = log(1 + e^(βx)) / β        ∂x = g ⊙ σ(βx)        ẏ = σ(βx) ⊙ ẋ
struct Softplus : autograd::Function<Softplus> {
  static constexpr const char* name = "softplus";
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x, double beta) {
    ctx.save_for_backward({x});
    ctx.saved_data["beta"] = beta;
    return log(1.0 + exp(beta * x)) / beta;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
    const Tensor x = ctx.get_saved_variables()[0];
    const double beta = std::any_cast<double>(ctx.saved_data["beta"]);
    return {g * sigmoid(beta * x), Tensor()};  // one per forward argument: no gradient for beta
  }
  // Optional: the tangent for forward mode (jvp, forward_ad), one tangent per forward argument (none for beta).
  static Tensor jvp(autograd::AutogradContext& ctx, const std::vector<Tensor>& t) {
    const double beta = std::any_cast<double>(ctx.saved_data["beta"]);
    return sigmoid(beta * ctx.get_saved_variables()[0]) * t[0];
  }
};

int main(int argc, char** argv) {
  examples::Cli cli("custom_op", "A user-defined op (softplus with a hand-written backward), checked by gradcheck");
  double beta = 2;
  cli.option("--beta", beta, "softplus sharpness β").positive().show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;

  Tensor x = tensor(std::vector<double>{-1, 0, 2}, kFloat64).requires_grad_();
  Tensor y = Softplus::apply(x, beta);
  sum(y).backward();
  std::cout << "x          = " << x << "\ny          = " << y << "\ndy/dx      = " << x.grad() << "\n";
  double worst = 0;  // against the closed forms: log1p(e^(βx))/β and σ(βx)
  for (std::size_t i = 0; i < 3; ++i) {
    const double v = std::as_const(x).data<double>()(i);
    worst = std::max(worst, std::abs(std::as_const(y).data<double>()(i) - std::log1p(std::exp(beta * v)) / beta));
    worst = std::max(worst, std::abs(x.grad().data<double>()(i) - 1 / (1 + std::exp(-beta * v))));
  }
  std::printf("closed form: largest difference %.1e\n", worst);
  // The backward is written with Tensor ops, so it is differentiable again: gradgradcheck checks the second
  // derivatives (β σ(βx)(1 − σ(βx))) against central differences of the gradient.
  manual_seed(1);
  const auto f = [&](const std::vector<Tensor>& in) { return Softplus::apply(in[0], beta); };
  const GradcheckResult r = gradcheck(f, {randn({4, 5}, kFloat64)});
  std::cout << r << "\n";
  const GradcheckResult r2 = gradgradcheck(f, {randn({4, 5}, kFloat64)});
  std::cout << r2 << "\n";
  // Forward mode: one pass carrying the tangent v gives J·v; against J from the reverse mode (one backward per
  // output element).
  const Tensor x2 = randn({4, 5}, kFloat64), v = randn({4, 5}, kFloat64);
  const Tensor jv = jvp(f, {x2}, {v}).second;
  const Tensor ref = reshape(matmul(reshape(jacobian(f, {x2})[0], {20, 20}), reshape(v, {20, 1})), {4, 5});
  double jvp_error = 0;
  for (std::size_t i = 0; i < 20; ++i)
    jvp_error = std::max(jvp_error, std::abs(jv.data<double>().data()[i] - ref.data<double>().data()[i]));
  std::printf("jvp (forward mode) vs J·v (reverse mode): largest difference %.1e\n", jvp_error);
  return r && r2 && jvp_error < 1e-12 ? 0 : 1;
}
