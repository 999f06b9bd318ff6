// Custom ops defined with autograd::Function: forward, hand-written backward, saved tensors and data.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"

using namespace chainrule;

namespace {
// y = log(1 + e^(βx)) / β        ∂x = g ⊙ σ(βx)
struct SoftplusOp : autograd::Function<SoftplusOp> {
  static constexpr const char* name = "softplus";
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x, double beta) {
    ctx.save_for_backward({x});
    ctx.saved_data["beta"] = beta;
    return log(1.0 + exp(beta * x)) / beta;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
    const Tensor x = ctx.get_saved_variables()[0];
    const double beta = std::any_cast<double>(ctx.saved_data["beta"]);
    return {g * sigmoid(beta * x), Tensor()};
  }
  // ẏ = σ(βx) ⊙ ẋ    (forward mode; one tangent per forward argument, undefined for beta)
  static Tensor jvp(autograd::AutogradContext& ctx, const std::vector<Tensor>& t) {
    CHECK_FALSE(t[1].defined());
    return sigmoid(std::any_cast<double>(ctx.saved_data["beta"]) * ctx.get_saved_variables()[0]) * t[0];
  }
};

// y = a ⊙ b + b     ∂a = g ⊙ b     ∂b = g ⊙ (a + 1)     ẏ = ȧ ⊙ b + a ⊙ ḃ + ḃ
struct MulAddOp : autograd::Function<MulAddOp> {
  static constexpr const char* name = "mul_add";
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return a * b + b;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
    const auto s = ctx.get_saved_variables();
    return {g * s[1], g * (s[0] + 1.0)};
  }
  static Tensor jvp(autograd::AutogradContext& ctx, const std::vector<Tensor>& t) {
    const auto s = ctx.get_saved_variables();
    return t[0] * s[1] + s[0] * t[1] + t[1];
  }
};

// y = a ⊙ b (broadcasting)        ∂a = g ⊙ b        ∂b = g ⊙ a        (no name: shown as "custom")
struct MulOp : autograd::Function<MulOp> {
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return a * b;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
    const auto s = ctx.get_saved_variables();
    return {ctx.needs_input_grad(0) ? g * s[1] : Tensor(), ctx.needs_input_grad(1) ? g * s[0] : Tensor()};
  }
};

struct ToFloat : autograd::Function<ToFloat> {
  static constexpr const char* name = "to_float";
  static Tensor forward(autograd::AutogradContext&, const Tensor& x) { return x.to(kFloat32); }
  static std::vector<Tensor> backward(autograd::AutogradContext&, const Tensor& g) { return {g}; }
};

struct BadGrad : autograd::Function<BadGrad> {
  static constexpr const char* name = "bad_grad";
  static Tensor forward(autograd::AutogradContext&, const Tensor& x, double) { return 2.0 * x; }
  static std::vector<Tensor> backward(autograd::AutogradContext&, const Tensor& g) { return {g, g}; }
};

struct WrongCount : autograd::Function<WrongCount> {
  static constexpr const char* name = "wrong_count";
  static Tensor forward(autograd::AutogradContext&, const Tensor& x) { return 2.0 * x; }
  static std::vector<Tensor> backward(autograd::AutogradContext&, const Tensor& g) { return {g, g}; }
};
}  // namespace

TEST_CASE("custom op: softplus's value and gradient match the closed forms, and gradcheck passes") {
  Tensor x = tensor(std::vector<double>{-2, 0, 0.5, 3}, kFloat64).requires_grad_();
  Tensor y = SoftplusOp::apply(x, 2.0);
  CHECK(std::string(y.op()) == "softplus");
  CHECK_FALSE(y.is_leaf());
  sum(y).backward();
  for (std::size_t i = 0; i < 4; ++i) {
    const double v = x.data<double>()(i);
    CHECK(y.data<double>()(i) == doctest::Approx(std::log1p(std::exp(2 * v)) / 2).epsilon(1e-14));
    CHECK(x.grad().data<double>()(i) == doctest::Approx(1 / (1 + std::exp(-2 * v))).epsilon(1e-14));
  }
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return SoftplusOp::apply(in[0], 1.5); },
                  {randn({3, 4}, kFloat64)}));
}

TEST_CASE("custom op: gradients are summed back to broadcast inputs, and only needed ones are computed") {
  manual_seed(2);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return MulOp::apply(in[0], in[1]); },
                  {randn({3, 4}, kFloat64), randn({4}, kFloat64)}));
  Tensor a = randn({2, 3}, kFloat64).requires_grad_(), b = randn({3}, kFloat64);
  MulOp::apply(a, b).backward(ones({2, 3}, kFloat64));
  CHECK(std::string(MulOp::apply(a, b).op()) == "custom");
  CHECK(a.grad().shape() == Shape{2, 3});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("custom op: nothing is recorded under NoGradGuard or when no input needs a gradient") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  {
    NoGradGuard g;
    CHECK(SoftplusOp::apply(x, 1.0).is_leaf());
  }
  CHECK(SoftplusOp::apply(x.detach(), 1.0).is_leaf());
  CHECK(SoftplusOp::apply(x.detach(), 1.0).item() == doctest::Approx(std::log1p(std::exp(1.0))));
}

TEST_CASE("custom op: a saved input modified in place, or a wrong number of gradients, is refused") {
  Tensor x = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  Tensor y = SoftplusOp::apply(x, 1.0);
  x.data<double>()(0) = 5;
  CHECK(test::message([&] { sum(y).backward(); }) ==
        "backward: one of the variables needed for gradient computation has been modified by an inplace operation: "
        "saved tensor #0 of 'softplus' [float64 [2]] is at version 1; expected version 0 instead");
  Tensor z = WrongCount::apply(x);
  CHECK(test::message([&] { sum(z).backward(); }) ==
        "wrong_count: backward returned 2 gradients, expected 1 (one per forward argument after ctx; an undefined "
        "Tensor for none)");
}

TEST_CASE("custom op: a changed dtype and gradients for non-tensor arguments are refused, naming the op") {
  Tensor x = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  CHECK(test::message([&] { ToFloat::apply(x); }) ==
        "to_float: argument 0 is float64 but forward returned float32 (a custom op keeps one dtype: convert with "
        ".to())");
  CHECK(test::message([&] { sum(BadGrad::apply(x, 1.0)).backward(); }) ==
        "bad_grad: backward returned a gradient for argument 1, which is not a tensor (return an undefined Tensor "
        "there)");
}

TEST_CASE("custom op: a backward written with Tensor ops is differentiable again (create_graph, gradgradcheck)") {
  // softplus_β(x)'' = β σ(βx)(1 − σ(βx)): at x = 0.5, β = 2: σ(1) = 0.7310585786300049
  Tensor x = tensor(std::vector<double>{0.5}, kFloat64).requires_grad_();
  GradOptions o;
  o.create_graph = true;
  const Tensor g = grad({sum(SoftplusOp::apply(x, 2.0))}, {x}, o)[0];
  REQUIRE(g.requires_grad());
  const double s = 1 / (1 + std::exp(-1.0));
  CHECK(std::as_const(g).data<double>()(0) == doctest::Approx(s).epsilon(1e-15));
  const Tensor h = grad({sum(g)}, {x})[0];
  CHECK(std::as_const(h).data<double>()(0) == doctest::Approx(2 * s * (1 - s)).epsilon(1e-14));
  auto f = [](const std::vector<Tensor>& in) { return SoftplusOp::apply(in[0], 1.5); };
  CHECK(gradgradcheck(f, {randn({3, 4}, kFloat64)}));
  auto m = [](const std::vector<Tensor>& in) { return MulOp::apply(in[0], in[1]); };
  CHECK(gradgradcheck(m, {randn({3, 4}, kFloat64), randn({1, 4}, kFloat64)}));
}

TEST_CASE("custom op: a static jvp gives forward mode its tangent; without one a tangent is refused") {
  Tensor x = tensor(std::vector<double>{-2, 0, 0.5, 3}, kFloat64), v = tensor(std::vector<double>{1, -1, 2, 0.5}, kFloat64);
  auto [y, jv] = jvp([](const Tensor& t) { return SoftplusOp::apply(t, 2.0); }, x, v);
  const std::vector<double> xs = test::values(x), vs = test::values(v), got = test::values(jv);
  for (std::size_t i = 0; i < xs.size(); ++i) CHECK(got[i] == doctest::Approx(vs[i] / (1 + std::exp(-2 * xs[i]))).epsilon(1e-15));
  // Two tensor arguments, a tangent on one of them: the other's is passed as zeros. J·v from the reverse mode.
  Tensor a = tensor({{1.0, -2.0}, {0.5, 3.0}}, kFloat64), b = tensor({{0.3, 0.7}, {-1.5, 2.0}}, kFloat64);
  auto f = [](const std::vector<Tensor>& t) { return MulAddOp::apply(t[0], t[1]); };
  for (int which = 0; which < 3; ++which) {
    Tensor va = which == 1 ? zeros_like(a) : ones_like(a), vb = which == 0 ? zeros_like(b) : b * 2.0;
    std::vector<Tensor> j = jacobian(f, {a, b});
    Tensor ref = matmul(reshape(j[0], {4, 4}), reshape(va, {4, 1})) + matmul(reshape(j[1], {4, 4}), reshape(vb, {4, 1}));
    const std::vector<double> got = test::values(jvp(f, {a, b}, {va, vb}).second), want = test::values(ref);
    for (std::size_t i = 0; i < 4; ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-15));
  }
  {
    forward_ad::DualLevel level;
    Tensor d = forward_ad::make_dual(x, v);
    Tensor only_b = MulAddOp::apply(a, forward_ad::make_dual(b, ones_like(b)));
    CHECK(test::values(forward_ad::unpack_dual(only_b).tangent) == std::vector<double>{2, -1, 1.5, 4});  // a + 1
    CHECK(test::message([&] { WrongCount::apply(d); }) ==
          "wrong_count: no tangent rule (forward-mode AD): a tangent reached this op; give it one (record()'s fwd "
          "argument, or a static jvp in a custom op) or compute it outside the dual level");
    CHECK(WrongCount::apply(x).defined());  // no tangent, no error
  }
  CHECK(gradcheck(f, {a, b}));
}
