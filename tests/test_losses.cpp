// losses and penalties: hand-computed values (the course's tables), gradients by hand and by gradcheck (float64),
// fused forms against their composites, and the error messages.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>

#include <chainrule/nn.hpp>

using namespace chainrule;
using namespace chainrule::nn;

namespace {

using test::message;

Tensor vec(std::vector<double> v) { return tensor(v, kFloat64); }

// Seeded uniform values in [lo, hi).
Tensor uniform(const Shape& s, std::uint64_t seed, double lo, double hi) {
  manual_seed(seed);
  return rand(s, kFloat64, lo, hi);
}

void check_grad(const Function& f, const std::vector<Tensor>& in) {
  GradcheckResult r = gradcheck(f, in);
  INFO(r);
  CHECK(r);
}

}  // namespace

// ---- regression losses -------------------------------------------------------------------------------------------
TEST_CASE("losses: MSE on the course's table (total squared error 150, mean 50)") {
  Tensor pred = vec({10, 8, 6}).requires_grad_(), target = vec({20, 3, 1});
  Tensor loss = mse_loss(pred, target);
  CHECK(loss.item() == 50);
  CHECK(mse_loss(pred, target, Reduction::Sum).item() == 150);
  CHECK(mse_loss(pred, target, Reduction::None).data<double>() == Array<double>({100, 25, 25}));
  loss.backward();
  // ∂L/∂o = 2(o − t)/n
  CHECK(xt::allclose(pred.grad().data<double>(), Array<double>({-20.0 / 3, 10.0 / 3, 10.0 / 3}), 0, 1e-15));
}

TEST_CASE("losses: half_sse is ½Σ(t − o)², whose gradient is o − t") {
  Tensor pred = vec({10, 8, 6}).requires_grad_(), target = vec({20, 3, 1});
  Tensor loss = half_sse_loss(pred, target);
  CHECK(loss.item() == 75);
  loss.backward();
  CHECK(pred.grad().data<double>() == Array<double>({-10, 5, 5}));
  CHECK(half_sse_loss(pred, target, Reduction::Mean).item() == 25);
}

TEST_CASE("losses: L1 (MAE) is the mean absolute error") {
  Tensor pred = vec({10, 8, 6}).requires_grad_(), target = vec({20, 3, 1});
  Tensor loss = l1_loss(pred, target);
  CHECK(loss.item() == doctest::Approx(20.0 / 3).epsilon(1e-15));
  CHECK(l1_loss(pred, target, Reduction::Sum).item() == 20);
  loss.backward();
  CHECK(xt::allclose(pred.grad().data<double>(), Array<double>({-1.0 / 3, 1.0 / 3, 1.0 / 3}), 0, 1e-15));
}

TEST_CASE("losses: regression losses pass gradcheck in prediction and target") {
  const Tensor o = uniform({3, 4}, 1, -2, 2), t = uniform({3, 4}, 2, -2, 2);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    check_grad([r](auto& x) { return mse_loss(x[0], x[1], r); }, {o, t});
    check_grad([r](auto& x) { return half_sse_loss(x[0], x[1], r); }, {o, t});
    check_grad([r](auto& x) { return l1_loss(x[0], x[1], r); }, {o, t});
  }
}

TEST_CASE("losses: shape and dtype mismatches name the loss and both shapes") {
  CHECK(message([] { mse_loss(zeros({3, 1}), zeros({3})); }) ==
        "mse_loss: prediction [3,1] and target [3] differ in shape");
  CHECK(message([] { l1_loss(zeros({2}), zeros({2}, kFloat64)); }) ==
        "l1_loss: prediction is float32, target is float64");
  CHECK(message([] { binary_cross_entropy(zeros({4}), zeros({4, 1})); }) ==
        "binary_cross_entropy: probabilities [4] and target [4,1] differ in shape");
  CHECK(message([] { binary_cross_entropy_with_logits(zeros({2, 2}), zeros({2})); }) ==
        "binary_cross_entropy_with_logits: logits [2,2] and target [2] differ in shape");
}

// ---- binary cross-entropy ----------------------------------------------------------------------------------------
TEST_CASE("losses: binary cross-entropy equals −mean[t·ln p + (1 − t)·ln(1 − p)]") {
  Tensor p = vec({0.9, 0.2, 0.6}).requires_grad_(), t = vec({1, 0, 1});
  Tensor loss = binary_cross_entropy(p, t);
  CHECK(loss.item() == doctest::Approx(-(std::log(0.9) + std::log(0.8) + std::log(0.6)) / 3).epsilon(1e-15));
  loss.backward();
  // ∂L/∂p = (p − t)/(p(1 − p))/n
  const Array<double> expected = {(0.9 - 1) / (0.9 * 0.1) / 3, 0.2 / (0.2 * 0.8) / 3, (0.6 - 1) / (0.6 * 0.4) / 3};
  CHECK(xt::allclose(p.grad().data<double>(), expected, 0, 1e-14));
}

TEST_CASE("losses: binary cross-entropy clamps each log at −100, as torch") {
  Tensor p = vec({0, 1, 0, 1}).requires_grad_();
  Tensor loss = binary_cross_entropy(p, vec({1, 0, 0, 1}), Reduction::None);
  CHECK(std::as_const(loss).data<double>() == Array<double>({100, 100, 0, 0}));
  sum(loss).backward();
  CHECK(xt::all(xt::isfinite(p.grad().data<double>())));
  CHECK(p.grad().data<double>()(0) == -1e12);  // (p − t)/max(p(1 − p), 1e-12)
  CHECK(binary_cross_entropy(tensor({0.0f}), tensor({1.0f})).item() == 100);
  CHECK(message([] { binary_cross_entropy(vec({0.5, 1.5}), vec({1, 1})); }) ==
        "binary_cross_entropy: probabilities must lie in [0, 1], got 1.5 at element 1");
}

TEST_CASE("losses: fused binary cross-entropy equals its composite, value and gradient (float64)") {
  Tensor p1 = uniform({3, 4}, 3, 0.05, 0.95).requires_grad_(), p2 = p1.detach().requires_grad_();
  Tensor t1 = uniform({3, 4}, 4, 0, 1).requires_grad_(), t2 = t1.detach().requires_grad_();
  Tensor fused = binary_cross_entropy(p1, t1, Reduction::Sum);
  Tensor comp = -sum(t2 * log(p2) + (1.0 - t2) * log(1.0 - p2));
  CHECK(fused.item() == doctest::Approx(comp.item()).epsilon(1e-13));
  fused.backward();
  comp.backward();
  CHECK(xt::allclose(p1.grad().data<double>(), p2.grad().data<double>(), 1e-12, 1e-12));
  CHECK(xt::allclose(t1.grad().data<double>(), t2.grad().data<double>(), 1e-12, 1e-12));
  check_grad([](auto& x) { return binary_cross_entropy(x[0], x[1]); }, {p1, t1});
}

TEST_CASE("losses: BCE with logits is stable and equals BCE of the sigmoid") {
  Tensor z = vec({0, 2, -3, 0.5}), t = vec({1, 0, 1, 0.3});
  Tensor a = binary_cross_entropy_with_logits(z, t, Reduction::None);
  Tensor b = binary_cross_entropy(sigmoid(z), t, Reduction::None);
  CHECK(xt::allclose(a.data<double>(), b.data<double>(), 1e-13, 1e-15));
  CHECK(a.data<double>()(0) == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  // Logits of ±1e4 in float32: no overflow, exact limits.
  Tensor big = binary_cross_entropy_with_logits(tensor({1e4, -1e4, 1e4}), tensor({0.0, 0.0, 1.0}), Reduction::None);
  CHECK(big.data<float>() == Array<float>({1e4f, 0, 0}));
}

TEST_CASE("losses: BCE with logits has gradient σ(z) − t, also at z = 0") {
  Tensor z = vec({0, 0, 1.5, -2}).requires_grad_(), t = vec({1, 0, 0.25, 1});
  binary_cross_entropy_with_logits(z, t, Reduction::Sum).backward();
  auto s = [](double v) { return 1 / (1 + std::exp(-v)); };
  CHECK(xt::allclose(z.grad().data<double>(), Array<double>({-0.5, 0.5, s(1.5) - 0.25, s(-2) - 1}), 0, 1e-15));
  // The composite max(z,0) − z·t + ln(1+e^(−|z|)) agrees away from 0.
  Tensor z1 = uniform({3, 4}, 5, -3, 3).requires_grad_(), z2 = z1.detach().requires_grad_();
  Tensor tt = uniform({3, 4}, 6, 0, 1);
  binary_cross_entropy_with_logits(z1, tt).backward();
  mean(relu(z2) - z2 * tt + log(1.0 + exp(-abs(z2)))).backward();
  CHECK(xt::allclose(z1.grad().data<double>(), z2.grad().data<double>(), 1e-12, 1e-12));
  check_grad([](auto& x) { return binary_cross_entropy_with_logits(x[0], x[1]); }, {z1, tt.requires_grad_()});
}

// ---- cross-entropy -----------------------------------------------------------------------------------------------
TEST_CASE("losses: cross-entropy is the log-sum-exp minus the true logit") {
  Tensor z = tensor({{1.0, 2.0, 3.0}, {1.0, 0.0, -1.0}}, kFloat64).requires_grad_();
  const double l0 = std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3;
  const double l1 = std::log(std::exp(1) + std::exp(0) + std::exp(-1)) - 1;
  Tensor loss = cross_entropy(z, {2, 0});
  CHECK(loss.item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-15));
  CHECK(cross_entropy(z, {2, 0}, Reduction::Sum).item() == doctest::Approx(l0 + l1).epsilon(1e-15));
  CHECK(xt::allclose(cross_entropy(z, {2, 0}, Reduction::None).data<double>(), Array<double>({l0, l1}), 0, 1e-15));
  loss.backward();
  // The course: ∂CE/∂z = softmax(z) − y, here averaged over the N = 2 rows.
  Array<double> expected = xt::exp(z.data<double>());
  for (std::size_t i = 0; i < 2; ++i) {
    const double s = expected(i, 0) + expected(i, 1) + expected(i, 2);
    for (std::size_t c = 0; c < 3; ++c) expected(i, c) /= s;
  }
  expected(0, 2) -= 1;
  expected(1, 0) -= 1;
  expected /= 2.0;
  CHECK(xt::allclose(z.grad().data<double>(), expected, 0, 1e-15));
}

TEST_CASE("losses: cross-entropy takes labels, index tensors, one-hot and soft targets alike") {
  const Tensor z = uniform({4, 3}, 7, -2, 2);
  const std::vector<std::size_t> labels = {2, 0, 1, 1};
  const Tensor index = vec({2, 0, 1, 1});
  const Tensor onehot = tensor({{0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 1.0, 0.0}}, kFloat64);
  const double a = cross_entropy(z, labels).item();
  CHECK(cross_entropy(z, index).item() == doctest::Approx(a).epsilon(1e-15));
  CHECK(cross_entropy(z, onehot).item() == doctest::Approx(a).epsilon(1e-15));
  // Soft targets: ℓᵢ = −Σ_c t_ic·log_softmax(zᵢ)_c
  const Tensor soft = tensor({{0.2, 0.3, 0.5}, {1.0, 0.0, 0.0}, {0.0, 0.6, 0.4}, {0.1, 0.1, 0.8}}, kFloat64);
  const Array<double> ls = log_softmax(z).data<double>();
  double hand = 0;
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t c = 0; c < 3; ++c) hand -= soft.data<double>()(i, c) * ls(i, c);
  CHECK(cross_entropy(z, soft, Reduction::Sum).item() == doctest::Approx(hand).epsilon(1e-14));
  check_grad([&](auto& x) { return cross_entropy(x[0], labels); }, {z});
  check_grad([](auto& x) { return cross_entropy(x[0], x[1], Reduction::Sum); }, {z, soft});  // ∂ targets too
  check_grad([](auto& x) { return cross_entropy(x[0], x[1], Reduction::None); }, {z, soft});
}

TEST_CASE("losses: cross-entropy stays finite for logits of ±1e4 (float32)") {
  Tensor z = tensor({{1e4, -1e4, 0.0}, {-1e4, -1e4, -1e4}}).requires_grad_();
  Tensor loss = cross_entropy(z, {1, 2}, Reduction::None);
  CHECK(std::as_const(loss).data<float>()(0) == 2e4f);
  CHECK(std::as_const(loss).data<float>()(1) == doctest::Approx(std::log(3.0)));
  sum(loss).backward();
  CHECK(xt::all(xt::isfinite(z.grad().data<float>())));
}

TEST_CASE("losses: cross-entropy errors name the label, row and classes") {
  const Tensor z = zeros({4, 5});
  CHECK(message([&] { cross_entropy(z, {0, 1, 7, 2}); }) ==
        "cross_entropy: label 7 at row 2 is out of range for C = 5 classes");
  CHECK(message([&] { cross_entropy(z, tensor({0.0, 1.0, 2.0, 5.0})); }) ==
        "cross_entropy: label 5 at row 3 is out of range for C = 5 classes");
  // the label as given, not capped at C (a cap once made both of these "label 5")
  CHECK(message([&] { cross_entropy(z, tensor({0.0, 1.0, 9.0, 2.0})); }) ==
        "cross_entropy: label 9 at row 2 is out of range for C = 5 classes");
  CHECK(message([&] { cross_entropy(z, tensor({0.0, 1e20, 2.0, 3.0})); }) ==
        "cross_entropy: label 1e+20 at row 1 is out of range for C = 5 classes");
  CHECK(message([&] { loss_by_name("sparse_categorical_crossentropy")(z, tensor({{7.0}, {0.0}, {0.0}, {0.0}})); }) ==
        "cross_entropy: label 7 at row 0 is out of range for C = 5 classes");
  CHECK(message([&] { cross_entropy(z, tensor({0.0, 1.5, 2.0, 3.0})); }) ==
        "cross_entropy: target 1.5 at row 1 is not a class index (an integer in [0, 5))");
  CHECK(message([&] { cross_entropy(z, tensor({0.0, -1.0, 2.0, 3.0})); }) ==
        "cross_entropy: target -1 at row 1 is not a class index (an integer in [0, 5))");
  CHECK(message([&] { cross_entropy(z, {0, 1}); }) ==
        "cross_entropy: 2 labels for logits [4,5] (one per row expected)");
  CHECK(message([&] { cross_entropy(z, zeros({4, 2})); }) ==
        "cross_entropy: targets [4,2] fit neither logits [4,5] (probabilities) nor [4] (class indices)");
  CHECK(message([] { cross_entropy(zeros({5}), std::vector<std::size_t>{1}); }) ==
        "cross_entropy: logits must be [N,C], got [5]");
}

TEST_CASE("losses: loss_by_name maps Keras names onto the losses") {
  const Tensor o = uniform({4, 3}, 8, 0.1, 0.9), t = uniform({4, 3}, 9, 0.1, 0.9);
  const Tensor onehot = tensor({{0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 1.0, 0.0}}, kFloat64);
  const Tensor index = vec({2, 0, 1, 1});
  CHECK(loss_by_name("mean_squared_error")(o, t).item() == mse_loss(o, t).item());
  CHECK(loss_by_name("MSE")(o, t).item() == mse_loss(o, t).item());
  CHECK(loss_by_name("mean_absolute_error")(o, t).item() == l1_loss(o, t).item());
  CHECK(loss_by_name("mae")(o, t).item() == l1_loss(o, t).item());
  CHECK(loss_by_name("binary_crossentropy")(o, t).item() == binary_cross_entropy(o, t).item());
  const double ce = cross_entropy(o, onehot).item();
  CHECK(loss_by_name("categorical_crossentropy")(o, onehot).item() == ce);
  CHECK(loss_by_name("sparse_categorical_crossentropy")(o, index).item() == ce);
  CHECK(loss_by_name("sparse_categorical_crossentropy")(o, reshape(index, {4, 1})).item() == ce);
  CHECK(message([&] { loss_by_name("categorical_crossentropy")(o, index); }) ==
        "categorical_crossentropy: targets must be one-hot like the logits [4,3], got [4] "
        "(use sparse_categorical_crossentropy for class indices)");
  CHECK(message([&] { loss_by_name("sparse_categorical_crossentropy")(o, onehot); }) ==
        "sparse_categorical_crossentropy: targets must be class indices [N] or [N,1], got [4,3] "
        "(use categorical_crossentropy for one-hot targets)");
  CHECK(message([] { loss_by_name("hinge"); }) ==
        "loss_by_name: unknown loss 'hinge'; valid names: mean_squared_error, mse, mean_absolute_error, mae, "
        "binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy");
}

// ---- penalties ---------------------------------------------------------------------------------------------------
namespace {
// Linear(2→2) → BatchNorm1d(2) → Linear(2→1), float64, with hand-picked values:
// W1 = [[1,−2],[3,−4]], b1 = [0.5,−0.5], W2 = [[2],[−1]], b2 = [0.25]; BatchNorm's γ = 1, β = 0 are never penalized.
std::shared_ptr<Sequential> tiny_net() {
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(2, 2, Linear::Options{kFloat64}), std::make_shared<BatchNorm1d>(2, BatchNorm1d::Options{kFloat64}),
      std::make_shared<Linear>(2, 1, Linear::Options{kFloat64})});
  auto set = [](Tensor t, Array<double> v) { t.data<double>() = std::move(v); };
  set(net->at<Linear>(0).weight(), {{1, -2}, {3, -4}});
  set(net->at<Linear>(0).bias(), {0.5, -0.5});
  set(net->at<Linear>(2).weight(), tensor({{2.0}, {-1.0}}, kFloat64).data<double>());
  set(net->at<Linear>(2).bias(), {0.25});
  return net;
}
}  // namespace

TEST_CASE("losses: penalties select the weight matrices (biases on request, never BatchNorm's)") {
  auto net = tiny_net();
  auto ws = penalized_parameters(*net);
  REQUIRE(ws.size() == 2);
  CHECK(ws[0].same(net->at<Linear>(0).weight()));
  CHECK(ws[1].same(net->at<Linear>(2).weight()));
  auto wb = penalized_parameters(*net, {true});
  REQUIRE(wb.size() == 4);
  CHECK(wb[1].same(net->at<Linear>(0).bias()));
  CHECK(wb[3].same(net->at<Linear>(2).bias()));
}

TEST_CASE("losses: L1, L2 and ElasticNet penalties equal the course's sums") {
  auto net = tiny_net();
  // n = 6 weights: Σ|w| = 1+2+3+4+2+1 = 13, Σw² = 1+4+9+16+4+1 = 35
  CHECK(l1_penalty(*net).item() == doctest::Approx(13.0 / 6).epsilon(1e-15));
  CHECK(l2_penalty(*net).item() == doctest::Approx(35.0 / 12).epsilon(1e-15));
  CHECK(elastic_net_penalty(*net, 0.3).item() == doctest::Approx(0.3 * 13.0 / 6 + 0.7 * 35.0 / 12).epsilon(1e-15));
  // with biases, n = 9: Σ|·| = 13 + 0.5 + 0.5 + 0.25, Σ(·)² = 35 + 0.25 + 0.25 + 0.0625
  CHECK(l1_penalty(*net, {true}).item() == doctest::Approx(14.25 / 9).epsilon(1e-15));
  CHECK(l2_penalty(*net, {true}).item() == doctest::Approx(35.5625 / 18).epsilon(1e-15));
  CHECK(Penalty::l1(0.1)(*net).item() == doctest::Approx(0.1 * 13.0 / 6).epsilon(1e-15));
  CHECK(Penalty::l2(0.1)(*net).item() == doctest::Approx(0.1 * 35.0 / 12).epsilon(1e-15));
  CHECK(Penalty::elastic_net(0.1, 1)(*net).item() == doctest::Approx(0.1 * 13.0 / 6).epsilon(1e-15));
  Penalty p = Penalty::l2(0.5);
  p.include_bias = true;
  CHECK(p(*net).item() == doctest::Approx(0.5 * 35.5625 / 18).epsilon(1e-15));
  // Nothing to penalize: a zero of the module's dtype.
  BatchNorm1d bn(2, {kFloat64});
  CHECK(l2_penalty(bn).item() == 0);
  CHECK(l2_penalty(bn).dtype() == kFloat64);
}

TEST_CASE("losses: F = loss + α·C sends α·∂C/∂w into the weights and nothing into BatchNorm") {
  auto net = tiny_net();
  Tensor x = tensor({{1.0, 2.0}, {3.0, -1.0}, {0.5, 0.5}}, kFloat64);
  Tensor y = vec({1, 0, 2});
  Tensor data_loss = mse_loss(reshape((*net)(x), {-1}), y);
  data_loss.backward();
  std::vector<Array<double>> data_grads;
  for (const auto& t : net->parameters()) data_grads.push_back(t.grad().data<double>());
  net->zero_grad();
  Tensor f = mse_loss(reshape((*net)(x), {-1}), y) + Penalty::l2(0.3)(*net) + Penalty::l1(0.2)(*net);
  f.backward();
  const auto params = net->parameters();  // W1 b1 γ β W2 b2
  const Array<double>& w1 = params[0].data<double>();
  // ∂(α·L2)/∂w = α·w/n,  ∂(α·L1)/∂w = α·sign(w)/n,  n = 6
  Array<double> expected = data_grads[0] + 0.3 * w1 / 6.0 + 0.2 * xt::sign(w1) / 6.0;
  CHECK(xt::allclose(params[0].grad().data<double>(), expected, 0, 1e-14));
  CHECK(xt::allclose(params[1].grad().data<double>(), data_grads[1], 0, 1e-14));  // bias: not penalized
  CHECK(xt::allclose(params[2].grad().data<double>(), data_grads[2], 0, 1e-14));  // γ: not penalized
}

TEST_CASE("losses: penalties pass gradcheck (float64)") {
  const Tensor a = uniform({3, 4}, 10, -2, 2), b = uniform({4}, 11, -2, 2);
  for (auto& v : const_cast<Tensor&>(a).data<double>()) v += v < 0 ? -0.1 : 0.1;  // away from |w|'s kink
  check_grad([](auto& x) { return l1_penalty(std::vector<Tensor>{x[0], x[1]}); }, {a, b});
  check_grad([](auto& x) { return l2_penalty(std::vector<Tensor>{x[0], x[1]}); }, {a, b});
  check_grad([](auto& x) { return elastic_net_penalty(std::vector<Tensor>{x[0], x[1]}, 0.7); }, {a, b});
}

TEST_CASE("losses: bad penalty settings are named with their value") {
  auto net = tiny_net();
  CHECK(message([&] { Penalty::l2(-0.1)(*net); }) == "Penalty: alpha must be a finite number >= 0, got -0.1");
  CHECK(message([&] { Penalty::elastic_net(0.1, 1.5)(*net); }) == "Penalty: r must be in [0, 1], got 1.5");
  CHECK(message([&] { elastic_net_penalty(*net, -0.2); }) == "elastic_net_penalty: r must be in [0, 1], got -0.2");
}
