// nn: initializers, layers, activation modules. Every module is gradchecked in float64 with respect to its input
// (chainrule::gradcheck) and its parameters (check_parameter_gradients below: gradcheck copies its inputs, so it
// cannot perturb a module's own parameter tensors).
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <sstream>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/activations.hpp>
#include <chainrule/nn/init.hpp>
#include <chainrule/nn/layers.hpp>

using namespace chainrule;
using namespace chainrule::nn;

namespace {

using test::message;

// Seeded values in [-2, 2], kept ≥ 0.1 away from the kinks at 0 and ±1 (relu, step, piecewise_linear).
Tensor input(const Shape& s, std::uint64_t seed) {
  manual_seed(seed);
  Tensor t = rand(s, kFloat64, -2, 2);
  for (auto& v : t.data<double>()) {
    if (std::abs(v) < 0.1) v += v < 0 ? -0.1 : 0.1;
    if (std::abs(std::abs(v) - 1) < 0.1) v += v < 0 ? -0.2 : 0.2;
  }
  return t;
}

// Central differences of L = Σ w ⊙ m(x) (fixed random w) for every parameter element, perturbed in place, against
// backward's gradient: |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric| (gradcheck's rule and tolerances).
void check_parameter_gradients(Module& m, const Tensor& x) {
  if (m.parameters().empty()) return;
  manual_seed(99);
  m.zero_grad();
  Tensor y = m(x);
  const Tensor w = randn(y.shape(), kFloat64);
  sum(y * w).backward();
  auto loss = [&] {
    NoGradGuard no_grad;
    return sum(m(x) * w).item();
  };
  const double eps = 1e-6;
  for (auto& [name, p] : m.named_parameters()) {
    REQUIRE(p.grad().defined());
    Array<double>& v = p.data<double>();
    const Array<double> analytic = p.grad().data<double>();
    for (std::size_t e = 0; e < v.size(); ++e) {
      const double keep = v.data()[e];
      v.data()[e] = keep + eps;
      const double up = loss();
      v.data()[e] = keep - eps;
      const double down = loss();
      v.data()[e] = keep;
      const double numeric = (up - down) / (2 * eps);
      INFO(m.name(), " parameter ", name, " element ", e, ": analytic ", analytic.data()[e], " numeric ", numeric);
      CHECK(std::abs(analytic.data()[e] - numeric) <= 1e-5 + 1e-3 * std::abs(numeric));
    }
  }
}

// The module's gradient with respect to its input and to each of its parameters.
void check_module(Module& m, const Tensor& x) {
  GradcheckResult r = gradcheck([&](const std::vector<Tensor>& v) { return m(v[0]); }, {x});
  INFO(m.name(), ": ", r);
  CHECK(r);
  check_parameter_gradients(m, x);
}

double mean_of(const Array<double>& a) { return xt::mean(a)(); }
double std_of(const Array<double>& a) { return std::sqrt(xt::mean(xt::square(a - mean_of(a)))()); }

const Linear::Options f64{kFloat64};

}  // namespace

// ---- init --------------------------------------------------------------------------------------------------------
TEST_CASE("nn: fans follow Keras ([in,out] weights, 1-D, receptive field)") {
  CHECK(init::fans({3, 4}) == std::pair<double, double>(3, 4));
  CHECK(init::fans({5}) == std::pair<double, double>(5, 5));
  CHECK(init::fans({2, 3, 4, 5}) == std::pair<double, double>(4 * 6, 5 * 6));
}

TEST_CASE("nn: initializers respect their bounds and fill in place") {
  Tensor w = zeros({300, 200}, kFloat64);
  const Tensor same = init::xavier_uniform_(w);
  CHECK(same.same(w));
  const double glorot = std::sqrt(6.0 / 500);
  CHECK(xt::amax(xt::abs(w.data<double>()))() <= glorot);
  CHECK(xt::amax(xt::abs(w.data<double>()))() > 0.99 * glorot);  // the whole range is used
  init::kaiming_uniform_(w);
  CHECK(xt::amax(xt::abs(w.data<double>()))() <= std::sqrt(6.0 / 300));
  init::uniform_(w, 2, 3);
  CHECK(xt::amin(w.data<double>())() >= 2);
  CHECK(xt::amax(w.data<double>())() < 3);
  init::constant_(w, 0.25);
  CHECK(xt::all(xt::equal(w.data<double>(), 0.25)));
  init::zeros_(w);
  CHECK(xt::all(xt::equal(w.data<double>(), 0.0)));
  Tensor f = init::ones_(zeros({2, 2}));
  CHECK(f.data<float>() == Array<float>({{1, 1}, {1, 1}}));
}

TEST_CASE("nn: initializer statistics match their distributions (240,000 samples)") {
  // Standard error of a sample mean is σ/√n ≈ 0.002σ, of a sample std ≈ σ/√(2n) ≈ 0.0015σ: 2% is > 10 errors.
  Tensor w = zeros({400, 600}, kFloat64);
  manual_seed(1);
  SUBCASE("xavier_normal: N(0, 2/(in+out))") {
    init::xavier_normal_(w);
    const double s = std::sqrt(2.0 / 1000);
    CHECK(std::abs(mean_of(w.data<double>())) < 0.01 * s);
    CHECK(std_of(w.data<double>()) == doctest::Approx(s).epsilon(0.02));
  }
  SUBCASE("kaiming_normal: N(0, 2/fan_in)") {
    init::kaiming_normal_(w);
    const double s = std::sqrt(2.0 / 400);
    CHECK(std::abs(mean_of(w.data<double>())) < 0.01 * s);
    CHECK(std_of(w.data<double>()) == doctest::Approx(s).epsilon(0.02));
  }
  SUBCASE("xavier_uniform: std = bound/√3") {
    init::xavier_uniform_(w);
    CHECK(std_of(w.data<double>()) == doctest::Approx(std::sqrt(6.0 / 1000) / std::sqrt(3.0)).epsilon(0.02));
  }
  SUBCASE("kaiming_uniform: std = bound/√3") {
    init::kaiming_uniform_(w);
    CHECK(std_of(w.data<double>()) == doctest::Approx(std::sqrt(6.0 / 400) / std::sqrt(3.0)).epsilon(0.02));
  }
  SUBCASE("normal(3, 0.5)") {
    init::normal_(w, 3, 0.5);
    CHECK(mean_of(w.data<double>()) == doctest::Approx(3).epsilon(0.001));
    CHECK(std_of(w.data<double>()) == doctest::Approx(0.5).epsilon(0.02));
  }
}

TEST_CASE("nn: same seed, same initial weights, in both dtypes") {
  manual_seed(42);
  Tensor a = init::kaiming_normal_(zeros({5, 3}, kFloat64));
  manual_seed(42);
  Tensor b = init::kaiming_normal_(zeros({5, 3}, kFloat64));
  manual_seed(42);
  Tensor c = init::kaiming_normal_(zeros({5, 3}));
  CHECK(a.data<double>() == b.data<double>());
  CHECK(xt::allclose(c.to(kFloat64).data<double>(), a.data<double>(), 1e-6, 1e-7));
  manual_seed(42);
  Linear l1(4, 3);
  manual_seed(42);
  Linear l2(4, 3);
  CHECK(l1.weight().data<float>() == l2.weight().data<float>());
  CHECK_FALSE(a.data<double>() == init::kaiming_normal_(zeros({5, 3}, kFloat64)).data<double>());  // generator moved on
}

TEST_CASE("nn: initializers by Keras and torch names") {
  CHECK(init::Initializer("glorot_uniform").kind() == init::Init::XavierUniform);
  CHECK(init::Initializer("Xavier_Uniform").kind() == init::Init::XavierUniform);
  CHECK(init::Initializer("glorot_normal").kind() == init::Init::XavierNormal);
  CHECK(init::Initializer("he_uniform").kind() == init::Init::KaimingUniform);
  CHECK(init::Initializer("he_normal").kind() == init::Init::KaimingNormal);
  CHECK(init::Initializer("kaiming_normal").kind() == init::Init::KaimingNormal);
  CHECK(init::Initializer("ones").kind() == init::Init::Ones);
  CHECK(init::Initializer("random_uniform").name() == "uniform(-0.05, 0.05)");
  CHECK(init::Initializer(init::Init::Constant, 0.5).name() == "constant(0.5)");
  Tensor w = init::Initializer("random_normal")(zeros({2, 3}, kFloat64));
  CHECK(xt::any(xt::not_equal(w.data<double>(), 0.0)));
  Linear::Options o;
  o.weight_init = "zeros";
  o.bias_init = init::Initializer(init::Init::Constant, 0.5);
  Linear l(2, 2, o);
  CHECK(l.weight().data<float>() == Array<float>({{0, 0}, {0, 0}}));
  CHECK(l.bias().data<float>() == Array<float>({0.5, 0.5}));
  CHECK(message([] { init::Initializer("glorot"); }) ==
        "Initializer: unknown initializer 'glorot'; valid names: zeros, ones, random_uniform, random_normal, "
        "glorot_uniform, glorot_normal, he_uniform, he_normal, xavier_uniform, xavier_normal, kaiming_uniform, "
        "kaiming_normal");
}

// ---- Linear ------------------------------------------------------------------------------------------------------
TEST_CASE("nn: Linear computes x·W + b with W stored [in, out]") {
  Linear l(2, 3, f64);
  CHECK(l.weight().requires_grad());
  CHECK(l.weight().shape() == Shape{2, 3});
  CHECK(l.bias().shape() == Shape{3});
  Tensor w = l.weight(), b = l.bias();
  w.data<double>() = Array<double>({{1, 2, 3}, {4, 5, 6}});
  b.data<double>() = Array<double>({0.5, -1, 2});
  Tensor y = l(tensor({{1.0, 1.0}, {2.0, -1.0}}, kFloat64));
  // [1,1]·W = [5,7,9], [2,−1]·W = [−2,−1,0]; then + b
  CHECK(y.data<double>() == Array<double>({{5.5, 6, 11}, {-1.5, -2, 2}}));
  CHECK(l(tensor({1.0, 1.0}, kFloat64)).data<double>() == Array<double>({5.5, 6, 11}));  // one sample [in]
}

TEST_CASE("nn: Linear defaults: glorot_uniform weight, zero bias, float32, named weight and bias") {
  manual_seed(3);
  Linear l(20, 30);
  CHECK(l.weight().dtype() == kFloat32);
  CHECK(xt::amax(xt::abs(l.weight().data<float>()))() <= std::sqrt(6.0 / 50));
  CHECK(xt::all(xt::equal(l.bias().data<float>(), 0.0f)));
  auto named = l.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(l.parameter_count() == 20 * 30 + 30);
  Linear::Options o;
  o.bias = false;
  Linear nb(20, 30, o);
  CHECK(nb.named_parameters().size() == 1);
  CHECK_FALSE(nb.bias().defined());
  std::ostringstream s;
  s << nb;
  CHECK(s.str() == "Linear(in=20, out=30, bias=false)");
}

TEST_CASE("nn: Linear gradients match finite differences (with and without bias)") {
  manual_seed(4);
  Linear l(3, 4, f64);
  init::uniform_(l.bias(), -1, 1);  // nonzero bias
  check_module(l, input({5, 3}, 1));
  check_module(l, input({3}, 2));
  Linear::Options o = f64;
  o.bias = false;
  Linear nb(3, 2, o);
  check_module(nb, input({4, 3}, 3));
}

TEST_CASE("nn: Linear rejects a wrong input width, naming the module and shapes") {
  Linear l(784, 128);
  CHECK(message([&] { l(zeros({32, 100})); }) ==
        "Linear(in=784, out=128): input has 100 features per row ([32,100]), expected 784");
  CHECK(message([&] { l(zeros({32, 784}, kFloat64)); }) ==
        "Linear(in=784, out=128): input is float64, parameters are float32 (convert the input with .to())");
}

// ---- activations -------------------------------------------------------------------------------------------------
TEST_CASE("nn: every activation module applies its op and passes gradcheck") {
  const Tensor x = input({3, 4}, 5);
  const std::vector<std::pair<std::shared_ptr<Module>, std::function<Tensor(const Tensor&)>>> rows = {
      {std::make_shared<LinearActivation>(0.5, 2), [](auto& t) { return 0.5 * t + 2.0; }},
      {std::make_shared<Step>(), [](auto& t) { return step(t); }},
      {std::make_shared<PiecewiseLinear>(), [](auto& t) { return piecewise_linear(t, -1, 1); }},
      {std::make_shared<Sigmoid>(), [](auto& t) { return sigmoid(t); }},
      {std::make_shared<Gaussian>(), [](auto& t) { return exp(-square(t)); }},
      {std::make_shared<Tanh>(), [](auto& t) { return tanh(t); }},
      {std::make_shared<ReLU>(), [](auto& t) { return relu(t); }},
      {std::make_shared<LeakyReLU>(), [](auto& t) { return leaky_relu(t, 0.01); }},
      {std::make_shared<Softmax>(), [](auto& t) { return softmax(t, -1); }},
      {std::make_shared<Softmax>(0), [](auto& t) { return softmax(t, 0); }},
      {std::make_shared<LogSoftmax>(), [](auto& t) { return log_softmax(t, -1); }},
  };
  for (const auto& [m, f] : rows) {
    INFO(*m);
    CHECK(xt::allclose((*m)(x).data<double>(), f(x).data<double>(), 1e-15, 1e-15));
    check_module(*m, x);
    CHECK(m->parameters().empty());
  }
  CHECK(LeakyReLU()(tensor({-2.0, 3.0})).data<float>() == Array<float>({-0.02f, 3}));  // torch's default slope 0.01
}

TEST_CASE("nn: make_activation builds the course's activations by name, case-insensitively") {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"linear", "LinearActivation(a=1, b=0)"}, {"step", "Step()"},
      {"piecewise_linear", "PiecewiseLinear(x_min=-1, x_max=1)"}, {"sigmoid", "Sigmoid()"},
      {"gaussian", "Gaussian()"}, {"tanh", "Tanh()"}, {"ReLU", "ReLU()"}, {"Leaky_ReLU", "LeakyReLU(slope=0.01)"},
      {"softmax", "Softmax(axis=-1)"}, {"log_softmax", "LogSoftmax(axis=-1)"}};
  for (const auto& [name, printed] : names) {
    std::ostringstream s;
    s << *make_activation(name);
    CHECK(s.str() == printed);
  }
  CHECK(message([] { make_activation("swish"); }) ==
        "make_activation: unknown activation 'swish'; valid names: linear, step, piecewise_linear, sigmoid, "
        "gaussian, tanh, relu, leaky_relu, softmax, log_softmax");
  CHECK(message([] { PiecewiseLinear(1, 1); }) == "PiecewiseLinear: need x_min < x_max, got x_min=1, x_max=1");
}

// ---- Sequential and MLP ------------------------------------------------------------------------------------------
TEST_CASE("nn: Sequential chains its modules and names them 0, 1, 2, ...") {
  Linear::Options nb = f64;
  nb.bias = false;
  Sequential s({std::make_shared<Linear>(2, 3, f64), std::make_shared<ReLU>()});
  s.add(std::make_shared<Linear>(3, 1, nb));
  CHECK(s.size() == 3);
  std::vector<std::string> names;
  for (const auto& [n, t] : s.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
  CHECK(s[1]->name() == "ReLU");
  CHECK(s.at<Linear>(2).out_features() == 1);
  const Tensor x = input({4, 2}, 6);
  Tensor manual = matmul(relu(matmul(x, s.at<Linear>(0).weight()) + s.at<Linear>(0).bias()), s.at<Linear>(2).weight());
  CHECK(s(x).data<double>() == manual.data<double>());
  std::ostringstream p;
  p << s;
  CHECK(p.str() ==
        "Sequential(\n"
        "  (0): Linear(in=2, out=3, bias=true)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in=3, out=1, bias=false)\n"
        ")");
  CHECK(message([&] { s[3]; }) == "Sequential: index 3 out of range (size 3)");
  CHECK(message([&] { s.at<Linear>(1); }) == "Sequential::at: module 1 is a ReLU");
  CHECK(message([&] { s.add(nullptr); }) == "Sequential::add: module 3 is null");
}

TEST_CASE("nn: MLP 784-16-16-10 has 13,002 parameters") {
  // NOTE: the course prints ((784*16+16)*16+16)*10 = 13.002, a formula slip (that product is 2,009,920); the
  // count is (784·16+16) + (16·16+16) + (16·10+10) = 12,560 + 272 + 170 = 13,002.
  auto net = MLP({784, 16, 16, 10});
  CHECK(net->parameter_count() == 13002);
  CHECK(net->size() == 5);  // Linear, ReLU, Linear, ReLU, Linear: no activation after the logits
  CHECK((*net)[1]->name() == "ReLU");
  CHECK((*net)[4]->name() == "Linear");
  CHECK((*net)(zeros({32, 784})).shape() == Shape{32, 10});
  CHECK(message([] { MLP({3}); }) == "MLP: need at least 2 sizes (inputs and outputs), got 1");
  CHECK(message([] { MLP({3, 2}, "rleu"); }).rfind("make_activation: unknown activation 'rleu'", 0) == 0);
}

TEST_CASE("nn: MLP gradients match finite differences") {
  manual_seed(7);
  auto net = MLP({3, 4, 4, 2}, "tanh", f64);
  CHECK(std::dynamic_pointer_cast<Tanh>((*net)[1]));
  check_module(*net, input({5, 3}, 8));
  auto sig = MLP({2, 3, 1}, "Sigmoid", f64);
  check_module(*sig, input({4, 2}, 9));
}

// ---- BatchNorm1d -------------------------------------------------------------------------------------------------
TEST_CASE("nn: BatchNorm1d in training normalizes with batch statistics and updates running ones as torch") {
  BatchNorm1d bn(2, {kFloat64});
  const Tensor x = tensor({{1.0, 2.0}, {3.0, 6.0}, {5.0, 10.0}}, kFloat64);
  Tensor y = bn(x);
  // feature 0: μ = 3, biased σ² = 8/3, unbiased 4; feature 1: μ = 6, biased σ² = 32/3, unbiased 16.
  CHECK(y.data<double>()(0, 0) == doctest::Approx((1 - 3) / std::sqrt(8.0 / 3 + 1e-5)).epsilon(1e-14));
  CHECK(y.data<double>()(2, 1) == doctest::Approx((10 - 6) / std::sqrt(32.0 / 3 + 1e-5)).epsilon(1e-14));
  CHECK(std::abs(xt::sum(y.data<double>(), {0})(0)) < 1e-14);
  // running = 0.9·running + 0.1·batch, from running_mean = 0, running_var = 1
  CHECK(xt::allclose(bn.running_mean().data<double>(), Array<double>({0.3, 0.6}), 0, 1e-15));
  CHECK(xt::allclose(bn.running_var().data<double>(), Array<double>({0.9 + 0.4, 0.9 + 1.6}), 0, 1e-15));
  bn(x);  // a second step: 0.9·0.3 + 0.1·3
  CHECK(bn.running_mean().data<double>()(0) == doctest::Approx(0.57).epsilon(1e-14));
  CHECK(bn.running_var().data<double>()(0) == doctest::Approx(0.9 * 1.3 + 0.4).epsilon(1e-14));
}

TEST_CASE("nn: BatchNorm1d in eval uses the running statistics and the affine parameters") {
  BatchNorm1d bn(2, {kFloat64});
  Tensor g = bn.named_parameters()[0].second, b = bn.named_parameters()[1].second;
  g.data<double>() = Array<double>({2, 3});
  b.data<double>() = Array<double>({0.5, -1});
  bn(tensor({{1.0, 2.0}, {3.0, 6.0}, {5.0, 10.0}}, kFloat64));  // running_mean [0.3, 0.6], running_var [1.3, 2.5]
  bn.eval();
  Tensor y = bn(tensor({{1.0, 1.0}}, kFloat64));  // a batch of 1 is fine in eval
  CHECK(y.data<double>()(0, 0) == doctest::Approx((1 - 0.3) / std::sqrt(1.3 + 1e-5) * 2 + 0.5).epsilon(1e-14));
  CHECK(y.data<double>()(0, 1) == doctest::Approx((1 - 0.6) / std::sqrt(2.5 + 1e-5) * 3 - 1).epsilon(1e-14));
  CHECK(xt::allclose(bn.running_mean().data<double>(), Array<double>({0.3, 0.6}), 0, 1e-15));  // eval: untouched
  CHECK(xt::allclose(bn.running_var().data<double>(), Array<double>({1.3, 2.5}), 0, 1e-15));
}

TEST_CASE("nn: BatchNorm1d names, options and printing") {
  BatchNorm1d bn(4);
  auto p = bn.named_parameters(), b = bn.named_buffers();
  REQUIRE(p.size() == 2);
  CHECK(p[0].first == "weight");
  CHECK(p[1].first == "bias");
  CHECK(p[0].second.data<float>() == Array<float>({1, 1, 1, 1}));
  REQUIRE(b.size() == 2);
  CHECK(b[0].first == "running_mean");
  CHECK(b[1].first == "running_var");
  BatchNorm1d plain(3, {kFloat32, 1e-3, 0.5, false});
  CHECK(plain.parameters().empty());
  std::ostringstream s;
  s << bn << " " << plain;
  CHECK(s.str() == "BatchNorm1d(features=4, eps=1e-05, momentum=0.1, affine=true) "
                   "BatchNorm1d(features=3, eps=0.001, momentum=0.5, affine=false)");
}

TEST_CASE("nn: BatchNorm1d gradients match finite differences, training and eval") {
  BatchNorm1d bn(3, {kFloat64});
  init::uniform_(bn.named_parameters()[0].second, 0.5, 1.5);
  init::uniform_(bn.named_parameters()[1].second, -1, 1);
  const Tensor x = input({5, 3}, 10);
  check_module(bn, x);  // through the batch mean and variance too
  bn.eval();
  check_module(bn, x);
  BatchNorm1d plain(3, {kFloat64, 1e-5, 0.1, false});
  check_module(plain, x);
}

TEST_CASE("nn: BatchNorm1d rejects a batch of 1 in training and a wrong width") {
  BatchNorm1d bn(4);
  CHECK(message([&] { bn(zeros({1, 4})); }) ==
        "BatchNorm1d: expected more than 1 value per channel when training, got input [1,4]");
  CHECK(message([&] { bn(zeros({8, 3})); }) == "BatchNorm1d(features=4): expected input [N,4], got [8,3]");
}

// ---- Dropout -----------------------------------------------------------------------------------------------------
TEST_CASE("nn: Dropout keeps each value with probability 1 − p and scales it by 1/(1 − p)") {
  Dropout d(0.25);
  const Tensor x = input({4, 5}, 11);
  manual_seed(12);
  const Tensor u = rand({4, 5}, kFloat64);
  manual_seed(12);
  Tensor y = d(x);
  const Array<double> expected = xt::where(u.data<double>() >= 0.25, x.data<double>() / 0.75, 0.0);
  CHECK(xt::allclose(y.data<double>(), expected, 0, 1e-15));
  // Over many values the kept fraction is 1 − p and the mean is preserved.
  Tensor big = d(ones({1000, 100}, kFloat64));
  const double kept = xt::mean(xt::not_equal(big.data<double>(), 0.0))();
  CHECK(kept == doctest::Approx(0.75).epsilon(0.01));
  CHECK(xt::mean(big.data<double>())() == doctest::Approx(1).epsilon(0.01));
}

TEST_CASE("nn: Dropout is the identity in eval and for p = 0, zero for p = 1") {
  const Tensor x = input({3, 4}, 13);
  Dropout d(0.5);
  d.eval();
  CHECK(d(x).same(x));
  CHECK(Dropout(0)(x).same(x));
  Dropout all(1);
  CHECK(xt::all(xt::equal(all(x).data<double>(), 0.0)));
  std::ostringstream s;
  s << d;
  CHECK(s.str() == "Dropout(p=0.5)");
  CHECK(message([] { Dropout(1.5); }) == "Dropout: p must be in [0, 1], got 1.5");
  CHECK(message([] { Dropout(-0.1); }) == "Dropout: p must be in [0, 1], got -0.1");
}

TEST_CASE("nn: Dropout's gradient is the mask (fixed by the seed)") {
  Dropout d(0.4);
  GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& v) {
        manual_seed(14);  // the same mask on every call
        return d(v[0]);
      },
      {input({4, 6}, 15)});
  INFO(r);
  CHECK(r);
}

TEST_CASE("nn: train() and eval() reach every module of a Sequential") {
  auto drop = std::make_shared<Dropout>(0.5);
  auto bn = std::make_shared<BatchNorm1d>(3);
  auto inner_ptr = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{bn});
  Sequential s({std::make_shared<Linear>(2, 3), inner_ptr, drop});
  CHECK(drop->is_training());
  s.eval();
  CHECK_FALSE(drop->is_training());
  CHECK_FALSE(bn->is_training());
  CHECK_FALSE(inner_ptr->is_training());
  const Tensor x = ones({1, 2});
  CHECK(s(x).shape() == Shape{1, 3});  // eval: batch of 1 allowed, dropout off
  s.train();
  CHECK(bn->is_training());
  CHECK(drop->is_training());
  std::vector<std::string> names;
  for (const auto& [n, t] : s.named_buffers()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"1.0.running_mean", "1.0.running_var"});
}
