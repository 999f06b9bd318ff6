// The chain-rule trace (teach/trace.hpp): what backward did at each node.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "teach_helpers.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

using namespace chainrule;
using test::count;
using test::flat;
using test::Neuron;
using test::scalar;
using test::shell;

// ---- the chain-rule trace --------------------------------------------------------------------------------------

TEST_CASE("trace: micrograd's neuron, every local derivative and contribution (golden)") {
  Neuron m;
  ChainRuleTrace trace;
  m.o.backward();
  const auto& es = trace.entries();
  REQUIRE(es.size() == 10);  // o, n, the sum, the two products, five leaves
  CHECK(es[0].name == "o");
  for (std::size_t i = 0; i < es.size(); ++i) CHECK(es[i].step == i + 1);

  const TraceEntry& o = trace.entry("o");
  CHECK(o.op == std::string("tanh"));
  CHECK(o.value.item() == doctest::Approx(std::sqrt(0.5)).epsilon(1e-12));
  CHECK(o.grad.item() == 1);  // the seed
  CHECK(o.paths.empty());
  REQUIRE(o.inputs.size() == 1);
  CHECK(o.inputs[0].name == "n");
  CHECK(o.inputs[0].local_kind == LocalKind::Elementwise);
  CHECK(o.inputs[0].local.item() == doctest::Approx(0.5).epsilon(1e-12));  // do/dn = 1 − o²
  CHECK(o.inputs[0].contribution.item() == doctest::Approx(0.5).epsilon(1e-12));

  const TraceEntry& n = trace.entry("n");
  CHECK(n.grad.item() == doctest::Approx(0.5).epsilon(1e-12));
  REQUIRE(n.inputs.size() == 2);
  CHECK(n.inputs[1].name == "b");
  CHECK(n.inputs[1].local.item() == 1);
  CHECK(n.inputs[1].contribution.item() == doctest::Approx(0.5).epsilon(1e-12));

  const TraceEntry& x1w1 = trace.entry("x1w1");
  CHECK(x1w1.inputs[0].local.item() == -3);  // ∂(x1·w1)/∂x1 = w1
  CHECK(x1w1.inputs[1].local.item() == 2);   // ∂(x1·w1)/∂w1 = x1
  CHECK(x1w1.inputs[0].contribution.item() == doctest::Approx(-1.5).epsilon(1e-12));
  CHECK(x1w1.inputs[1].contribution.item() == doctest::Approx(1.0).epsilon(1e-12));
  const TraceEntry& x2w2 = trace.entry("x2w2");
  CHECK(x2w2.inputs[0].contribution.item() == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(x2w2.inputs[1].contribution.item() == 0);

  const std::pair<const char*, double> leaves[] = {{"x1", -1.5}, {"w1", 1.0}, {"x2", 0.5}, {"w2", 0}, {"b", 0.5}};
  for (const auto& [name, g] : leaves) {
    CAPTURE(name);
    const TraceEntry& e = trace.entry(name);
    CHECK(e.is_leaf());
    CHECK_FALSE(e.summed());
    CHECK(e.grad.item() == doctest::Approx(g).epsilon(1e-12));
  }
  CHECK(m.x1.grad().item() == doctest::Approx(-1.5).epsilon(1e-12));  // and the real gradients are untouched
  CHECK(m.w1.grad().item() == doctest::Approx(1.0).epsilon(1e-12));
  // every node comes before its inputs
  for (const auto& e : es)
    for (const auto& in : e.inputs) CHECK(trace.entry(in.name).step > e.step);

  const std::string text = trace.str();
  CHECK(text.find("Chain-rule trace: backward from o (10 nodes") != std::string::npos);
  CHECK(text.find("  1. o = tanh(n) = 0.707107\n      ∂o/∂o = 1   (the seed)\n") != std::string::npos);
  CHECK(text.find("      n = 0.881374   ∂o/∂n = 0.5   contribution 1 × 0.5 = 0.5   -> ∂o/∂n = 0.5\n") !=
        std::string::npos);
  CHECK(text.find("x1 = 2    ∂x1w1/∂x1 = -3   contribution 0.5 × -3 = -1.5   -> ∂o/∂x1 = -1.5\n") != std::string::npos);
}

TEST_CASE("trace: a reused node's gradient is flagged as a sum over paths (b = a·a + a)") {
  Tensor a = scalar(3, "a");
  Tensor b = (a * a + a).label("b");
  ChainRuleTrace trace;
  b.backward();
  REQUIRE(trace.entries().size() == 3);  // b, a·a, a
  const TraceEntry& mul = trace.entries()[1];
  CHECK(mul.name == "mul_1");  // generated: the user did not label a·a
  CHECK(mul.inputs[0].local.item() == 3);
  CHECK(mul.inputs[1].local.item() == 3);  // each slot of a·a gets its own ∂/∂
  const TraceEntry& e = trace.entry("a");
  CHECK(e.summed());
  REQUIRE(e.paths.size() == 3);
  CHECK(e.paths[0].from == "b");  // b sends 1 first, then a·a sends a twice
  CHECK(e.paths[0].contribution.item() == 1);
  CHECK(e.paths[1].from == "mul_1");
  CHECK(e.paths[1].input == 0);
  CHECK(e.paths[2].input == 1);
  CHECK(e.paths[1].contribution.item() == 3);
  CHECK(e.grad.item() == 7);  // 2a + 1
  CHECK(mul.inputs[1].paths_so_far == 3);
  CHECK(mul.inputs[1].accumulated.item() == 7);

  const std::string text = trace.str();
  CHECK(text.find("  3. a = 3   (leaf)\n      ∂b/∂a = 1 + 3 + 3 = 7   <- a sum over 3 paths: from b (input #1), "
                  "mul_1 (input #0), mul_1 (input #1)\n") != std::string::npos);
  CHECK(text.find("-> ∂b/∂a = 7 (sum of 3 paths so far)") != std::string::npos);
  const std::string md = trace.markdown();
  CHECK(md.find("#### Chain-rule trace: backward from $b$ (3 nodes)") != std::string::npos);
  CHECK(md.find("3. $a$ = 3   (leaf)\n   - $\\frac{\\partial b}{\\partial a}$ = 1 + 3 + 3 = 7   **a sum over 3 paths**") !=
        std::string::npos);
  CHECK(md.find("$\\mathrm{mul\\_1}$") != std::string::npos);
}

TEST_CASE("trace: non-elementwise ops show a small Jacobian, or the contribution alone") {
  SUBCASE("sum and matmul: Jacobians") {
    Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_().label("x");
    Tensor w = tensor({{0.5}, {-1.0}, {2.0}}, kFloat64).requires_grad_().label("w");
    Tensor y = matmul(reshape(x, {1, 3}), w).label("y");  // [1,1]
    Tensor l = (sum(y) + sum(x)).label("l");
    ChainRuleTrace trace;
    l.backward();
    const TraceEntry& ye = trace.entry("y");
    REQUIRE(ye.inputs.size() == 2);
    CHECK(ye.inputs[1].local_kind == LocalKind::Jacobian);
    CHECK(ye.inputs[1].local.shape() == Shape{1, 1, 3, 1});  // out.shape ++ in.shape
    CHECK(flat(ye.inputs[1].local) == std::vector<double>{1, 2, 3});  // ∂(x·w)/∂w = xᵀ
    CHECK(ye.inputs[1].contribution.shape() == Shape{3, 1});
    CHECK(flat(ye.inputs[1].contribution) == std::vector<double>{1, 2, 3});
    // x is used twice (sum(x) and the reshape), so its gradient is a sum of two paths.
    const TraceEntry& xe = trace.entry("x");
    CHECK(xe.summed());
    CHECK(xe.grad.data<double>() == Array<double>({1.5, 0, 3}));
  }
  SUBCASE("a scalar broadcast against a vector: the Jacobian, not a diagonal") {
    Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).label("x");
    Tensor s = scalar(2, "s");
    Tensor y = (x * s).label("y");
    Tensor l = sum(y).label("l");
    ChainRuleTrace trace;
    l.backward();
    const TraceEntry& ye = trace.entry("y");
    CHECK_FALSE(ye.inputs[0].requires_grad);  // a constant: shown, no gradient
    CHECK(ye.inputs[1].local_kind == LocalKind::Jacobian);
    CHECK(ye.inputs[1].local.data<double>() == Array<double>({1, 2, 3}));
    CHECK(ye.inputs[1].contribution.item() == 6);
    CHECK(trace.str().find("x = [1, 2, 3]: a constant, no gradient") != std::string::npos);
  }
  SUBCASE("a 3-way softmax: its 3×3 Jacobian diag(p) − p·pᵀ in full") {
    Tensor z = tensor({0.0, std::log(2.0), std::log(5.0)}, kFloat64).requires_grad_().label("z");  // p = (1, 2, 5)/8
    Tensor p = softmax(z, 0).label("p");
    Tensor l = sum(p * tensor({1.0, 0.0, 0.0}, kFloat64)).label("l");
    ChainRuleTrace trace;
    l.backward();
    const TraceEntry& pe = trace.entry("p");
    REQUIRE(pe.inputs[0].local_kind == LocalKind::Jacobian);
    CHECK(pe.inputs[0].local.shape() == Shape{3, 3});
    const std::vector<double> j = flat(pe.inputs[0].local), q = {1 / 8.0, 2 / 8.0, 5 / 8.0};
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t c = 0; c < 3; ++c)
        CHECK(j[3 * r + c] == doctest::Approx((r == c ? q[r] : 0) - q[r] * q[c]).epsilon(1e-12));
    const std::string text = trace.str();
    CHECK(text.find("Jacobian ∂p/∂z = [[0.109375, -0.03125, -0.078125], [-0.03125, 0.1875, -0.15625], "
                    "[-0.078125, -0.15625, 0.234375]]") != std::string::npos);
  }
  SUBCASE("large: no Jacobian, values summarised") {
    manual_seed(3);
    Tensor x = randn({8, 8}, kFloat64).label("x");
    Tensor w = randn({8, 8}, kFloat64).requires_grad_().label("w");
    Tensor l = sum(matmul(x, w)).label("l");
    ChainRuleTrace trace;
    l.backward();
    const TraceEntry& m = trace.entries()[1];
    CHECK(m.op == std::string("matmul"));
    CHECK(m.inputs[1].local_kind == LocalKind::None);
    CHECK_FALSE(m.inputs[1].local.defined());
    const std::string text = trace.str();
    CHECK(text.find("∂matmul_1/∂w not shown: 64×64 Jacobian") != std::string::npos);
    CHECK(text.find("w = [8,8] mean ") != std::string::npos);
  }
}

TEST_CASE("trace: recording changes no gradient, also where matmul accumulates in place") {
  auto grads = [](bool traced) {
    manual_seed(5);
    Tensor x = randn({4, 3}, kFloat64), w = randn({3, 2}, kFloat64).requires_grad_();
    Tensor b = randn({2}, kFloat64).requires_grad_();
    Tensor h = tanh(matmul(x, w) + b);
    Tensor l = sum(square(h)) + sum(matmul(x, w));  // w gets two matmul contributions
    std::optional<ChainRuleTrace> t;
    if (traced) t.emplace();
    l.backward();
    return std::make_pair(w.grad().data<double>(), b.grad().data<double>());
  };
  const auto plain = grads(false), traced = grads(true);
  CHECK(plain.first == traced.first);
  CHECK(plain.second == traced.second);
}

TEST_CASE("trace: records only while alive; guards nest; each backward is a pass") {
  Tensor a = scalar(2, "a");
  (a * a).backward();  // no trace alive: nothing to record
  ChainRuleTrace outer;
  {
    ChainRuleTrace inner;
    (a * 3.0).backward();
    CHECK(inner.entries().size() == 2);
  }
  CHECK(outer.entries().empty());  // the innermost guard recorded
  (a * 3.0).backward();
  (a + 1.0).backward();
  REQUIRE(outer.entries().size() == 4);
  CHECK(outer.entries()[2].pass == 2);
  CHECK(outer.entries()[2].step == 1);
  CHECK(outer.entries()[2].name == "add_1");
  CHECK(test::message([&] { outer.entry("nope"); }) ==
        "ChainRuleTrace::entry: no node named 'nope' was traced (traced: mul_1, a, add_1, a)");
  outer.clear();
  CHECK(outer.entries().empty());
}

TEST_CASE("trace: -0 prints as 0") {
  CHECK(format_value(tensor(-0.0)) == "0");
  CHECK(format_value(tensor({-0.0, 1.0})) == "[0, 1]");
}

TEST_CASE("trace: format_value prints small tensors in full and big ones as a summary") {
  CHECK(format_value(tensor(0.5)) == "0.5");
  CHECK(format_value(tensor({{1.0, 2.0}, {3.0, 4.0}})) == "[[1, 2], [3, 4]]");
  Tensor big = arange(10, kFloat64);
  CHECK(format_value(big) == "[10] mean 4.5 min 0 max 9");
  TraceOptions full;
  full.full = true;
  CHECK(format_value(big, full) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
  CHECK(format_value(Tensor()) == "(none)");
}
