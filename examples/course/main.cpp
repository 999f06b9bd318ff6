// The course's worked examples, computed by chainrule and printed in the order and with the quantities the text
// uses. Where the text slips, the line says so and gives the corrected value (checked against torch float64).
//   build/examples/course
#include <cstdio>

#include "nn/nn.hpp"

using namespace chainrule;

namespace {
double at(const Tensor& t, std::size_t i, std::size_t j = 0) { return t.to(kFloat64).data<double>()(i, j); }
}  // namespace

int main() {
  std::printf("1. Perceptrons with a binary step: AND (bias -6) and OR (bias -4), weights 4 and 5\n");
  Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, kFloat64), w = tensor({{4}, {5}}, kFloat64);
  Tensor out_and = step(matmul(x, w) - 6.0), out_or = step(matmul(x, w) - 4.0);
  std::printf("   x1 x2 | AND OR\n");
  for (std::size_t i = 0; i < 4; ++i)
    std::printf("    %g  %g |  %g   %g\n", at(x, i, 0), at(x, i, 1), at(out_and, i), at(out_or, i));
  std::printf("   XOR (0 1 1 0) is not linearly separable: no single line splits it, so it needs a hidden layer.\n\n");

  std::printf("2. Identity activation, hidden values 5 and 1, actual value 13\n");
  Tensor h = tensor({{5, 1}}, kFloat64);
  for (auto [a, b] : {std::pair{2.0, -1.0}, std::pair{3.0, -2.0}}) {
    const double pred = matmul(h, tensor({{a}, {b}}, kFloat64)).item();
    std::printf("   weights (%g, %g): prediction %g, error = predicted - actual = %g\n", a, b, pred, pred - 13);
  }

  std::printf("\n3. Mean squared error\n   Prediction Actual Error Squared\n");
  Tensor pred = tensor({10, 8, 6}, kFloat64), actual = tensor({20, 3, 1}, kFloat64);
  Tensor err = pred - actual, sq = square(err);
  for (std::size_t i = 0; i < 3; ++i)
    std::printf("   %10g %6g %5g %7g\n", pred.data<double>()(i), actual.data<double>()(i), err.data<double>()(i),
                sq.data<double>()(i));
  std::printf("   total squared error = %g, mean squared error = %g\n\n", sum(sq).item(),
              nn::mse_loss(pred, actual).item());

  std::printf("4. One step of gradient descent: input 3, weight 2, prediction 6, actual 10, identity activation\n");
  Tensor wt = tensor(2.0, kFloat64).requires_grad_();
  Tensor loss = square(wt * 3.0 - 10.0);
  loss.backward();
  std::printf("   slope = 2 * error * input * 1 = 2 * (6 - 10) * 3 * 1 = %g\n", wt.grad().item());
  std::printf("   weight' = 2 - 0.01 * (%g) = %.2f\n\n", wt.grad().item(), wt.item() - 0.01 * wt.grad().item());

  std::printf("5. Backpropagation: inputs (0, 1), ReLU hidden nodes, W3..W6 = 0, 1, 2, 3, output weights 1, 2\n");
  Tensor in = tensor({{0, 1}}, kFloat64);
  Tensor wh = tensor({{0, 2}, {1, 3}}, kFloat64).requires_grad_();  // columns: hidden nodes; rows: inputs
  Tensor wo = tensor({{1}, {2}}, kFloat64).requires_grad_();
  Tensor hid = relu(matmul(in, wh));
  Tensor out = matmul(hid, wo);
  square(out - 4.0).backward();
  std::printf("   hidden = (%g, %g), prediction = %g, target 4, error 3\n", at(hid, 0, 0), at(hid, 0, 1), out.item());
  std::printf("   gradients of the output weights: %g, %g\n", at(wo.grad(), 0), at(wo.grad(), 1));
  std::printf("   gradients of W3, W4, W5, W6: %g, %g, %g, %g\n", at(wh.grad(), 0, 0), at(wh.grad(), 1, 0),
              at(wh.grad(), 0, 1), at(wh.grad(), 1, 1));
  std::printf("   (the text prints 18 for W6; its own formula gives 1*2*6*1 = 12)\n\n");

  std::printf("6. XOR network 2-2-1, sigmoid, no biases, input (0, 1), target 1, loss 1/2 (t - o)^2, eta 0.25\n");
  Tensor xi = tensor({{0, 1}}, kFloat64);
  Tensor w1 = tensor({{0.1, 0.5}, {-0.7, 0.3}}, kFloat64).requires_grad_();
  Tensor w2 = tensor({{0.2}, {0.4}}, kFloat64).requires_grad_();
  Tensor z1 = matmul(xi, w1);
  z1.retain_grad();
  Tensor h1 = sigmoid(z1), o = sigmoid(matmul(h1, w2));
  (0.5 * square(1.0 - o)).backward();
  const double oo = o.item();
  std::printf("   forward: h = (%.5f, %.5f), o = %.5f\n", at(h1, 0, 0), at(h1, 0, 1), oo);
  std::printf("   delta_out = (t - o) o (1 - o) = %.5f\n", (1 - oo) * oo * (1 - oo));
  std::printf("   hidden deltas = (%.7f, %.7f)   (the text prints 0.046 for the first; it is 0.0046259)\n",
              -at(z1.grad(), 0, 0), -at(z1.grad(), 0, 1));
  {
    NoGradGuard no_grad;
    w1.data<double>() -= 0.25 * w1.grad().data<double>();
    w2.data<double>() -= 0.25 * w2.grad().data<double>();
  }
  std::printf("   W2 -> (%.5f, %.5f)\n", at(w2, 0), at(w2, 1));
  std::printf("   W1[x2->h1] -> %.5f (the text prints -0.684 from its slipped delta), W1[x2->h2] -> %.5f\n", at(w1, 1, 0),
              at(w1, 1, 1));
  std::printf("   output after the update: %.5f\n\n", sigmoid(matmul(sigmoid(matmul(xi, w1)), w2)).item());

  std::printf("7. Parameters of a 784-16-16-10 network: %zu\n", nn::MLP({784, 16, 16, 10})->parameter_count());
  std::printf("   (the text writes ((784*16+16)*16+16)*10; the count is (784*16+16)+(16*16+16)+(16*10+10) = 13,002)\n");
}
