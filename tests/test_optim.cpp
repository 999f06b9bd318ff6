// Optimizers: one hand-computed step each, trajectories vs torch 1.13 (reference/optim_trajectories.json),
// convergence, checkpoints (state / load_state), options and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include <chainrule/autograd.hpp>
#include <chainrule/optim.hpp>
#include "helpers.hpp"

using namespace chainrule;
using namespace chainrule::optim;
using json = nlohmann::json;

using test::values;
namespace {

Tensor param(const std::vector<double>& v) { return tensor(v, kFloat64).requires_grad_(); }


/// Makes p's gradient exactly c: backward of Σ p⊙c after zero_grad.
void set_grad(Tensor& p, const std::vector<double>& c) {
  p.zero_grad();
  sum(p * tensor(c, kFloat64)).backward();
}

void check_values(const Tensor& p, const std::vector<double>& expected, double eps = 1e-12) {
  const auto got = values(p);
  REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("element " << k);
    CHECK(got[k] == doctest::Approx(expected[k]).epsilon(eps));
  }
}

/// Default options with some fields set, as C++17 has no designated initializers:
/// with<Adam::Options>([](auto& o) { o.lr = 0.1; }).
template <class Options, class F> Options with(F set) {
  Options o;
  set(o);
  return o;
}

/// Constructs an Opt on w with default options changed by set (for the error checks).
template <class Opt, class F> void construct(const Tensor& w, F set) { Opt({w}, with<typename Opt::Options>(set)); }

const std::vector<double> w0 = {1.0, -2.0, 0.5};  // the parameter of the hand-computed steps
const std::vector<double> c = {0.5, -1.0, 2.0};   // its first gradient
const std::vector<double> c2 = {1.0, 1.0, -1.0};  // its second gradient

}  // namespace

// ---- one hand-computed step per optimizer ----------------------------------------------------------------------

TEST_CASE("optim: SGD steps p − lr·g") {
  Tensor w = param(w0);
  SGD::Options o;
  o.lr = 0.1;
  SGD opt({w}, o);
  set_grad(w, c);
  opt.step();
  check_values(w, {0.95, -1.9, 0.3});  // w0 − 0.1·c
}

TEST_CASE("optim: momentum starts its buffer at g, then b = μ·b + g") {
  Tensor w = param(w0);
  SGD::Options o;
  o.lr = 0.1, o.momentum = 0.9;
  SGD opt({w}, o);
  set_grad(w, c);
  opt.step();
  check_values(w, {0.95, -1.9, 0.3});  // b = c;  w0 − 0.1·c
  set_grad(w, c2);
  opt.step();
  // b = 0.9·c + c2 = (1.45, 0.1, 0.8);  w = (0.95, −1.9, 0.3) − 0.1·b
  check_values(w, {0.805, -1.91, 0.22});
}

TEST_CASE("optim: Nesterov steps along g + μ·b") {
  Tensor w = param(w0);
  SGD::Options o;
  o.lr = 0.1, o.momentum = 0.9, o.nesterov = true;
  SGD opt({w}, o);
  set_grad(w, c);
  opt.step();
  check_values(w, {0.905, -1.81, 0.12});  // b = c;  d = c + 0.9·c = 1.9·c;  w0 − 0.19·c
  set_grad(w, c2);
  opt.step();
  // b = 0.9·c + c2 = (1.45, 0.1, 0.8);  d = c2 + 0.9·b = (2.305, 1.09, −0.28);  w = (0.905, −1.81, 0.12) − 0.1·d
  check_values(w, {0.6745, -1.919, 0.148});
}

TEST_CASE("optim: SGD with weight decay and dampening") {
  Tensor w = param(w0);
  SGD::Options o;
  o.lr = 0.1, o.momentum = 0.9, o.dampening = 0.5, o.weight_decay = 0.1;
  SGD opt({w}, o);
  set_grad(w, c);
  opt.step();
  // d = c + 0.1·w0 = (0.6, −1.2, 2.05) = b (the first buffer is not dampened);  w0 − 0.1·d
  check_values(w, {0.94, -1.88, 0.295});
  set_grad(w, c2);
  opt.step();
  // d = c2 + 0.1·(0.94, −1.88, 0.295) = (1.094, 0.812, −0.9705);  b = 0.9·(0.6, −1.2, 2.05) + 0.5·d
  //   = (1.087, −0.674, 1.35975);  w = (0.94, −1.88, 0.295) − 0.1·b
  check_values(w, {0.8313, -1.8126, 0.159025});
}

TEST_CASE("optim: Adagrad divides by √(Σg²) + ε, with lr_decay") {
  Tensor w = param(w0);
  Adagrad::Options o;
  o.lr = 0.1, o.lr_decay = 0.5;
  Adagrad opt({w}, o);
  set_grad(w, c);
  opt.step();
  // G = c² ;  w0 − 0.1·c/(|c| + 1e-10)
  check_values(w, {1 - 0.1 * 0.5 / (0.5 + 1e-10), -2 + 0.1 * 1 / (1 + 1e-10), 0.5 - 0.1 * 2 / (2 + 1e-10)});
  const auto w1 = values(w);
  set_grad(w, c2);
  opt.step();
  // t = 2: η = 0.1/(1 + 1·0.5) ;  G = c² + c2² = (1.25, 2, 5) ;  w1 − η·c2/(√G + ε)
  const double eta = 0.1 / 1.5;
  check_values(w, {w1[0] - eta * 1 / (std::sqrt(1.25) + 1e-10), w1[1] - eta * 1 / (std::sqrt(2.0) + 1e-10),
                   w1[2] + eta * 1 / (std::sqrt(5.0) + 1e-10)});
}

TEST_CASE("optim: Adadelta scales g by √(u + ε)/√(v + ε)") {
  Tensor w = param(w0);
  Adadelta opt({w});  // lr 1, ρ 0.9, ε 1e-6
  set_grad(w, c);
  opt.step();
  // v = 0.1·g² ;  u = 0 ;  Δ = √(1e-6)/√(0.1·g² + 1e-6)·g ;  w0 − Δ
  auto delta = [](double g) { return std::sqrt(1e-6) / std::sqrt(0.1 * g * g + 1e-6) * g; };
  check_values(w, {1 - delta(0.5), -2 - delta(-1), 0.5 - delta(2)});
}

TEST_CASE("optim: RMSprop divides by √v + ε, plain and centered with momentum") {
  SUBCASE("plain") {
    Tensor w = param(w0);
    RMSprop opt({w});  // lr 0.01, α 0.99, ε 1e-8
    set_grad(w, c);
    opt.step();
    // v = 0.01·g² ;  √v = 0.1·|g| ;  w0 − 0.01·g/(0.1·|g| + 1e-8)
    check_values(w, {1 - 0.01 * 0.5 / (0.05 + 1e-8), -2 + 0.01 * 1 / (0.1 + 1e-8), 0.5 - 0.01 * 2 / (0.2 + 1e-8)});
  }
  SUBCASE("centered, momentum 0.5") {
    Tensor w = param(w0);
    RMSprop::Options o;
    o.lr = 0.01, o.momentum = 0.5, o.centered = true;
    RMSprop opt({w}, o);
    set_grad(w, c);
    opt.step();
    // v = 0.01·g², ḡ = 0.01·g ;  a = √(0.01·g² − 0.0001·g²) + ε = √0.0099·|g| + ε ;  b = g/a ;  w0 − 0.01·b
    auto b = [](double g) { return g / (std::sqrt(0.0099) * std::abs(g) + 1e-8); };
    check_values(w, {1 - 0.01 * b(0.5), -2 - 0.01 * b(-1), 0.5 - 0.01 * b(2)});
  }
}

TEST_CASE("optim: Adam's first step is about lr·sign(g)") {
  Tensor w = param(w0);
  Adam::Options o;
  o.lr = 0.01;
  Adam opt({w}, o);
  set_grad(w, c);
  opt.step();
  // m = 0.1·g, v = 0.001·g² ;  denom = √v/√(1 − 0.999) + ε = |g| + ε ;  w0 − 0.01/(1 − 0.9)·m/denom
  check_values(w, {1 - 0.01 * 0.5 / (0.5 + 1e-8), -2 + 0.01 * 1 / (1 + 1e-8), 0.5 - 0.01 * 2 / (2 + 1e-8)});
}

TEST_CASE("optim: Adam's amsgrad keeps the largest v") {
  const std::vector<double> c_small = {0.05, -0.1, 0.2};  // c/10: v shrinks at the second step when β2 = 0.5
  for (bool amsgrad : {false, true}) {
    CAPTURE(amsgrad);
    Tensor w = param(w0);
    Adam::Options o;
    o.lr = 0.01, o.beta2 = 0.5, o.amsgrad = amsgrad;
    Adam opt({w}, o);
    set_grad(w, c);
    opt.step();
    const auto w1 = values(w);
    set_grad(w, c_small);
    opt.step();
    // m = 0.9·0.1·c + 0.1·c/10 = 0.1·c ;  v = 0.5·0.5·c² + 0.5·c²/100 = 0.255·c² (amsgrad: max(0.5·c², v) = 0.5·c²)
    // denom = √v/√(1 − 0.5²) + ε ;  w1 − 0.01/(1 − 0.9²)·m/denom
    const double v_over_c2 = amsgrad ? 0.5 : 0.255;
    std::vector<double> expected;
    for (std::size_t k = 0; k < 3; ++k)
      expected.push_back(w1[k] - 0.01 / 0.19 * 0.1 * c[k] /
                                     (std::sqrt(v_over_c2) * std::abs(c[k]) / std::sqrt(0.75) + 1e-8));
    check_values(w, expected);
  }
}

TEST_CASE("optim: Adam is bit-identical to its formula while first moments decay through subnormal numbers") {
  // Weights of every magnitude, 0, -0 and a subnormal one; gradients that stop after step 20 (so m decays by 0.9 a
  // step into the subnormal range and below), and for the last two weights never stop. The reference is torch's
  // float32 formula, operation for operation (neither the library nor the tests contract a·b + c into an FMA), so
  // any rewrite of the update for speed must keep every bit.
  // 50 weights, the 12 below over and over: whole 256- and 512-bit vectors and a remainder, for each loop of Adam's.
  const std::vector<float> base = {1.0f, -0.5f, 3e-3f, -7e-9f, 1e-30f, -1e-36f, 0.0f, -0.0f, 1e-40f, 12345.0f,
                                   0.25f, -2.0f};
  std::vector<float> w0;
  for (std::size_t k = 0; k < 50; ++k) w0.push_back(base[k % base.size()]);
  const std::size_t n = w0.size();
  std::vector<float> gsched(n);
  for (std::size_t k = 0; k < n; ++k) gsched[k] = (k % 3 == 0 ? 1e-3f : k % 3 == 1 ? -4e-2f : 7.0f);
  Tensor w = from_vector(std::vector<double>(w0.begin(), w0.end()), {n}, kFloat32).requires_grad_();
  Adam opt({w}, Adam::Options{});
  std::vector<float> p = w0, m(n, 0.0f), v(n, 0.0f);
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999;
  const float beta1 = float(b1), one_minus_beta1 = float(1 - b1), beta2 = float(b2), one_minus_beta2 = float(1 - b2),
              eps = float(1e-8);
  for (int t = 1; t <= 1500; ++t) {
    std::vector<float> g(n);
    for (std::size_t k = 0; k < n; ++k) g[k] = (t <= 20 || k >= n - 2) ? gsched[k] : 0.0f;
    w.zero_grad(true);
    sum(w * from_vector(std::vector<double>(g.begin(), g.end()), {n}, kFloat32)).backward();
    opt.step();
    const float step_size = float(lr / (1 - std::pow(b1, t))), bc2_sqrt = float(std::sqrt(1 - std::pow(b2, t)));
    for (std::size_t k = 0; k < n; ++k) {
      const float gk = g[k] + 0.0f * p[k];
      m[k] = m[k] * beta1 + one_minus_beta1 * gk;
      v[k] = v[k] * beta2 + one_minus_beta2 * gk * gk;
      const float denom = std::sqrt(v[k]) / bc2_sqrt + eps;
      p[k] -= step_size * m[k] / denom;
    }
  }
  const auto& got = w.data<float>();
  for (std::size_t k = 0; k < n; ++k) {
    CAPTURE(k);
    CHECK(std::signbit(got(k)) == std::signbit(p[k]));
    CHECK(std::memcmp(&got(k), &p[k], sizeof(float)) == 0);  // the same bits
  }
}

TEST_CASE("optim: set_lr changes the step size from the next step on") {
  Tensor w = param(w0);
  SGD::Options o;
  o.lr = 0.1;
  SGD opt({w}, o);
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  CHECK(opt.options().lr == 0.5);
  set_grad(w, c);
  opt.step();
  check_values(w, {0.75, -1.5, -0.5});  // w0 − 0.5·c
}

TEST_CASE("optim: a parameter without a gradient is skipped and gets no state") {
  Tensor p = param({1.0, 2.0}), q = param({3.0});
  Adam::Options o;
  o.lr = 0.1;
  Adam opt({p, q}, o);
  sum(p * 2.0).backward();  // q takes no part: its grad stays undefined
  opt.step();
  CHECK(values(q) == std::vector<double>{3.0});
  auto state = opt.state();
  REQUIRE(state.size() == 3);
  CHECK(state[0].first == "step.0");
  CHECK(state[1].first == "exp_avg.0");
  CHECK(state[2].first == "exp_avg_sq.0");
  opt.zero_grad();
  (sum(p * 2.0) + sum(q * 2.0)).backward();
  opt.step();
  // q's first update: its own step count is 1, so the bias-corrected step is lr·g/(|g| + ε)
  CHECK(q.item() == doctest::Approx(3 - 0.1 * 2 / (2 + 1e-8)).epsilon(1e-12));
  state = opt.state();
  REQUIRE(state.size() == 6);
  CHECK(state[0].second.item() == 2);  // step.0
  CHECK(state[3].first == "step.1");
  CHECK(state[3].second.item() == 1);
}

TEST_CASE("optim: float32 parameters update like float64 ones") {
  for (const std::string name : {"sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"}) {
    CAPTURE(name);
    Tensor w64 = param(w0), w32 = tensor(w0, kFloat32).requires_grad_();
    auto opt64 = make_optimizer(name, {w64}, 0.05), opt32 = make_optimizer(name, {w32}, 0.05);
    for (int i = 0; i < 10; ++i) {
      opt64->zero_grad();
      opt32->zero_grad();
      sum(square(w64 - tensor(c, kFloat64))).backward();
      sum(square(w32 - tensor(c, kFloat32))).backward();
      opt64->step();
      opt32->step();
    }
    for (std::size_t k = 0; k < 3; ++k)
      CHECK(double(w32.data<float>()(k)) == doctest::Approx(w64.data<double>()(k)).epsilon(1e-5));
    for (const auto& [key, t] : opt32->state()) CHECK(t.dtype() == (key.rfind("step", 0) == 0 ? kFloat64 : kFloat32));
    CHECK(values(w64) != w0);
  }
}

// ---- trajectories vs torch 1.13 --------------------------------------------------------------------------------

namespace {

json load_reference() {
  std::ifstream in(CHAINRULE_TEST_DATA "/optim_trajectories.json");
  REQUIRE(in.good());
  return json::parse(in);
}

/// A weight [in][out] (nested lists) or a bias (flat list) as a float64 tensor.
Tensor from_json(const json& j) {
  std::vector<double> v;
  if (j[0].is_array()) {
    for (const auto& row : j)
      for (const auto& x : row) v.push_back(x.get<double>());
    return from_vector(v, {j.size(), j[0].size()}, kFloat64);
  }
  for (const auto& x : j) v.push_back(x.get<double>());
  return from_vector(v, {j.size()}, kFloat64);
}

std::unique_ptr<Optimizer> from_reference(const json& type, const json& h, std::vector<Tensor> params) {
  const double lr = h["lr"], wd = h["weight_decay"];
  if (type == "SGD")
    return std::make_unique<SGD>(params, with<SGD::Options>([&](auto& o) {
      o.lr = lr, o.momentum = h["momentum"], o.dampening = h["dampening"], o.nesterov = h["nesterov"];
      o.weight_decay = wd;
    }));
  if (type == "Adagrad")
    return std::make_unique<Adagrad>(params, with<Adagrad::Options>([&](auto& o) {
      o.lr = lr, o.lr_decay = h["lr_decay"], o.initial_accumulator_value = h["initial_accumulator_value"],
      o.eps = h["eps"], o.weight_decay = wd;
    }));
  if (type == "Adadelta")
    return std::make_unique<Adadelta>(params, with<Adadelta::Options>([&](auto& o) {
      o.lr = lr, o.rho = h["rho"], o.eps = h["eps"], o.weight_decay = wd;
    }));
  if (type == "RMSprop")
    return std::make_unique<RMSprop>(params, with<RMSprop::Options>([&](auto& o) {
      o.lr = lr, o.alpha = h["alpha"], o.eps = h["eps"], o.momentum = h["momentum"], o.centered = h["centered"],
      o.weight_decay = wd;
    }));
  REQUIRE(type == "Adam");
  return std::make_unique<Adam>(params, with<Adam::Options>([&](auto& o) {
    o.lr = lr, o.beta1 = h["betas"][0], o.beta2 = h["betas"][1], o.eps = h["eps"], o.amsgrad = h["amsgrad"],
    o.weight_decay = wd;
  }));
}

/// |got − want| / |want|
double rel(double got, double want) { return std::abs(got - want) / std::max(std::abs(want), 1e-300); }

/// Trains the reference net h = tanh(X·W0 + b0), y = h·W2 + b2 on F = mse + α·C for 5 steps, checking the loss
/// before and every parameter after each step against torch; returns the largest relative deviation.
/// C over the weights only (n = 20): L1 = Σ|w|/n, L2 = Σw²/(2n), elastic net r·L1 + (1 − r)·L2.
double check_trajectory(const json& ref, const json& optimizer, const json& trajectory, double alpha = 0,
                        double r = 0) {
  const std::vector<std::string> names = ref["param_order"];
  std::vector<Tensor> params;
  for (const auto& n : names) params.push_back(from_json(ref["initial_params"][n]).requires_grad_());
  const Tensor X = from_json(ref["X"]), Y = from_json(ref["Y"]);
  Tensor &W0 = params[0], &b0 = params[1], &W2 = params[2], &b2 = params[3];
  auto opt = from_reference(optimizer["type"], optimizer["hyperparams"], params);
  double worst = 0;
  for (std::size_t s = 0; s < trajectory.size(); ++s) {
    CAPTURE(s);
    opt->zero_grad();
    const Tensor y = matmul(tanh(matmul(X, W0) + b0), W2) + b2;
    Tensor loss = mean(square(y - Y));
    if (alpha != 0) {
      const double n = double(W0.numel() + W2.numel());
      const Tensor l1 = (sum(abs(W0)) + sum(abs(W2))) / n, l2 = (sum(square(W0)) + sum(square(W2))) / (2 * n);
      loss = loss + alpha * (r == 1 ? l1 : r == 0 ? l2 : r * l1 + (1 - r) * l2);
    }
    loss.backward();
    const double want_loss = trajectory[s]["loss_before"];
    worst = std::max(worst, rel(loss.item(), want_loss));
    CHECK(rel(loss.item(), want_loss) < 1e-12);
    opt->step();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto want = values(from_json(trajectory[s]["params"][names[i]]));
      const auto got = values(params[i]);
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        CAPTURE(names[i]);
        CAPTURE(k);
        worst = std::max(worst, rel(got[k], want[k]));
        CHECK(rel(got[k], want[k]) < 1e-12);
      }
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("optim: trajectories of the seven optimizers match torch 1.13 (float64, 1e-12 relative)") {
  const json ref = load_reference();
  for (const auto& [name, run] : ref["optimizers"].items()) {
    CAPTURE(name);
    check_trajectory(ref, run, run["trajectory"]);
  }
  CHECK(ref["optimizers"].size() == 7);
}

TEST_CASE("optim: trajectories with weight_decay = 0.1 match torch 1.13 for every optimizer (float64, 1e-12)") {
  const json ref = load_reference();
  std::set<std::string> types;
  for (const auto& [name, run] : ref["weight_decay"].items()) {
    CAPTURE(name);
    REQUIRE(run["hyperparams"]["weight_decay"] == 0.1);
    check_trajectory(ref, run, run["trajectory"]);
    types.insert(run["type"].get<std::string>());
  }
  CHECK(ref["weight_decay"].size() == 9);  // sgd, momentum, nesterov, adagrad, adadelta, rmsprop (+ centred), adam
  CHECK(types == std::set<std::string>{"Adadelta", "Adagrad", "Adam", "RMSprop", "SGD"});  // (+ amsgrad)
}

TEST_CASE("optim: L1, L2 and elastic-net penalised trajectories match torch 1.13 (float64, 1e-12 relative)") {
  const json ref = load_reference();
  for (const auto& [name, run] : ref["penalties"].items()) {
    CAPTURE(name);
    REQUIRE(run["n"] == 20);
    check_trajectory(ref, run["optimizer"], run["trajectory"], run["alpha"], run["r"]);
  }
  CHECK(ref["penalties"].size() == 3);
}

// ---- convergence ---------------------------------------------------------------------------------------------

TEST_CASE("optim: every optimizer finds the bottom of a quadratic bowl to 1e-6") {
  // f(w) = Σ aᵢ (wᵢ − cᵢ)², minimum at w = c; curvatures 2aᵢ from 1 to 6.
  const Tensor a = tensor({1.0, 3.0, 0.5}, kFloat64), centre = tensor({1.0, -2.0, 0.5}, kFloat64);
  struct Case {
    const char* name;
    double lr;
    int max_steps;
  };
  // max_steps ≈ twice the steps each needs (sgd 125, momentum 257, nag 136, adagrad 26, adadelta 649,
  // rmsprop 459, adam 265)
  for (const Case& k : {Case{"sgd", 0.1, 250}, Case{"momentum", 0.05, 500}, Case{"nag", 0.05, 300},
                        Case{"adagrad", 1.0, 60}, Case{"adadelta", 1.0, 1300}, Case{"rmsprop", 0.01, 1000},
                        Case{"adam", 0.1, 600}}) {
    const std::string name = k.name;
    CAPTURE(name);
    Tensor w = param({0.0, 0.0, 0.0});
    auto opt = make_optimizer(k.name, {w}, k.lr);
    int steps = 0;
    auto error = [&] { return xt::amax(xt::abs(w.data<double>() - centre.data<double>()))(); };
    while (error() >= 1e-6 && steps < k.max_steps) {
      opt->zero_grad();
      sum(a * square(w - centre)).backward();
      opt->step();
      ++steps;
    }
    CHECK(error() < 1e-6);
  }
}

TEST_CASE("optim: gradient descent on linear regression reaches the least-squares solution") {
  // y = X·β + noise, X = [x₁ x₂ 1] (50 samples); the minimiser of mean((X·w − y)²) solves XᵀX·w = Xᵀy.
  manual_seed(7);
  const Tensor X = concat({randn({50, 2}, kFloat64), ones({50, 1}, kFloat64)}, 1);
  const Tensor beta = tensor({{2.0}, {-3.0}, {0.5}}, kFloat64);
  const Tensor y = matmul(X, beta) + 0.1 * randn({50, 1}, kFloat64);

  // Normal equations A·w = b, A = XᵀX, b = Xᵀy, solved by Gaussian elimination with partial pivoting.
  const auto& x = X.data<double>();
  const auto& yy = y.data<double>();
  double A[3][4] = {};
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t n = 0; n < 50; ++n) A[i][j] += x(n, i) * x(n, j);
    for (std::size_t n = 0; n < 50; ++n) A[i][3] += x(n, i) * yy(n, 0);
  }
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int row = col + 1; row < 3; ++row)
      if (std::abs(A[row][col]) > std::abs(A[pivot][col])) pivot = row;
    std::swap(A[col], A[pivot]);
    for (int row = 0; row < 3; ++row) {
      if (row == col) continue;
      const double f = A[row][col] / A[col][col];
      for (int j = col; j < 4; ++j) A[row][j] -= f * A[col][j];
    }
  }
  const std::vector<double> w_star = {A[0][3] / A[0][0], A[1][3] / A[1][1], A[2][3] / A[2][2]};
  CHECK(w_star[0] == doctest::Approx(2).epsilon(0.05));  // close to β: the noise is small
  CHECK(w_star[1] == doctest::Approx(-3).epsilon(0.05));

  Tensor w = zeros({3, 1}, TensorOptions(kFloat64).requires_grad(true));
  SGD::Options o;
  o.lr = 0.2;
  SGD opt({w}, o);
  int steps = 0;
  auto error = [&] {
    double e = 0;
    for (std::size_t i = 0; i < 3; ++i) e = std::max(e, std::abs(w.data<double>()(i, 0) - w_star[i]));
    return e;
  };
  while (error() >= 1e-6 && steps < 100) {  // needs 47
    opt.zero_grad();
    mean(square(matmul(X, w) - y)).backward();
    opt.step();
    ++steps;
  }
  CHECK(error() < 1e-6);
}

// ---- checkpoints ---------------------------------------------------------------------------------------------

TEST_CASE("optim: state saved, loaded into a new optimizer, resumes bit-identically") {
  using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;
  auto named = [](const char* name) {
    return Factory([=](std::vector<Tensor> p) { return make_optimizer(name, p, 0.05); });
  };
  std::vector<std::pair<std::string, Factory>> cases;
  for (const char* name : {"sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"})
    cases.emplace_back(name, named(name));
  cases.emplace_back("sgd dampening weight_decay", [](std::vector<Tensor> p) {
    SGD::Options o;
    o.lr = 0.05, o.momentum = 0.5, o.dampening = 0.3, o.weight_decay = 0.01;
    return std::make_unique<SGD>(p, o);
  });
  cases.emplace_back("adagrad lr_decay", [](std::vector<Tensor> p) {
    Adagrad::Options o;
    o.lr = 0.05, o.lr_decay = 0.1, o.initial_accumulator_value = 0.2;
    return std::make_unique<Adagrad>(p, o);
  });
  cases.emplace_back("rmsprop centered momentum", [](std::vector<Tensor> p) {
    RMSprop::Options o;
    o.lr = 0.01, o.momentum = 0.9, o.centered = true;
    return std::make_unique<RMSprop>(p, o);
  });
  cases.emplace_back("adam amsgrad", [](std::vector<Tensor> p) {
    Adam::Options o;
    o.lr = 0.05, o.weight_decay = 0.01, o.amsgrad = true;
    return std::make_unique<Adam>(p, o);
  });

  manual_seed(3);
  const Tensor X = randn({8, 3}, kFloat64), Y = randn({8, 2}, kFloat64);
  const Tensor W0 = randn({3, 4}, kFloat64), b0 = randn({4}, kFloat64), W1 = randn({4, 2}, kFloat64);
  auto fresh_params = [&] { return std::vector<Tensor>{W0.detach().requires_grad_(), b0.detach().requires_grad_(),
                                                       W1.detach().requires_grad_()}; };
  auto train = [&](Optimizer& opt, int steps) {
    const auto& p = opt.params();
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      mean(square(matmul(tanh(matmul(X, p[0]) + p[1]), p[2]) - Y)).backward();
      opt.step();
    }
  };
  for (const auto& [name, make] : cases) {
    CAPTURE(name);
    auto straight = make(fresh_params());
    train(*straight, 6);

    auto first = make(fresh_params());
    train(*first, 3);
    const NamedTensors saved = first->state();
    std::vector<Tensor> resumed_params;
    for (const auto& p : first->params()) resumed_params.push_back(p.detach().requires_grad_());
    train(*first, 3);  // keeps going: must not touch the saved copies

    auto resumed = make(resumed_params);
    resumed->load_state(saved);
    train(*resumed, 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(resumed->params()[i].data<double>() == straight->params()[i].data<double>());
      CHECK(first->params()[i].data<double>() == straight->params()[i].data<double>());
    }
  }
}

TEST_CASE("optim: load_state rejects wrong names, shapes, dtypes and partial state, changing nothing") {
  Tensor p = param({1.0, 2.0, 3.0}), W = zeros({2, 2}, TensorOptions(kFloat64).requires_grad(true));
  Adam opt({p, W});
  sum(p * 2.0 + sum(W)).backward();
  opt.step();
  const NamedTensors good = opt.state();
  REQUIRE(good.size() == 6);
  auto replaced = [&](std::size_t i, std::string name, Tensor t) {
    NamedTensors s = good;
    s[i] = {std::move(name), std::move(t)};
    return s;
  };
  const std::string expected = " (expected step.<i>, exp_avg.<i>, exp_avg_sq.<i> for parameters 0..1)";
  CHECK_THROWS_WITH(opt.load_state(replaced(1, "exp_avg.2", zeros({3}, kFloat64))),
                    ("Adam: load_state: unknown state name 'exp_avg.2'" + expected).c_str());
  CHECK_THROWS_WITH(opt.load_state(replaced(1, "momentum_buffer.0", zeros({3}, kFloat64))),
                    ("Adam: load_state: unknown state name 'momentum_buffer.0'" + expected).c_str());
  CHECK_THROWS_WITH(opt.load_state(replaced(1, "exp_avg", zeros({3}, kFloat64))),
                    ("Adam: load_state: unknown state name 'exp_avg'" + expected).c_str());
  CHECK_THROWS_WITH(opt.load_state(replaced(1, "exp_avg.0", zeros({2}, kFloat64))),
                    "Adam: load_state: 'exp_avg.0' is float64 [2], expected float64 [3] (as parameter #0)");
  CHECK_THROWS_WITH(opt.load_state(replaced(4, "exp_avg.1", zeros({2, 2}, kFloat32))),
                    "Adam: load_state: 'exp_avg.1' is float32 [2,2], expected float64 [2,2] (as parameter #1)");
  CHECK_THROWS_WITH(opt.load_state(replaced(0, "step.0", zeros({1}, kFloat64))),
                    "Adam: load_state: 'step.0' is float64 [1], expected float64 [] (a step count)");
  CHECK_THROWS_WITH(opt.load_state(replaced(0, "exp_avg.0", zeros({3}, kFloat64))),
                    "Adam: load_state: 'exp_avg.0' is given twice");
  NamedTensors partial(good.begin(), good.begin() + 2);  // step.0, exp_avg.0
  CHECK_THROWS_WITH(opt.load_state(partial),
                    "Adam: load_state: parameter #0 has only part of its state: 'exp_avg_sq.0' is missing");
  const NamedTensors after = opt.state();
  REQUIRE(after.size() == good.size());
  for (std::size_t i = 0; i < good.size(); ++i) CHECK(after[i].second.data<double>() == good[i].second.data<double>());
  opt.load_state({});  // no entries: every parameter starts afresh
  CHECK(opt.state().empty());
}

// ---- options, factory and errors -----------------------------------------------------------------------------

TEST_CASE("optim: make_optimizer knows the course's names and their defaults") {
  Tensor w = param(w0);
  auto sgd = make_optimizer("sgd", {w});
  CHECK(std::string(sgd->name()) == "SGD");
  CHECK(sgd->lr() == 0.01);
  auto momentum = make_optimizer("momentum", {w});
  CHECK(dynamic_cast<SGD&>(*momentum).options().momentum == 0.9);
  CHECK_FALSE(dynamic_cast<SGD&>(*momentum).options().nesterov);
  for (const char* name : {"nag", "nesterov", "NAG"}) {
    auto nag = make_optimizer(name, {w});
    CHECK(dynamic_cast<SGD&>(*nag).options().momentum == 0.9);
    CHECK(dynamic_cast<SGD&>(*nag).options().nesterov);
  }
  CHECK(make_optimizer("adagrad", {w})->lr() == 0.01);
  CHECK(dynamic_cast<Adagrad&>(*make_optimizer("adagrad", {w})).options().eps == 1e-10);
  auto adadelta = make_optimizer("adadelta", {w});
  CHECK(adadelta->lr() == 1.0);
  CHECK(dynamic_cast<Adadelta&>(*adadelta).options().rho == 0.9);
  CHECK(dynamic_cast<Adadelta&>(*adadelta).options().eps == 1e-6);
  auto rmsprop = make_optimizer("rmsprop", {w});
  CHECK(rmsprop->lr() == 0.01);
  CHECK(dynamic_cast<RMSprop&>(*rmsprop).options().alpha == 0.99);
  CHECK(dynamic_cast<RMSprop&>(*rmsprop).options().eps == 1e-8);
  auto adam = make_optimizer("Adam", {w});
  CHECK(std::string(adam->name()) == "Adam");
  CHECK(adam->lr() == 1e-3);
  CHECK(dynamic_cast<Adam&>(*adam).options().beta1 == 0.9);
  CHECK(dynamic_cast<Adam&>(*adam).options().beta2 == 0.999);
  CHECK(dynamic_cast<Adam&>(*adam).options().eps == 1e-8);
  CHECK(make_optimizer("adam", {w}, 0.05)->lr() == 0.05);
}

TEST_CASE("optim: bad input is refused with a message naming the optimizer, option and value") {
  Tensor w = param(w0);
  CHECK_THROWS_WITH(SGD({}), "SGD: given no parameters to optimize");
  CHECK_THROWS_WITH(make_optimizer("adam", {}), "Adam: given no parameters to optimize");
  CHECK_THROWS_WITH(SGD({tensor(w0, kFloat64)}), "SGD: parameter #0 is not a leaf tensor with requires_grad");
  CHECK_THROWS_WITH(construct<SGD>(w, [](auto& o) { o.lr = -0.1; }), "SGD: lr must be >= 0 and finite, got -0.1");
  CHECK_THROWS_WITH(make_optimizer("rmsprop", {w}, -0.5), "RMSprop: lr must be >= 0 and finite, got -0.5");
  Adam adam({w});
  CHECK_THROWS_WITH(adam.set_lr(-1e-3), "Adam: lr must be >= 0 and finite, got -0.001");
  CHECK(adam.lr() == 1e-3);
  CHECK_THROWS_WITH(construct<Adam>(w, [](auto& o) { o.beta1 = 1.0; }), "Adam: beta1 must be in [0, 1), got 1");
  CHECK_THROWS_WITH(construct<Adam>(w, [](auto& o) { o.beta2 = -0.5; }), "Adam: beta2 must be in [0, 1), got -0.5");
  CHECK_THROWS_WITH(construct<Adam>(w, [](auto& o) { o.eps = -1e-8; }), "Adam: eps must be >= 0, got -1e-08");
  CHECK_THROWS_WITH(construct<SGD>(w, [](auto& o) { o.momentum = -0.9; }), "SGD: momentum must be >= 0, got -0.9");
  CHECK_THROWS_WITH(construct<SGD>(w, [](auto& o) { o.nesterov = true; }),
                    "SGD: momentum must be > 0 with nesterov, got 0");
  CHECK_THROWS_WITH(construct<SGD>(w, [](auto& o) { o.momentum = 0.9, o.dampening = 0.1, o.nesterov = true; }),
                    "SGD: dampening must be 0 with nesterov, got 0.1");
  CHECK_THROWS_WITH(construct<Adagrad>(w, [](auto& o) { o.lr_decay = -1; }), "Adagrad: lr_decay must be >= 0, got -1");
  CHECK_THROWS_WITH(construct<Adadelta>(w, [](auto& o) { o.rho = 1.5; }), "Adadelta: rho must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH(construct<RMSprop>(w, [](auto& o) { o.alpha = -0.01; }),
                    "RMSprop: alpha must be in [0, 1], got -0.01");
  CHECK_THROWS_WITH(construct<RMSprop>(w, [](auto& o) { o.weight_decay = -1e-4; }),
                    "RMSprop: weight_decay must be >= 0, got -0.0001");
  CHECK_THROWS_WITH(make_optimizer("adamw", {w}), "make_optimizer: unknown optimizer 'adamw'; valid names: sgd, "
                                                  "momentum, nag, nesterov, adagrad, adadelta, rmsprop, adam");
}
