// Anomaly mode (teach/anomaly.hpp): the first op that makes a NaN or inf throws.
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

using namespace chainrule;
using test::count;
using test::flat;
using test::Neuron;
using test::scalar;
using test::shell;

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
