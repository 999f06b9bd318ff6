// Linear and logistic regression as one-layer networks.
//   1. Multiple linear regression y = b + w·x on synthetic data: gradient descent on a Dense(3→1) layer (MSE,
//      full-batch SGD) reaches the least-squares solution of the normal equations XᵀX β = Xᵀy.
//   2. Logistic regression: Dense(2→1) with a sigmoid and binary cross-entropy separates two Gaussian clouds.
//   build/examples/regression
#include <cmath>
#include <cstdio>
#include <vector>

#include "../cli.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {
using Matrix = std::vector<std::vector<double>>;

// Solves A·b = c by Gaussian elimination with partial pivoting, then back substitution.
std::vector<double> solve(Matrix a, std::vector<double> c) {
  const std::size_t n = c.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t p = k;
    for (std::size_t i = k + 1; i < n; ++i)
      if (std::abs(a[i][k]) > std::abs(a[p][k])) p = i;
    std::swap(a[k], a[p]), std::swap(c[k], c[p]);
    for (std::size_t i = k + 1; i < n; ++i) {
      const double f = a[i][k] / a[k][k];
      for (std::size_t j = k; j < n; ++j) a[i][j] -= f * a[k][j];
      c[i] -= f * c[k];
    }
  }
  std::vector<double> b(n);
  for (std::size_t k = n; k-- > 0;) {
    double s = c[k];
    for (std::size_t j = k + 1; j < n; ++j) s -= a[k][j] * b[j];
    b[k] = s / a[k][k];
  }
  return b;
}

double at(const Tensor& t, std::size_t i, std::size_t j = 0) { return t.data<double>()(i, j); }
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("regression", "Linear and logistic regression as one-layer networks");
  std::uint64_t seed = 42;
  std::size_t epochs = 300;
  double lr = 0.1;
  cli.option("--seed", seed, "seed of the data and the initial weights").show_default();
  cli.option("--epochs", epochs, "gradient-descent epochs of the linear regression").range(1, 100000).show_default();
  cli.option("--lr", lr, "learning rate of the linear regression").positive().show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  manual_seed(seed);
  nn::Linear::Options f64;
  f64.dtype = kFloat64;

  // ---- 1. linear regression: y = 3 + 2·x1 − 1·x2 + 0.5·x3 + noise --------------------------------------------
  const std::size_t n = 200;
  Tensor x = randn({n, 3}, kFloat64);
  Tensor y = 3.0 + matmul(x, tensor({{2.0}, {-1.0}, {0.5}}, kFloat64)) + 0.3 * randn({n, 1}, kFloat64);

  // Least squares: with a column of ones for the intercept, X1 = [1 x], solve (X1ᵀX1) β = X1ᵀy.
  Tensor x1 = concat({ones({n, 1}, kFloat64), x}, 1);
  Tensor xtx = matmul(transpose(x1), x1), xty = matmul(transpose(x1), y);
  Matrix a(4, std::vector<double>(4));
  std::vector<double> c(4);
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 4; ++j) a[i][j] = at(xtx, i, j);
    c[i] = at(xty, i);
  }
  const std::vector<double> beta = solve(a, c);

  // Gradient descent: the same model as a Dense layer, loss = mean (ŷ − y)², every step on all n rows.
  nn::Model model;
  model.add(nn::make_dense(3, 1, "linear", f64));
  model.compile("sgd", "mse", {}, lr);
  nn::FitOptions fo;
  fo.epochs = epochs, fo.batch_size = n, fo.shuffle = false, fo.verbose = 0;
  nn::History h = model.fit(x, y, fo);
  auto& dense = model.net().at<nn::Dense>(0);
  const std::vector<double> gd = {dense.bias().data<double>()(0), at(dense.weight(), 0), at(dense.weight(), 1),
                                  at(dense.weight(), 2)};

  std::printf("1. Linear regression, %zu samples, y = 3 + 2 x1 - 1 x2 + 0.5 x3 + N(0, 0.3^2) noise\n", n);
  std::printf("   MSE during gradient descent (lr %g, full batch):", lr);
  for (std::size_t e : {std::size_t{1}, std::size_t{10}, std::size_t{30}, std::size_t{100}, epochs})
    if (e <= h["loss"].size()) std::printf("  epoch %zu: %.6f", e, h["loss"][e - 1]);
  std::printf("\n   %-26s %10s %10s %10s %10s\n", "", "b", "w1", "w2", "w3");
  std::printf("   %-26s %10.6f %10.6f %10.6f %10.6f\n", "normal equations", beta[0], beta[1], beta[2], beta[3]);
  std::printf("   %-26s %10.6f %10.6f %10.6f %10.6f\n", "gradient descent (Dense)", gd[0], gd[1], gd[2], gd[3]);
  double diff = 0;
  for (std::size_t i = 0; i < 4; ++i) diff = std::max(diff, std::abs(beta[i] - gd[i]));
  std::printf("   max |difference| = %.3g\n\n", diff);

  // ---- 2. logistic regression: class 1 around (1, 1), class 0 around (−1, −1), unit variance -------------------
  auto clouds = [](std::size_t m) {
    Tensor label = rand({m, 1}, kFloat64) > tensor(0.5, kFloat64);  // 1 or 0, half each
    Tensor points = randn({m, 2}, kFloat64) + (2.0 * label - 1.0) * tensor({{1.0, 1.0}}, kFloat64);
    return std::pair{points, label};
  };
  auto [x_train, y_train] = clouds(400);
  auto [x_test, y_test] = clouds(1000);
  nn::Model logistic;
  logistic.add(nn::make_dense(2, 1, "sigmoid", f64));  // p(class 1 | x) = σ(w·x + b)
  logistic.compile("sgd", "binary_crossentropy", {"accuracy"}, 0.5);
  fo.epochs = 100, fo.batch_size = 32, fo.shuffle = true;
  logistic.fit(x_train, y_train, fo);
  auto& unit = logistic.net().at<nn::Dense>(0);
  const double w1 = at(unit.weight(), 0), w2 = at(unit.weight(), 1), b = unit.bias().data<double>()(0);
  std::printf("2. Logistic regression, two Gaussian clouds centred at (1, 1) and (-1, -1)\n");
  std::printf("   p(class 1) = sigmoid(w1 x1 + w2 x2 + b), w1 = %.3f, w2 = %.3f, b = %.3f; p = 0.5 on the boundary\n",
              w1, w2, b);
  std::printf("   train accuracy %.3f, test accuracy %.3f (1000 new points); the best any rule can do here is %.3f\n",
              logistic.evaluate(x_train, y_train)["accuracy"], logistic.evaluate(x_test, y_test)["accuracy"],
              0.5 * std::erfc(-1.0));  // Phi(sqrt 2): the optimal boundary x1 + x2 = 0, distance sqrt 2 to each centre
}
