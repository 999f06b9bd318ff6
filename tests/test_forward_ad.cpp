// Forward mode (autograd/forward_ad.hpp): dual tensors, the level's lifetime, errors, and the two mixed orders
// (reverse-over-forward, forward-over-reverse). Every op's tangent against J·v is in test_ops.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <utility>

#include "helpers.hpp"

using namespace chainrule;
namespace fwd = chainrule::forward_ad;

TEST_CASE("forward mode: a dual number carries the tangent of sin(x)·x through the ops") {
  fwd::DualLevel level;
  Tensor x = fwd::make_dual(tensor({0.5, 2.0}, kFloat64), tensor({1.0, -3.0}, kFloat64));
  Tensor y = sin(x) * x;
  auto [primal, tangent] = fwd::unpack_dual(y);
  // ẏ = (x·cos x + sin x)·ẋ
  CHECK(test::values(primal) == std::vector<double>{std::sin(0.5) * 0.5, std::sin(2.0) * 2.0});
  CHECK(test::values(tangent)[0] == doctest::Approx(0.5 * std::cos(0.5) + std::sin(0.5)).epsilon(1e-15));
  CHECK(test::values(tangent)[1] == doctest::Approx(-3.0 * (2.0 * std::cos(2.0) + std::sin(2.0))).epsilon(1e-15));
  CHECK_FALSE(fwd::unpack_dual(primal).tangent.defined());  // the primal is a plain tensor
  CHECK_FALSE(y.requires_grad());                            // nothing was recorded for reverse mode
}

TEST_CASE("forward mode: constants have no tangent, broadcasting sums nothing, the tangent takes the output's shape") {
  fwd::DualLevel level;
  Tensor x = fwd::make_dual(tensor({{1.0, 2.0, 3.0}}, kFloat64), tensor({{1.0, 0.0, -1.0}}, kFloat64));
  Tensor c = tensor({{1.0, 1.0, 1.0}, {2.0, 2.0, 2.0}}, kFloat64);
  Tensor y = x * c + c;  // [1,3] against [2,3]: ẏ = ẋ ⊙ c, broadcast to [2,3]
  Tensor t = fwd::unpack_dual(y).tangent;
  CHECK(t.shape() == Shape{2, 3});
  CHECK(test::values(t) == std::vector<double>{1, 0, -1, 2, 0, -2});
  CHECK_FALSE(fwd::unpack_dual(c * 2.0).tangent.defined());
  CHECK(test::values(fwd::unpack_dual(sum(y)).tangent) == std::vector<double>{0});
  CHECK(test::values(fwd::unpack_dual(x.to(kFloat32)).tangent) == std::vector<double>{1, 0, -1});
  CHECK(fwd::unpack_dual(x.to(kFloat32)).tangent.dtype() == kFloat32);
}

TEST_CASE("forward mode: tangents live as long as the level, also under no_grad") {
  Tensor y;
  {
    fwd::DualLevel level;
    CHECK(fwd::dual_level_active());
    NoGradGuard no_grad;  // forward mode does not depend on grad mode
    y = exp(fwd::make_dual(tensor(0.0, kFloat64), tensor(2.0, kFloat64)));
    CHECK(fwd::unpack_dual(y).tangent.item() == 2.0);
  }
  CHECK_FALSE(fwd::dual_level_active());
  CHECK_FALSE(fwd::unpack_dual(y).tangent.defined());
  CHECK(y.item() == 1.0);
}

TEST_CASE("forward mode: misuse and ops without a tangent rule are refused, naming what is wrong") {
  Tensor p = tensor({1.0, 2.0}, kFloat64);
  CHECK(test::message([&] { fwd::make_dual(p, p); }) ==
        "make_dual: no dual level is active (create a forward_ad::DualLevel first)");
  fwd::DualLevel level;
  CHECK(test::message([] { fwd::DualLevel again; }) ==
        "forward_ad::DualLevel: a dual level is already active on this thread (nested forward mode is not supported)");
  CHECK(test::message([&] { fwd::make_dual(p, tensor({1.0, 2.0, 3.0}, kFloat64)); }) ==
        "make_dual: tangent is float64 [3] but primal is float64 [2] (they must match)");
  CHECK(test::message([&] { jvp([](const Tensor& t) { return t; }, p, p); }) ==
        "forward_ad::DualLevel: a dual level is already active on this thread (nested forward mode is not supported)");
  // An op recorded with a backward but no tangent rule: a tangent reaching it is an error, never dropped.
  Tensor x = fwd::make_dual(p, ones_like(p));
  auto no_rule = [](const Tensor& t) {
    return record<double>("my_op", Array<double>(t.data<double>()), {t},
                          [](auto& d, const Array<double>& g, const auto&, const auto&) { d(0, g); });
  };
  CHECK(test::message([&] { no_rule(x); }) ==
        "my_op: no tangent rule (forward-mode AD): a tangent reached this op; give it one (record()'s fwd argument, "
        "or a static jvp in a custom op) or compute it outside the dual level");
  CHECK(fwd::unpack_dual(no_rule(p)).primal.defined());  // without a tangent it runs as before
}

TEST_CASE("forward mode: jvp with create_graph is differentiable (reverse over forward)") {
  // f(x) = Σ x³:  J·v = Σ 3x²v,  ∂(J·v)/∂x = 6x ⊙ v,  ∂(J·v)/∂v = 3x²
  Tensor x = tensor({1.0, -2.0}, kFloat64).requires_grad_(), v = tensor({0.5, 3.0}, kFloat64).requires_grad_();
  Tensor jv = jvp([](const Tensor& t) { return sum(t * t * t); }, x, v, true).second;
  CHECK(jv.item() == 3 * 0.5 + 12 * 3.0);
  auto g = grad({jv}, {x, v});
  CHECK(test::values(g[0]) == std::vector<double>{3, -36});
  CHECK(test::values(g[1]) == std::vector<double>{3, 12});
}

TEST_CASE("forward mode: the tangent of a gradient recorded with create_graph is H·v (forward over reverse)") {
  Tensor x0 = tensor({0.3, -1.2, 0.8}, kFloat64), v = tensor({1.0, 0.5, -2.0}, kFloat64);
  auto f = [](const Tensor& t) { return sum(exp(t) * sin(t)) + sum(tanh(t) * t * t); };
  Tensor hv;
  {
    fwd::DualLevel level;
    Tensor x = fwd::make_dual(x0.detach().requires_grad_(), v);
    Tensor g = grad({f(x)}, {x}, {{}, true, true})[0];
    hv = fwd::unpack_dual(g).tangent;
  }
  const Tensor ref = hvp(f, x0, v, true).second.detach();  // double backward
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(test::values(hv)[i] == doctest::Approx(test::values(ref)[i]).epsilon(1e-13));
}

TEST_CASE("forward mode: float32 works like float64") {
  Tensor x = tensor({0.5f, -1.0f}), v = tensor({2.0f, 1.0f});
  auto [y, jv] = jvp([](const Tensor& t) { return tanh(t); }, x, v);
  CHECK(jv.dtype() == kFloat32);
  CHECK(test::values(jv)[0] == doctest::Approx(2 * (1 - std::tanh(0.5) * std::tanh(0.5))).epsilon(1e-6));
  CHECK(test::values(jv)[1] == doctest::Approx(1 - std::tanh(1.0) * std::tanh(1.0)).epsilon(1e-6));
}
