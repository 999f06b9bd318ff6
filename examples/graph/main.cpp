// The chain rule, traced and drawn: micrograd's neuron o = tanh(x1·w1 + x2·w2 + b), and a small MLP.
//   1. the chain-rule trace of the neuron's backward, node by node (text);
//   2. neuron.html and mlp.html: web pages that step through backward (open them in a browser);
//   3. the neuron's graph as Graphviz DOT, the path from o to w1 in red, rendered to PNG when graphviz is installed.
// Usage: graph [--out DIR]   (default out/graph)
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "../cli.hpp"

#include <chainrule/autograd.hpp>

using namespace chainrule;

namespace {
Tensor scalar(double v, const char* name) { return tensor(v, kFloat64).requires_grad_().label(name); }

// micrograd's neuron, traced; writes neuron.html and the DOT graph.
int neuron(const std::string& dir) {
  Tensor x1 = scalar(2, "x1"), x2 = scalar(0, "x2"), w1 = scalar(-3, "w1"), w2 = scalar(1, "w2");
  Tensor b = scalar(6.8813735870195432, "b");
  Tensor x1w1 = (x1 * w1).label("x1w1"), x2w2 = (x2 * w2).label("x2w2");
  Tensor x1w1x2w2 = (x1w1 + x2w2).label("x1w1x2w2");
  Tensor n = (x1w1x2w2 + b).label("n");
  Tensor o = tanh(n).label("o");
  for (Tensor* t : {&x1w1, &x2w2, &x1w1x2w2, &n, &o}) t->retain_grad();  // the graph shows every node's gradient

  ChainRuleTrace trace;
  o.backward(retain_graph);  // keep the graph so that it can be drawn with its gradients
  std::cout << trace << "\n";
  HtmlOptions page;
  page.title = "micrograd's neuron: o = tanh(x1·w1 + x2·w2 + b)";
  write_html(dir + "/neuron.html", trace, page);
  std::cout << "wrote " << dir << "/neuron.html (open it in a browser; arrow keys step through backward)\n";

  DotOptions opt;
  opt.highlight = w1;
  const std::string dot = dir + "/neuron.dot", png = dir + "/neuron.png";
  write_dot(dot, o, opt);
  std::cout << "wrote " << dot << "\n";
  if (!graphviz_available()) {
    std::cout << "graphviz is not installed (Debian: apt-get install graphviz); then: dot -Tpng " << dot << " -o "
              << png << "\n";
    return 0;
  }
  const std::string cmd = "dot -Tpng '" + dot + "' -o '" + png + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "graph: `" << cmd << "` failed\n";
    return 1;
  }
  std::cout << "wrote " << png << "\n";
  return 0;
}

// A 2-3-1 MLP on the four XOR points, one backward of its squared error: tensor nodes on the page.
void mlp(const std::string& dir) {
  Tensor x = tensor({{0.0, 0.0}, {0.0, 1.0}, {1.0, 0.0}, {1.0, 1.0}}, kFloat64).label("X");
  Tensor t = tensor({{0.0}, {1.0}, {1.0}, {0.0}}, kFloat64).label("target");
  Tensor w1 = tensor({{0.5, -0.8, 0.3}, {-0.4, 0.9, 0.7}}, kFloat64).requires_grad_().label("W1");
  Tensor b1 = tensor({0.1, -0.2, 0.05}, kFloat64).requires_grad_().label("b1");
  Tensor w2 = tensor({{1.2}, {-0.7}, {0.6}}, kFloat64).requires_grad_().label("W2");
  Tensor b2 = tensor({-0.1}, kFloat64).requires_grad_().label("b2");
  Tensor z1 = (matmul(x, w1) + b1).label("z1");
  Tensor h = tanh(z1).label("h");
  Tensor z2 = (matmul(h, w2) + b2).label("z2");
  Tensor y = sigmoid(z2).label("y");
  Tensor loss = mean(square(y - t)).label("loss");
  ChainRuleTrace trace;
  loss.backward();
  HtmlOptions page;
  page.title = "A 2-3-1 MLP on XOR: loss = mean((σ(tanh(X·W1 + b1)·W2 + b2) − target)²)";
  write_html(dir + "/mlp.html", trace, page);
  std::cout << "wrote " << dir << "/mlp.html (click a node to see its value and gradient in full)\n";
}
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("graph", "micrograd's neuron and a small MLP, traced, drawn and written as step-through web pages");
  std::string dir = "out/graph";
  cli.option("--out", dir, "output directory (created if missing)").show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  try {
    std::filesystem::create_directories(dir);
    const int status = neuron(dir);
    mlp(dir);
    return status;
  } catch (const std::exception& e) {
    std::cerr << "graph: " << e.what() << "\n";
    return 1;
  }
}
