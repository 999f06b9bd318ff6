// Golden values: micrograd's README expression and the course's worked examples (shared/reference), with the
// reference numbers from torch 1.13 in float64 (tests/reference/generate_reference.py → course_examples.json).
#include <doctest/doctest.h>

#include <chainrule/autograd.hpp>

using namespace chainrule;

TEST_CASE("golden: micrograd's README expression (a = -4, b = 2)") {
  Tensor a = tensor(-4.0, kFloat64).requires_grad_(), b = tensor(2.0, kFloat64).requires_grad_();
  Tensor c = a + b;
  Tensor d = a * b + pow(b, 3.0);
  c = c + (c + 1.0);
  c = c + (1.0 + c + (-a));
  d = d + (d * 2.0 + relu(b + a));
  d = d + (3.0 * d + relu(b - a));
  Tensor e = c - d;
  Tensor f = pow(e, 2.0);
  Tensor g = f / 2.0;
  g = g + 10.0 / f;
  g.backward();
  // torch float64: 24.70408163265306, 138.83381924198252, 645.5772594752186 (micrograd prints 24.7041, ...)
  CHECK(g.item() == doctest::Approx(24.70408163265306).epsilon(1e-14));
  CHECK(a.grad().item() == doctest::Approx(138.83381924198252).epsilon(1e-14));
  CHECK(b.grad().item() == doctest::Approx(645.5772594752186).epsilon(1e-14));
}

TEST_CASE("golden: the course's backpropagation example (ReLU hidden layer, squared error)") {
  // Inputs (0, 1); W3, W4 feed hidden node 1 from inputs 1 and 2, W5, W6 feed hidden node 2; output weights 1, 2.
  Tensor x1 = tensor(0.0, kFloat64), x2 = tensor(1.0, kFloat64);
  Tensor w3 = tensor(0.0, kFloat64).requires_grad_(), w4 = tensor(1.0, kFloat64).requires_grad_();
  Tensor w5 = tensor(2.0, kFloat64).requires_grad_(), w6 = tensor(3.0, kFloat64).requires_grad_();
  Tensor v1 = tensor(1.0, kFloat64).requires_grad_(), v2 = tensor(2.0, kFloat64).requires_grad_();
  Tensor h1 = relu(w3 * x1 + w4 * x2), h2 = relu(w5 * x1 + w6 * x2);
  Tensor pred = v1 * h1 + v2 * h2;
  Tensor loss = square(pred - 4.0);
  loss.backward();
  CHECK(h1.item() == 1);
  CHECK(h2.item() == 3);
  CHECK(pred.item() == 7);
  CHECK(v1.grad().item() == 6);   // 2·(7−4)·h1
  CHECK(v2.grad().item() == 18);  // 2·(7−4)·h2
  CHECK(w3.grad().item() == 0);   // input 1 is 0
  CHECK(w4.grad().item() == 6);   // 1·1·6·1
  CHECK(w5.grad().item() == 0);
  // NOTE: the course's table prints 18 for W6, but its own formula gives input·weight·slope·relu' = 1·2·6·1 = 12,
  // and torch agrees (course_examples.json): a slip in the text.
  CHECK(w6.grad().item() == 12);
}

TEST_CASE("golden: the course's XOR step (2-2-1 sigmoid, ½(t−o)², η = 0.25) with matrices") {
  Tensor x = tensor({{0.0, 1.0}}, kFloat64);
  Tensor w1 = tensor({{0.1, 0.5}, {-0.7, 0.3}}, kFloat64).requires_grad_();  // rows x1, x2; columns h1, h2
  Tensor w2 = tensor({{0.2}, {0.4}}, kFloat64).requires_grad_();
  Tensor h = sigmoid(matmul(x, w1));
  h.retain_grad();
  Tensor o = sigmoid(matmul(h, w2));
  Tensor loss = 0.5 * square(1.0 - o);
  loss.backward();
  CHECK(h.data<double>()(0, 0) == doctest::Approx(0.3318122278318339).epsilon(1e-14));
  CHECK(h.data<double>()(0, 1) == doctest::Approx(0.574442516811659).epsilon(1e-14));
  CHECK(o.item() == doctest::Approx(0.5734985037100979).epsilon(1e-14));
  // δ_out = (t−o)·o(1−o); the hidden deltas are δ_out·W2·h(1−h).
  const double delta_out = 0.10432140017416118;
  CHECK(-w2.grad().data<double>()(0, 0) == doctest::Approx(delta_out * 0.3318122278318339).epsilon(1e-13));
  // NOTE: the text prints 0.046 for the first hidden delta; it is 0.0046259 (torch agrees), and so W1[x2→h1]
  // becomes −0.69884, not −0.684.
  CHECK(-w1.grad().data<double>()(1, 0) == doctest::Approx(0.004625879475714705).epsilon(1e-13));
  CHECK(-w1.grad().data<double>()(1, 1) == doctest::Approx(0.010200893343916051).epsilon(1e-13));
  CHECK(w1.grad().data<double>()(0, 0) == 0);  // input x1 = 0
  // One gradient-descent step w ← w − η·∂L/∂w, then the forward pass again.
  w1.data<double>() -= 0.25 * w1.grad().data<double>();
  w2.data<double>() -= 0.25 * w2.grad().data<double>();
  CHECK(w1.data<double>()(1, 0) == doctest::Approx(-0.6988435301310713).epsilon(1e-14));
  CHECK(w1.data<double>()(1, 1) == doctest::Approx(0.302550223335979).epsilon(1e-14));
  CHECK(w2.data<double>()(0, 0) == doctest::Approx(0.2086537790505812).epsilon(1e-14));
  CHECK(w2.data<double>()(1, 0) == doctest::Approx(0.41498166191834035).epsilon(1e-14));
  Tensor o2 = sigmoid(matmul(sigmoid(matmul(x, w1)), w2));
  CHECK(o2.item() == doctest::Approx(0.5763797112128531).epsilon(1e-14));
}

TEST_CASE("golden: one gradient-descent step w = 2 − 0.01·(−24) = 2.24") {
  // Slope of the course's example: loss (w·x − t)² with x = 3, t = 10, w = 2 → 2·(6−10)·3 = −24.
  Tensor w = tensor(2.0, kFloat64).requires_grad_();
  square(w * 3.0 - 10.0).backward();
  CHECK(w.grad().item() == -24);
  CHECK(w.item() - 0.01 * w.grad().item() == doctest::Approx(2.24).epsilon(1e-15));
}
