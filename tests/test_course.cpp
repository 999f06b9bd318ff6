// The course's worked examples that need nn and optim (the engine-only ones are in test_golden.cpp), and
// convergence: XOR with each of the seven optimizers, linear regression to the least-squares solution.
#include <doctest/doctest.h>

#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;

TEST_CASE("course: the AND and OR perceptrons (binary step, bias −6 / −4, weights 4 and 5)") {
  // AND: 4·x1 + 5·x2 − 6 ≥ 0 only when both inputs are 1. OR with bias −4: when either is.
  Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, kFloat64);
  Tensor w = tensor({{4}, {5}}, kFloat64);
  Tensor out_and = step(matmul(x, w) - 6.0), out_or = step(matmul(x, w) - 4.0);
  auto values = [](const Tensor& t) { return std::vector<double>(t.data<double>().begin(), t.data<double>().end()); };
  CHECK(values(out_and) == std::vector<double>{0, 0, 0, 1});
  CHECK(values(out_or) == std::vector<double>{0, 1, 1, 1});
}

TEST_CASE("course: XOR is not linearly separable: no perceptron in a fine grid solves it") {
  // Every step(w1·x1 + w2·x2 + b) with w, b on a grid over [−5, 5] gets at least one of the four cases wrong.
  const double xs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, t[4] = {0, 1, 1, 0};
  int solved = 0;
  for (double w1 = -5; w1 <= 5; w1 += 0.5)
    for (double w2 = -5; w2 <= 5; w2 += 0.5)
      for (double b = -5; b <= 5; b += 0.5) {
        int right = 0;
        for (int i = 0; i < 4; ++i) right += ((w1 * xs[i][0] + w2 * xs[i][1] + b >= 0) ? 1.0 : 0.0) == t[i];
        solved += right == 4;
      }
  CHECK(solved == 0);
}

TEST_CASE("course: identity activation, hidden values 5 and 1, target 13") {
  Tensor h = tensor({{5, 1}}, kFloat64);
  CHECK(matmul(h, tensor({{2}, {-1}}, kFloat64)).item() - 13 == -4);  // weights (2, −1): error −4
  CHECK(matmul(h, tensor({{3}, {-2}}, kFloat64)).item() - 13 == 0);   // weights (3, −2): error 0
}

TEST_CASE("course: the MSE table (predictions 10, 8, 6 vs 20, 3, 1)") {
  Tensor pred = tensor({10, 8, 6}, kFloat64), actual = tensor({20, 3, 1}, kFloat64);
  CHECK(nn::mse_loss(pred, actual, nn::Reduction::Sum).item() == 150);
  CHECK(nn::mse_loss(pred, actual).item() == 50);
}

TEST_CASE("course: 784-16-16-10 has 13,002 weights and biases") {
  // The text writes ((784*16+16)*16+16)*10 = 13.002, a slip in the formula: the count is
  // (784·16 + 16) + (16·16 + 16) + (16·10 + 10) = 12560 + 272 + 170 = 13,002.
  CHECK(nn::MLP({784, 16, 16, 10})->parameter_count() == 13002);
}

namespace {
// Trains a 2-4-1 sigmoid net on XOR with the named optimizer (full batch, MSE); returns the four outputs.
std::vector<double> train_xor(const std::string& optimizer, double lr, int steps) {
  manual_seed(7);
  nn::Linear::Options o;
  o.dtype = kFloat64;
  nn::Sequential net({std::make_shared<nn::Linear>(2, 4, o), std::make_shared<nn::Tanh>(),
                      std::make_shared<nn::Linear>(4, 1, o), std::make_shared<nn::Sigmoid>()});
  auto opt = optim::make_optimizer(optimizer, net.parameters(), lr);
  Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, kFloat64), t = tensor({{0}, {1}, {1}, {0}}, kFloat64);
  for (int i = 0; i < steps; ++i) {
    opt->zero_grad();
    nn::mse_loss(net(x), t).backward();
    opt->step();
  }
  Tensor y = net(x);
  return {y.data<double>().begin(), y.data<double>().end()};
}
}  // namespace

TEST_CASE("course: a 2-4-1 net learns XOR with each of the seven optimizers") {
  const std::vector<std::pair<std::string, double>> cases = {
      {"sgd", 2.0}, {"momentum", 0.5}, {"nag", 0.5}, {"adagrad", 0.3}, {"adadelta", 1.0}, {"rmsprop", 0.01},
      {"adam", 0.05}};
  for (const auto& [name, lr] : cases) {
    const auto y = train_xor(name, lr, 2000);
    INFO(name, ": outputs ", y[0], " ", y[1], " ", y[2], " ", y[3]);
    CHECK(y[0] < 0.5);
    CHECK(y[1] > 0.5);
    CHECK(y[2] > 0.5);
    CHECK(y[3] < 0.5);
  }
}
