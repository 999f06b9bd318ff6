// chainrule grad EXPR name=value...: evaluates an expression in float64 on the engine and prints its value and
// every partial derivative.
//   chainrule grad "tanh(w1*x1 + w2*x2 + b)" x1=2 x2=0 w1=-3 w2=1 b=6.8813735870195432
//   --trace       the chain-rule trace of backward (to stderr when --json is given)
//   --dot FILE    the graph as Graphviz DOT (render: dot -Tsvg FILE -o graph.svg)
//   --html FILE   a web page that steps through backward one chain-rule product at a time (teach/html.hpp)
//   --json        {"value": ..., "grad": {"x1": ..., ...}} for scripts; a number that is not finite is written as
//                 the string "NaN", "Infinity" or "-Infinity" (JSON has no such numbers; Python's float() reads
//                 these strings back)
//   --hessian     every second partial derivative too (with --json: "hessian": {"x": {"x": ..., "y": ...}, ...})
// Exit status: 0 done, 2 usage or expression error (the message, with a caret under the column, on stderr),
// 1 anything else (e.g. the DOT file cannot be written).
// An expression may start with '-' (chainrule grad "-x^2" x=3): the first argument after `grad` that is not one of
// the options below is the expression, whatever it starts with.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <chainrule/autograd.hpp>
#include "../../examples/cli.hpp"

namespace {
// "x1=2" → ("x1", 2); throws std::invalid_argument naming the argument.
std::pair<std::string, double> binding(const std::string& arg) {
  const auto eq = arg.find('=');
  std::string name = arg.substr(0, eq == std::string::npos ? 0 : eq);
  const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
  char* end = nullptr;
  const double v = value.empty() ? 0 : std::strtod(value.c_str(), &end);
  if (name.empty() || value.empty() || *end != '\0')
    throw std::invalid_argument("bad binding '" + arg + "': expected name=number, e.g. x1=2.5");
  return {name, v};
}

// A number for --json: itself when finite, else the string "NaN", "Infinity" or "-Infinity".
nlohmann::ordered_json json_number(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

// The parser reads "-x^2" as an option. The expression is the first argument after `grad` that is not an option (or an
// option's value): when it starts with '-', take it out of argv before the parser sees it.
std::string take_dash_expression(std::vector<const char*>& args) {
  const char* with_value[] = {"--dot", "--html"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (std::strcmp(args[i], "grad") != 0) continue;
    for (std::size_t k = i + 1; k < args.size(); ++k) {
      const std::string a = args[k];
      if (a == "--") return "";
      if (a.rfind("--", 0) == 0 || a == "-h") {
        for (const char* o : with_value) k += a == o ? 1 : 0;
        continue;
      }
      if (a[0] != '-') return "";  // the expression does not start with '-': the parser takes it
      args.erase(args.begin() + long(k));
      return a;
    }
    return "";
  }
  return "";
}

// ∂²e/∂a∂b for every pair of variables, in their order: the gradient recorded (create_graph), then differentiated.
std::vector<std::vector<double>> hessian_of(const chainrule::Expression& e, const std::map<std::string, double>& values) {
  using namespace chainrule;
  std::map<std::string, Tensor> vars;
  std::vector<Tensor> xs;
  for (const auto& name : e.variables()) xs.push_back(vars[name] = tensor(values.at(name), kFloat64).requires_grad_());
  const Tensor y = e(vars);
  std::vector<std::vector<double>> h(xs.size(), std::vector<double>(xs.size(), 0.0));
  if (!y.requires_grad()) return h;
  GradOptions first;
  first.create_graph = first.allow_unused = true;
  const std::vector<Tensor> g = grad({y}, xs, first);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!g[i].defined() || !g[i].requires_grad()) continue;  // ∂e/∂xᵢ is constant: its row is 0
    GradOptions second;
    second.retain_graph = second.allow_unused = true;
    const std::vector<Tensor> row = grad({g[i]}, xs, second);
    for (std::size_t j = 0; j < xs.size(); ++j) h[i][j] = row[j].defined() ? row[j].item() : 0.0;
  }
  return h;
}

// What the command line asks for.
struct GradArgs {
  std::string text, dot_file, html_file;
  std::vector<std::string> bindings;
  bool trace = false, json = false, hessian = false;
};

// Parses argv into `a`; returns the exit status when the program should stop here (0 after --help or --version,
// 2 with a one-line message on a bad command line), nothing when it should go on.
std::optional<int> parse_command_line(int argc, char** argv, GradArgs& a) {
  examples::Cli cli("chainrule", "chainrule: reverse-mode autodiff from the command line");
  examples::Cli& grad = cli.subcommand("grad", "value and every partial derivative of an expression (float64)");
  grad.option("expression", a.text,
              "e.g. \"tanh(w1*x1 + w2*x2 + b)\": + - * / ^ (or **), parentheses, pi, e, exp log sqrt abs "
              "sin cos tan tanh sigmoid relu softplus gaussian step max min pow");
  grad.option("bindings", a.bindings, "name=value for each variable");
  grad.flag("--trace", a.trace, "print the chain-rule trace of backward");
  grad.option("--dot", a.dot_file, "write the graph as Graphviz DOT to this file");
  grad.option("--html", a.html_file, "write a web page that steps through backward to this file");
  grad.flag("--json", a.json,
            "print {\"value\": ..., \"grad\": {...}}; non-finite numbers as \"NaN\", \"Infinity\", \"-Infinity\"");
  grad.flag("--hessian", a.hessian, "print every second partial derivative too");
  std::vector<const char*> args(argv, argv + argc);
  const std::string dash_expression = take_dash_expression(args);
  if (const int status = cli.parse(int(args.size()), const_cast<char**>(args.data())); status >= 0) return status;
  if (!dash_expression.empty()) {
    // the parser took the first binding as the expression
    if (!a.text.empty()) a.bindings.insert(a.bindings.begin(), a.text);
    a.text = dash_expression;
  }
  if (grad.chosen() && a.text.empty()) return cli.fail("expression is required");
  return std::nullopt;
}

// What evaluating the expression gave: the value and gradient, the trace of its backward (kept alive for --html),
// and the Hessian when asked for.
struct GradRun {
  chainrule::ExpressionResult r;
  std::string trace_text;
  std::optional<chainrule::ChainRuleTrace> trace;  // records the backward pass for --trace and --html
  std::vector<std::vector<double>> hess;
};

// Binds the variables, evaluates the expression and runs backward; throws std::invalid_argument (an
// ExpressionError, a bad binding) on bad input.
void run_grad(const GradArgs& a, GradRun& run) {
  using namespace chainrule;
  std::map<std::string, double> values;
  for (const auto& b : a.bindings)
    if (!values.insert(binding(b)).second) throw std::invalid_argument("'" + b + "': this variable is bound twice");
  Expression e(a.text);
  if (a.hessian) run.hess = hessian_of(e, values);  // before the trace starts: it records the one backward it shows
  if (a.trace || !a.html_file.empty()) run.trace.emplace();
  run.r = evaluate(e, values);
  if (a.trace) run.trace_text = run.trace->str();
  if (!a.html_file.empty() && !run.r.value.requires_grad())
    throw std::invalid_argument("--html: the expression has no variables, so backward has nothing to show");
}

// The trace (to stderr when --json is given), the DOT file and the web page, as asked for.
void write_extras(const GradArgs& a, const GradRun& run) {
  using namespace chainrule;
  if (a.trace) (a.json ? std::cerr : std::cout) << run.trace_text << "\n";
  if (!a.dot_file.empty()) {
    write_dot(a.dot_file, run.r.value);
    std::cerr << "wrote " << a.dot_file << " (render it: dot -Tsvg " << a.dot_file << " -o graph.svg)\n";
  }
  if (!a.html_file.empty()) {
    HtmlOptions o;
    o.title = "chainrule grad " + a.text;
    write_html(a.html_file, *run.trace, o);
    std::cerr << "wrote " << a.html_file << " (open it in a browser; arrow keys step through backward)\n";
  }
}

// {"value": ..., "grad": {...}, "hessian": {...}} on one line.
void print_json(const GradArgs& a, const GradRun& run) {
  const auto& r = run.r;
  nlohmann::ordered_json out;
  out["value"] = json_number(r.value.item());
  out["grad"] = nlohmann::ordered_json::object();
  for (const auto& name : r.variables) out["grad"][name] = json_number(r.grad.at(name).item());
  if (a.hessian) {
    out["hessian"] = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < r.variables.size(); ++i)
      for (std::size_t j = 0; j < r.variables.size(); ++j)
        out["hessian"][r.variables[i]][r.variables[j]] = json_number(run.hess[i][j]);
  }
  std::cout << out.dump() << "\n";
}

// "value = ...", then "∂/∂x = ..." for each variable (aligned), then the second partials when asked for.
void print_table(const GradArgs& a, const GradRun& run) {
  const auto& r = run.r;
  std::size_t width = 5;  // "value", or "∂/∂" and the longest name
  for (const auto& name : r.variables) width = std::max(width, 3 + name.size());
  std::cout.precision(12);
  std::cout << "value" << std::string(width - 5, ' ') << " = " << r.value.item() << "\n";
  for (const auto& name : r.variables)
    std::cout << "∂/∂" << name << std::string(width - 3 - name.size(), ' ') << " = " << r.grad.at(name).item() << "\n";
  for (std::size_t i = 0; a.hessian && i < r.variables.size(); ++i)
    for (std::size_t j = 0; j < r.variables.size(); ++j)
      std::cout << "∂²/∂" << r.variables[i] << "∂" << r.variables[j] << " = " << run.hess[i][j] << "\n";
}
}  // namespace

int main(int argc, char** argv) {
  GradArgs a;
  if (const std::optional<int> status = parse_command_line(argc, argv, a)) return *status;
  GradRun run;
  try {
    run_grad(a, run);
  } catch (const std::invalid_argument& e) {  // ExpressionError, bad bindings
    std::cerr << "chainrule grad: " << e.what() << "\n";
    return 2;
  }
  try {
    write_extras(a, run);
  } catch (const std::exception& e) {
    std::cerr << "chainrule grad: " << e.what() << "\n";
    return 1;
  }
  if (a.json)
    print_json(a, run);
  else
    print_table(a, run);
  return 0;
}
