// The expression calculator (teach/expression.hpp) and its command-line tool `chainrule grad`.
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

#include <nlohmann/json.hpp>

using namespace chainrule;
using test::count;
using test::flat;
using test::Neuron;
using test::scalar;
using test::shell;

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
                       "relu(x)", "gaussian(x)", "step(x)", "max(x, 0.3)", "min(x, 0.3)", "x^3 / (1 + x)",
                       "tan(x)", "softplus(x)", "pow(x, 2.5)", "pow(2.5, x)", "x**3"};
  const double x = 0.7, h = 1e-6;
  for (const char* f : fns) {
    CAPTURE(f);
    Expression e(f);
    const double numeric =
        (evaluate(e, {{"x", x + h}}).value.item() - evaluate(e, {{"x", x - h}}).value.item()) / (2 * h);
    CHECK(evaluate(e, {{"x", x}}).grad.at("x").item() == doctest::Approx(numeric).epsilon(1e-7));
  }
}

TEST_CASE("expression: ** is power as in Python; pi and e are constants; tan, softplus, pow") {
  auto value = [](const std::string& s, std::map<std::string, double> v = {}) {
    return evaluate(parse_expression(s), v).value.item();
  };
  CHECK(value("2**3**2") == 512);                 // right-associative, as ^
  CHECK(value("-x**2", {{"x", 3}}) == -9);        // above unary minus, as in Python
  CHECK(value("2 * x**2", {{"x", 3}}) == 18);
  CHECK(value("pi") == 3.14159265358979323846);
  CHECK(value("e") == std::exp(1.0));
  CHECK(parse_expression("e^x + pi*y").variables() == std::vector<std::string>{"x", "y"});
  CHECK(value("pow(x, 3)", {{"x", 2}}) == 8);
  CHECK(value("tan(x)", {{"x", 0.5}}) == doctest::Approx(std::tan(0.5)).epsilon(1e-15));
  // softplus(x) = log(1 + eˣ), computed without overflow (absolute error below 1.2e-16 where log(1 + tiny)
  // rounds); its derivative is σ(x), also at x = 0 where the composite's max and |x| have their kinks
  for (double x : {-30.0, -2.0, 0.0, 0.5, 3.0, 800.0}) {
    CAPTURE(x);
    const ExpressionResult r = evaluate(parse_expression("softplus(x)"), {{"x", x}});
    const double expected = x > 30 ? x : std::log1p(std::exp(x));
    CHECK(std::abs(r.value.item() - expected) <= 1.2e-16 + 1e-15 * expected);
    CHECK(r.grad.at("x").item() == doctest::Approx(1 / (1 + std::exp(-x))).epsilon(1e-15));
  }
  // d/dx tan x = 1 + tan² x, exactly as the composite's sin/cos derivatives give it
  const ExpressionResult t = evaluate(parse_expression("tan(x)"), {{"x", 0.5}});
  CHECK(t.grad.at("x").item() == doctest::Approx(1 + std::tan(0.5) * std::tan(0.5)).epsilon(1e-15));
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
                                                    "tanh sigmoid relu gaussian step tan softplus max min pow)")));
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

namespace {
const std::string kCli = CHAINRULE_CLI;
}  // namespace

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

TEST_CASE("chainrule CLI: an expression may start with '-'; --version; non-finite numbers in --json") {
  CHECK(shell(kCli + " grad '-x^2' x=3") == std::make_pair(0, std::string("value = -9\n∂/∂x  = -6\n")));
  CHECK(shell(kCli + " grad -x**2 x=3 --json") == std::make_pair(0, std::string("{\"value\":-9.0,\"grad\":{\"x\":-6.0}}\n")));
  CHECK(shell(kCli + " grad --json -- '-x' x=1") == std::make_pair(0, std::string("{\"value\":-1.0,\"grad\":{\"x\":-1.0}}\n")));
  CHECK(shell(kCli + " --version") == std::make_pair(0, std::string("chainrule ") + chainrule::version() + "\n"));
  // JSON has no NaN or infinity: they are written as strings, as documented in --help
  CHECK(shell(kCli + " grad 'log(x)' x=0 --json") ==
        std::make_pair(0, std::string("{\"value\":\"-Infinity\",\"grad\":{\"x\":\"Infinity\"}}\n")));
  CHECK(shell(kCli + " grad 'sqrt(x)' x=-1 --json") ==
        std::make_pair(0, std::string("{\"value\":\"NaN\",\"grad\":{\"x\":\"NaN\"}}\n")));
  CHECK(shell(kCli + " grad 'x' x=1 --bogus 2>&1").first == 2);
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
  CHECK(dot.str().find("{a | leaf | value 3 | grad 7}") != std::string::npos);
  CHECK(dot.str().find("{a*a | mul | value 9 | grad 1}") != std::string::npos);
  std::remove(path.c_str());
}
