// Write your own op: softplus with a hand-written derivative, defined with autograd::Function (forward, backward,
// saved tensors, saved data), checked against its closed form, by gradcheck and by gradgradcheck.
//   build/examples/custom_op [--beta 2]
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include <chainrule/autograd.hpp>

using namespace chainrule;

// y = log(1 + e^(βx)) / β        ∂x = g ⊙ σ(βx)
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
};

int main(int argc, char** argv) {
  CLI::App app{"A user-defined op (softplus with a hand-written backward), checked by gradcheck"};
  double beta = 2;
  app.set_version_flag("--version", std::string("custom_op (chainrule ") + chainrule::version() + ")");
  app.add_option("--beta", beta, "softplus sharpness β (> 0)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "custom_op: " << e.what() << "\n";
    return 2;
  }
  if (!(beta > 0 && std::isfinite(beta))) {
    std::cerr << "custom_op: --beta: must be a finite number > 0, got " << beta << "\n";
    return 2;
  }

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
  return r && r2 ? 0 : 1;
}
