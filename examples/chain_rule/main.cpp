// The main demo: the chain rule at work on two small graphs, every forward value and every gradient printed.
//   1. the course's backpropagation example (ReLU hidden layer, squared error), and
//   2. micrograd's README expression.
#include <cstdio>

#include <chainrule/autograd.hpp>
#include "../cli.hpp"

using namespace chainrule;

namespace {
Tensor scalar(double v, const char* name) { return tensor(v, kFloat64).requires_grad_().label(name); }
void show(const Tensor& t) { std::printf("  %-5s = %9.4f   dL/d%-4s = %9.4f\n", t.label().c_str(), t.item(),
                                         t.label().c_str(), t.grad().defined() ? t.grad().item() : 0.0); }
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("chain_rule",
                    "The chain rule at work on two small graphs: every forward value and gradient printed");
  if (const int code = cli.parse(argc, argv); code >= 0) return code;

  std::printf("Backpropagation, the course's example: inputs (0, 1), hidden ReLU nodes, output weights 1 and 2\n");
  Tensor x1 = tensor(0.0, kFloat64), x2 = tensor(1.0, kFloat64);
  Tensor w3 = scalar(0, "w3"), w4 = scalar(1, "w4"), w5 = scalar(2, "w5"), w6 = scalar(3, "w6");
  Tensor v1 = scalar(1, "v1"), v2 = scalar(2, "v2");
  Tensor h1 = relu(w3 * x1 + w4 * x2).label("h1");
  Tensor h2 = relu(w5 * x1 + w6 * x2).label("h2");
  Tensor pred = (v1 * h1 + v2 * h2).label("pred");
  Tensor loss = square(pred - 4.0).label("L");
  h1.retain_grad(), h2.retain_grad(), pred.retain_grad();
  loss.backward();
  std::printf("  forward: h1 = %g, h2 = %g, prediction = %g, target = 4, L = (pred - target)^2 = %g\n", h1.item(),
              h2.item(), pred.item(), loss.item());
  std::printf("  backward: dL/dpred = 2(pred - target) = %g, then for each weight\n"
              "  dL/dv = h * dL/dpred,  dL/dw = input * v * dL/dpred * relu'(node):\n", pred.grad().item());
  for (const Tensor& t : {v1, v2, w3, w4, w5, w6}) show(t);
  std::printf("  (the course's table prints 18 for w6; its own formula gives 1*2*6*1 = 12, as above)\n\n");

  std::printf("micrograd's README expression, a = -4, b = 2:\n");
  Tensor a = scalar(-4, "a"), b = scalar(2, "b");
  Tensor c = a + b;
  Tensor d = a * b + pow(b, 3.0);
  c = c + (c + 1.0);
  c = c + (1.0 + c + (-a));
  d = d + (d * 2.0 + relu(b + a));
  d = d + (3.0 * d + relu(b - a));
  Tensor e = c - d;
  Tensor f = pow(e, 2.0);
  Tensor g = (f / 2.0 + 10.0 / f).label("g");
  g.backward();
  std::printf("  g = %.4f\n", g.item());
  for (const Tensor& t : {a, b}) show(t);
  std::printf("  (micrograd prints 24.7041, 138.8338, 645.5773)\n");
}
