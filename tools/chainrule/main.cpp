// chainrule grad EXPR name=value...: evaluates an expression in float64 on the engine and prints its value and
// every partial derivative.
//   chainrule grad "tanh(w1*x1 + w2*x2 + b)" x1=2 x2=0 w1=-3 w2=1 b=6.8813735870195432
//   --trace       the chain-rule trace of backward (to stderr when --json is given)
//   --dot FILE    the graph as Graphviz DOT (render: dot -Tsvg FILE -o graph.svg)
//   --json        {"value": ..., "grad": {"x1": ..., ...}} for scripts
//   --hessian     every second partial derivative too (with --json: "hessian": {"x": {"x": ..., "y": ...}, ...})
// Exit status: 0 done, 2 usage or expression error (the message, with a caret under the column, on stderr),
// 1 anything else (e.g. the DOT file cannot be written).
// An expression that starts with '-' must follow "--": chainrule grad -- "-x^2" x=3
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "autograd/autograd.hpp"

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
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chainrule: reverse-mode autodiff from the command line"};
  app.require_subcommand(1);
  CLI::App* grad = app.add_subcommand("grad", "value and every partial derivative of an expression (float64)");
  std::string text, dot_file;
  std::vector<std::string> bindings;
  bool trace = false, json = false, hessian = false;
  grad->add_option("expression", text,
                   "e.g. \"tanh(w1*x1 + w2*x2 + b)\": + - * / ^, parentheses, exp log sqrt abs sin cos tanh "
                   "sigmoid relu gaussian step max min")
      ->required();
  grad->add_option("bindings", bindings, "name=value for each variable");
  grad->add_flag("--trace", trace, "print the chain-rule trace of backward");
  grad->add_option("--dot", dot_file, "write the graph as Graphviz DOT to this file");
  grad->add_flag("--json", json, "print {\"value\": ..., \"grad\": {...}}");
  grad->add_flag("--hessian", hessian, "print every second partial derivative too");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // --help is not an error
  }

  using namespace chainrule;
  ExpressionResult r;
  std::string trace_text;
  std::vector<std::vector<double>> hess;
  try {
    std::map<std::string, double> values;
    for (const auto& b : bindings)
      if (!values.insert(binding(b)).second) throw std::invalid_argument("'" + b + "': this variable is bound twice");
    Expression e(text);
    std::optional<ChainRuleTrace> t;
    if (trace) t.emplace();
    r = evaluate(e, values);
    if (trace) trace_text = t->str();
    t.reset();
    if (hessian) hess = hessian_of(e, values);
  } catch (const std::invalid_argument& e) {  // ExpressionError, bad bindings
    std::cerr << "chainrule grad: " << e.what() << "\n";
    return 2;
  }
  try {
    if (trace) (json ? std::cerr : std::cout) << trace_text << "\n";
    if (!dot_file.empty()) {
      write_dot(dot_file, r.value);
      std::cerr << "wrote " << dot_file << " (render it: dot -Tsvg " << dot_file << " -o graph.svg)\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "chainrule grad: " << e.what() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::ordered_json out;
    out["value"] = r.value.item();
    out["grad"] = nlohmann::ordered_json::object();
    for (const auto& name : r.variables) out["grad"][name] = r.grad.at(name).item();
    if (hessian) {
      out["hessian"] = nlohmann::ordered_json::object();
      for (std::size_t i = 0; i < r.variables.size(); ++i)
        for (std::size_t j = 0; j < r.variables.size(); ++j) out["hessian"][r.variables[i]][r.variables[j]] = hess[i][j];
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::size_t width = 5;  // "value", or "∂/∂" and the longest name
  for (const auto& name : r.variables) width = std::max(width, 3 + name.size());
  std::cout.precision(12);
  std::cout << "value" << std::string(width - 5, ' ') << " = " << r.value.item() << "\n";
  for (const auto& name : r.variables)
    std::cout << "∂/∂" << name << std::string(width - 3 - name.size(), ' ') << " = " << r.grad.at(name).item() << "\n";
  for (std::size_t i = 0; hessian && i < r.variables.size(); ++i)
    for (std::size_t j = 0; j < r.variables.size(); ++j)
      std::cout << "∂²/∂" << r.variables[i] << "∂" << r.variables[j] << " = " << hess[i][j] << "\n";
  return 0;
}
