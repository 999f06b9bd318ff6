// The chain rule, traced and drawn: micrograd's neuron o = tanh(x1·w1 + x2·w2 + b).
//   1. the chain-rule trace of backward, node by node (text; trace.markdown() gives Markdown with LaTeX);
//   2. the graph as Graphviz DOT, the path from o to w1 in red, rendered to PNG when graphviz is installed.
// Usage: graph [output directory, default .]
#include <cstdlib>
#include <iostream>
#include <string>

#include "autograd/autograd.hpp"

using namespace chainrule;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  auto scalar = [](double v, const char* name) { return tensor(v, kFloat64).requires_grad_().label(name); };
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

  DotOptions opt;
  opt.highlight = w1;
  const std::string dot = dir + "/neuron.dot", png = dir + "/neuron.png";
  write_dot(dot, o, opt);
  std::cout << "wrote " << dot << "\n";
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
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
}
