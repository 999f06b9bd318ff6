// Teaching the chain rule: the trace, the Graphviz export, anomaly mode, the expression calculator and its CLI.
#include <doctest/doctest.h>

#include "tests/helpers.hpp"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "autograd/autograd.hpp"

using namespace chainrule;

namespace {
Tensor scalar(double v, const char* name) { return tensor(v, kFloat64).requires_grad_().label(name); }

// micrograd's neuron: o = tanh(x1·w1 + x2·w2 + b), labelled as in micrograd's lecture.
struct Neuron {
  Tensor x1 = scalar(2, "x1"), x2 = scalar(0, "x2"), w1 = scalar(-3, "w1"), w2 = scalar(1, "w2"),
         b = scalar(6.8813735870195432, "b");
  Tensor x1w1 = (x1 * w1).label("x1w1"), x2w2 = (x2 * w2).label("x2w2");
  Tensor sum = (x1w1 + x2w2).label("x1w1x2w2");
  Tensor n = (sum + b).label("n");
  Tensor o = tanh(n).label("o");
};

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t c = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++c;
  return c;
}

std::vector<double> flat(const Tensor& t) { return {t.data<double>().begin(), t.data<double>().end()}; }

// Runs a shell command; returns its exit status and what it printed on stdout (and stderr if redirected).
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}
const std::string kCli = CHAINRULE_CLI;
}  // namespace

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

// ---- Graphviz --------------------------------------------------------------------------------------------------

TEST_CASE("dot: the tape as a digraph, with the path to one parameter highlighted") {
  Neuron m;
  DotOptions o;
  o.highlight = m.w1;
  const std::string dot = to_dot(m.o, o);
  CHECK(dot.rfind("digraph chainrule {\n  rankdir=LR;\n", 0) == 0);
  CHECK(count(dot, "[label=") == 10);
  CHECK(count(dot, " -> ") == 9);
  CHECK(count(dot, "[color=red, penwidth=2]") == 4);  // w1 → x1w1 → x1w1x2w2 → n → o
  CHECK(count(dot, ", color=red, penwidth=2]") == 5);  // and those five nodes
  CHECK(dot.find("[label=\"{o | tanh [] | value 0.707107}\", color=red, penwidth=2];") != std::string::npos);
  CHECK(dot.find("{w1 | leaf [] | value -3}\", fillcolor=lightblue") != std::string::npos);
  CHECK(dot.find("grad") == std::string::npos);  // before backward: no gradients yet

  m.o.backward(retain_graph);
  const std::string after = to_dot(m.o);
  CHECK(after.find("{w1 | leaf [] | value -3 | grad 1}") != std::string::npos);
  CHECK(count(after, "color=red") == 0);

  Tensor other = scalar(1, "q");
  o.highlight = other;
  CHECK(test::message([&] { to_dot(m.o, o); }) == "to_dot: the tensor to highlight 'q' is not in the graph of 'o'");
  m.o.backward();  // frees the graph
  CHECK(test::message([&] { to_dot(m.o); }).rfind("to_dot: the graph through 'tanh' was freed by backward()", 0) == 0);
}

TEST_CASE("dot: write_dot writes a file Graphviz parses (when dot is installed)") {
  Tensor a = scalar(3, "a");
  Tensor b = (a * a + a + 2.0).label("b");
  const std::string path = "test_teach_graph.dot";
  write_dot(path, b);
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  CHECK(text.str() == to_dot(b));
  CHECK(count(text.str(), "{const_1 | constant [] | value 2}") == 1);
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    MESSAGE("graphviz is not installed (apt-get install graphviz): skipping the dot -Tsvg check");
  } else {
    auto [status, out] = shell("dot -Tsvg " + path + " 2>&1");
    CHECK(status == 0);
    CHECK(out.find("<svg") != std::string::npos);
  }
  std::remove(path.c_str());
  CHECK(test::message([&] { write_dot("/nonexistent-dir/g.dot", b); }) ==
        "write_dot: cannot create '/nonexistent-dir/g.dot': No such file or directory");
}

// ---- anomaly mode ----------------------------------------------------------------------------------------------

TEST_CASE("anomaly: off by default; guards nest") {
  CHECK_FALSE(anomaly_mode_enabled());
  Tensor x = scalar(0, "x");
  CHECK(std::isinf(log(x).item()));  // no guard: -inf flows on, as in torch
  {
    AnomalyMode outer;
    {
      AnomalyMode inner;
      CHECK(anomaly_mode_enabled());
    }
    CHECK(anomaly_mode_enabled());
  }
  CHECK_FALSE(anomaly_mode_enabled());
}

TEST_CASE("anomaly: log(0) = -inf is caught in forward, naming the op and its inputs") {
  AnomalyMode guard;
  Tensor x = scalar(0, "x");
  CHECK(test::message([&] { log(x); }) ==
        "anomaly mode: forward of 'log' produced -inf (output [], 1 inf); input #0 'x' [] range [0, 0]");
}

TEST_CASE("anomaly: 0·log(0) = NaN is caught at the mul that makes it") {
  Tensor x = scalar(0, "x");
  Tensor lx = log(x).label("log_x");  // -inf, made before the guard
  AnomalyMode guard;
  CHECK(test::message([&] { x * lx; }) ==
        "anomaly mode: forward of 'mul' produced NaN (output [], 1 NaN); input #0 'x' [] range [0, 0]; "
        "input #1 'log_x' [], 1 inf");
}

TEST_CASE("anomaly: sqrt's gradient at 0 is caught in backward") {
  AnomalyMode guard;
  SUBCASE("inf") {
    Tensor x = scalar(0, "x");
    Tensor y = sqrt(x).label("y");
    CHECK(test::message([&] { y.backward(); }) ==
          "anomaly mode: backward of 'sqrt' 'y' produced inf in the gradient of input #0 ([], 1 inf); "
          "input #0 'x' [] range [0, 0]; output [] range [0, 0]; upstream gradient [] range [1, 1]");
  }
  SUBCASE("NaN: 0 · ∞") {
    Tensor x = tensor({0.0, 4.0}, kFloat64).requires_grad_().label("x");
    Tensor y = sum(sqrt(x) * tensor({0.0, 1.0}, kFloat64));
    CHECK(test::message([&] { y.backward(); }) ==
          "anomaly mode: backward of 'sqrt' produced NaN in the gradient of input #0 ([2] range [0.25, 0.25], "
          "1 NaN); input #0 'x' [2] range [0, 4]; output [2] range [0, 2]; upstream gradient [2] range [0, 1]");
  }
  SUBCASE("a NaN seed") {
    Tensor x = scalar(1, "x");
    CHECK(test::message([&] { (x * 2.0).backward(tensor(NAN, kFloat64)); }) ==
          "anomaly mode: backward was seeded with a gradient holding NaN ([], 1 NaN)");
  }
}

TEST_CASE("anomaly: a finite graph passes and gets the same gradients") {
  auto grads = [](bool guarded) {
    manual_seed(9);
    Tensor x = randn({5, 4}, kFloat64), w = randn({4, 3}, kFloat64).requires_grad_();
    std::optional<AnomalyMode> g;
    if (guarded) g.emplace();
    Tensor l = mean(square(sigmoid(matmul(x, w)) - 0.5)) + sum(matmul(x, w)) * 0.1;
    l.backward();
    return w.grad().data<double>();
  };
  CHECK(grads(true) == grads(false));
}

// ---- the expression calculator ---------------------------------------------------------------------------------

TEST_CASE("expression: micrograd's neuron, value and every partial derivative") {
  Expression e = parse_expression("tanh(w1*x1 + w2*x2 + b)");
  CHECK(e.variables() == std::vector<std::string>{"w1", "x1", "w2", "x2", "b"});
  ExpressionResult r = evaluate(e, {{"x1", 2}, {"x2", 0}, {"w1", -3}, {"w2", 1}, {"b", 6.8813735870195432}});
  CHECK(r.value.dtype() == kFloat64);
  CHECK(r.value.item() == doctest::Approx(std::sqrt(0.5)).epsilon(1e-12));
  CHECK(r.grad.at("x1").item() == doctest::Approx(-1.5).epsilon(1e-12));
  CHECK(r.grad.at("w1").item() == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(r.grad.at("x2").item() == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(r.grad.at("w2").item() == 0);
  CHECK(r.grad.at("b").item() == doctest::Approx(0.5).epsilon(1e-12));
}

TEST_CASE("expression: precedence and associativity are those of math") {
  auto value = [](const std::string& s, std::map<std::string, double> v = {}) {
    return evaluate(parse_expression(s), v).value.item();
  };
  CHECK(value("-x^2", {{"x", 3}}) == -9);  // ^ above unary minus
  CHECK(value("2^3^2") == 512);            // right-associative
  CHECK(value("2^-1") == 0.5);
  CHECK(value("10 - 3 - 2") == 5);         // left-associative
  CHECK(value("12 / 3 / 2") == 2);
  CHECK(value("2 + 3 * 4") == 14);
  CHECK(value("(2 + 3) * 4") == 20);
  CHECK(value("1.5e1 + .5 + 2E-1") == doctest::Approx(15.7).epsilon(1e-15));
  CHECK(value("--x", {{"x", 4}}) == 4);
  CHECK(value("max(x, 2) + min(x, 2)", {{"x", 5}}) == 7);
  ExpressionResult r = evaluate(parse_expression("a*a + a"), {{"a", 3}});
  CHECK(r.value.item() == 12);
  CHECK(r.grad.at("a").item() == 7);
  ExpressionResult p = evaluate(parse_expression("x^y"), {{"x", 2}, {"y", 3}});
  CHECK(p.grad.at("x").item() == 12);                                                 // y·x^(y−1)
  CHECK(p.grad.at("y").item() == doctest::Approx(8 * std::log(2.0)).epsilon(1e-15));  // x^y·ln x
}

TEST_CASE("expression: every function's derivative matches central differences") {
  const char* fns[] = {"exp(x)", "log(x)", "sqrt(x)", "abs(x)", "sin(x)", "cos(x)", "tanh(x)", "sigmoid(x)",
                       "relu(x)", "gaussian(x)", "step(x)", "max(x, 0.3)", "min(x, 0.3)", "x^3 / (1 + x)"};
  const double x = 0.7, h = 1e-6;
  for (const char* f : fns) {
    CAPTURE(f);
    Expression e(f);
    const double numeric =
        (evaluate(e, {{"x", x + h}}).value.item() - evaluate(e, {{"x", x - h}}).value.item()) / (2 * h);
    CHECK(evaluate(e, {{"x", x}}).grad.at("x").item() == doctest::Approx(numeric).epsilon(1e-7));
  }
}

TEST_CASE("expression: errors point at the column with a caret") {
  auto error = [](const std::string& text) {
    try {
      evaluate(parse_expression(text), {{"x", 1}});
    } catch (const ExpressionError& e) {
      return std::make_pair(e.column(), e.message());
    }
    return std::make_pair(std::size_t(0), std::string("no error"));
  };
  CHECK(test::message([] { parse_expression("tanh(x + 1"); }) ==
        "column 11: missing ')' to close the '(' at column 5\n  tanh(x + 1\n            ^");
  CHECK(error("tanhh(x)") ==
        std::make_pair(std::size_t(1), std::string("unknown function 'tanhh' (functions: exp log sqrt abs sin cos "
                                                    "tanh sigmoid relu gaussian step max min)")));
  CHECK(error("2 * max(x)") == std::make_pair(std::size_t(5), std::string("'max' takes 2 arguments, got 1")));
  CHECK(error("exp(x, x)") == std::make_pair(std::size_t(1), std::string("'exp' takes 1 argument, got 2")));
  CHECK(error("x + y") == std::make_pair(std::size_t(5), std::string("unbound variable 'y'")));
  CHECK(error("x + * 2") ==
        std::make_pair(std::size_t(5), std::string("unexpected '*': expected a number, a name or '('")));
  CHECK(error("(x + 1") == std::make_pair(std::size_t(7), std::string("missing ')' to close the '(' at column 1")));
  CHECK(error("(x + 1 2") ==
        std::make_pair(std::size_t(8), std::string("expected ')' to close the '(' at column 1, found '2'")));
  CHECK(error("x 2") == std::make_pair(std::size_t(3), std::string("unexpected '2' after a complete expression "
                                                                   "(missing operator?)")));
  CHECK(error("x)") == std::make_pair(std::size_t(2), std::string("unexpected ')' with no '(' to close")));
  CHECK(error("1e+ x") == std::make_pair(std::size_t(1), std::string("malformed number: the exponent needs digits")));
  CHECK(error("") ==
        std::make_pair(std::size_t(1), std::string("unexpected end of expression: expected a number, a name or '('")));
  CHECK(error("x $ 1") == std::make_pair(std::size_t(3), std::string("unexpected '$' after a complete expression "
                                                                     "(missing operator?)")));
  CHECK(test::message([] { evaluate(parse_expression("x + 1"), {{"x", 1}, {"z", 2}}); }) ==
        "evaluate: 'z' is not a variable of \"x + 1\" (its variables: x)");
}

TEST_CASE("expression: nodes are labelled with their source text, so the trace reads like the formula") {
  ChainRuleTrace trace;
  evaluate(parse_expression("tanh(w1*x1 + b)"), {{"x1", 2}, {"w1", -3}, {"b", 6.8813735870195432}});
  CHECK(trace.entries()[0].name == "tanh(w1*x1 + b)");
  CHECK(trace.entries()[1].name == "w1*x1 + b");
  CHECK(trace.entry("w1*x1").op == std::string("mul"));
  CHECK(trace.entry("w1*x1").inputs[0].name == "w1");
  CHECK(trace.entry("w1").grad.item() == doctest::Approx(1.0).epsilon(1e-12));
}

// ---- the command-line tool -------------------------------------------------------------------------------------

TEST_CASE("chainrule CLI: grad --json prints the value and every partial derivative") {
  auto [status, out] = shell(kCli + " grad 'tanh(w1*x1 + w2*x2 + b)' x1=2 x2=0 w1=-3 w2=1 b=6.8813735870195432 --json");
  REQUIRE(status == 0);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["value"].get<double>() == doctest::Approx(std::sqrt(0.5)).epsilon(1e-12));
  CHECK(j["grad"]["x1"].get<double>() == doctest::Approx(-1.5).epsilon(1e-12));
  CHECK(j["grad"]["w1"].get<double>() == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(j["grad"]["x2"].get<double>() == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(j["grad"]["w2"].get<double>() == 0);
  CHECK(j["grad"]["b"].get<double>() == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(out.find("{\"value\":") == 0);
}

TEST_CASE("chainrule CLI: a parse error exits 2 with a caret under the column") {
  auto [status, out] = shell(kCli + " grad 'tanh(x + 1' x=1 2>&1");
  CHECK(status == 2);
  CHECK(out == "chainrule grad: column 11: missing ')' to close the '(' at column 5\n  tanh(x + 1\n            ^\n");
  CHECK(shell(kCli + " grad 'x + 1' x=abc 2>&1") ==
        std::make_pair(2, std::string("chainrule grad: bad binding 'x=abc': expected name=number, e.g. x1=2.5\n")));
  CHECK(shell(kCli + " > /dev/null 2>&1").first == 2);  // no subcommand: usage
}

TEST_CASE("chainrule CLI: --trace and --dot") {
  const std::string path = "test_teach_cli.dot";
  auto [status, out] = shell(kCli + " grad 'a*a + a' a=3 --trace --dot " + path + " 2>/dev/null");
  CHECK(status == 0);
  CHECK(out.find("∂(a*a + a)/∂a = 1 + 3 + 3 = 7   <- a sum over 3 paths") != std::string::npos);
  CHECK(out.find("value = 12\n∂/∂a  = 7\n") != std::string::npos);
  std::ifstream f(path);
  std::stringstream dot;
  dot << f.rdbuf();
  CHECK(dot.str().find("{a | leaf [] | value 3 | grad 7}") != std::string::npos);
  CHECK(dot.str().find("{a*a | mul [] | value 9 | grad 1}") != std::string::npos);
  std::remove(path.c_str());
}
