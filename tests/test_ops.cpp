// The op table: every differentiable op, gradchecked in float64 on at least two shapes (one broadcasting),
// with inputs kept away from kinks; then the chosen subgradients at the kinks, with exact values.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <utility>

#include <xtensor-blas/xlinalg.hpp>

#include <chainrule/autograd.hpp>

using namespace chainrule;

namespace {

enum class Domain { Any, Positive, AwayFromZero };

// Seeded values in [-2, 2], or (0.5, 2.5) for Positive; AwayFromZero keeps |x| ≥ 0.2 (kinks of relu, abs, ...).
Tensor input(const Shape& s, Domain dom, std::uint64_t seed) {
  manual_seed(seed);
  Tensor t = rand(s, kFloat64, -2, 2);
  for (auto& v : t.data<double>()) {
    if (dom == Domain::Positive) v = std::abs(v) + 0.5;
    if (dom == Domain::AwayFromZero && std::abs(v) < 0.2) v = v < 0 ? v - 0.2 : v + 0.2;
  }
  return t;
}

struct OpRow {
  const char* name;
  std::vector<std::vector<Shape>> cases;  // each case: the shapes of the inputs
  Function f;
  Domain domain = Domain::AwayFromZero;
};

const std::vector<Shape> S1 = {{3, 4}};
const std::vector<Shape> SB = {{2, 3, 4}};  // for unary ops: a 3-D case

std::vector<OpRow> op_table() {
  const std::vector<std::vector<Shape>> bin = {{{3, 4}, {3, 4}}, {{3, 4}, {1, 4}}, {{2, 1, 3}, {4, 1}}};
  const std::vector<std::vector<Shape>> un = {S1, SB, {{}}};
  return {
      {"add", bin, [](auto& x) { return add(x[0], x[1]); }},
      {"sub", bin, [](auto& x) { return sub(x[0], x[1]); }},
      {"mul", bin, [](auto& x) { return mul(x[0], x[1]); }},
      {"div", bin, [](auto& x) { return div(x[0], x[1]); }},
      {"neg", un, [](auto& x) { return neg(x[0]); }},
      {"pow", bin, [](auto& x) { return pow(x[0], x[1]); }, Domain::Positive},
      {"pow_scalar", un, [](auto& x) { return pow(x[0], 2.5); }, Domain::Positive},
      {"exp", un, [](auto& x) { return exp(x[0]); }},
      {"log", un, [](auto& x) { return log(x[0]); }, Domain::Positive},
      {"sqrt", un, [](auto& x) { return sqrt(x[0]); }, Domain::Positive},
      {"abs", un, [](auto& x) { return abs(x[0]); }},
      {"square", un, [](auto& x) { return square(x[0]); }},
      {"sin", un, [](auto& x) { return sin(x[0]); }},
      {"cos", un, [](auto& x) { return cos(x[0]); }},
      {"maximum", bin, [](auto& x) { return maximum(x[0], x[1]); }},
      {"minimum", bin, [](auto& x) { return minimum(x[0], x[1]); }},
      {"clamp", un, [](auto& x) { return clamp(x[0], -1.1, 0.9); }},
      {"where", {{{3, 4}, {3, 4}, {3, 4}}, {{3, 1}, {1, 4}, {3, 4}}},
       [](auto& x) { return where(gt(x[0], scalar_like(x[0], 0)), x[1], x[2]); }},
      {"sum", un, [](auto& x) { return sum(x[0]); }},
      {"sum_axes", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return sum(x[0], {0, -1}); }},
      {"sum_keepdims", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return sum(x[0], {-1}, true); }},
      {"mean", un, [](auto& x) { return mean(x[0]); }},
      {"mean_axes", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return mean(x[0], {1}, true); }},
      {"max", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return max(x[0]); }},
      {"max_axes", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return max(x[0], {-1}); }},
      {"reshape", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return reshape(x[0], {-1, 2}) * 1.5; }},
      {"transpose", {{{3, 4}}, {{4, 1}}}, [](auto& x) { return transpose(x[0]); }},
      {"permute", {{{2, 3, 4}}, {{4, 1, 2}}}, [](auto& x) { return permute(x[0], {2, 0, 1}); }},
      {"broadcast_to", {{{1, 4}}, {{3, 1}}}, [](auto& x) { return broadcast_to(x[0], {2, 3, 4}); }},
      {"concat", {{{3, 4}, {2, 4}}, {{2, 3, 4}, {1, 3, 4}}}, [](auto& x) { return concat({x[0], x[1], x[0]}, 0); }},
      {"concat_axis1", {{{3, 4}, {3, 2}}, {{2, 3, 4}, {2, 3, 1}}}, [](auto& x) { return concat({x[0], x[1]}, -1); }},
      {"gather", {{{4, 3}}, {{4, 5}}}, [](auto& x) { return gather(x[0], {2, 0, 1, 2}); }},
      {"narrow", {{{5, 4}}, {{2, 6, 3}}}, [](auto& x) { return narrow(x[0], 1, 1, 2); }},
      {"clone", un, [](auto& x) { return clone(x[0]); }},
      {"matmul", {{{3, 4}, {4, 5}}, {{2, 3, 4}, {4, 2}}, {{2, 3, 4}, {2, 4, 5}}, {{4}, {4, 3}}},
       [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul_t", {{{3, 4}, {4, 5}}}, [](auto& x) { return matmul_t(x[0], x[1], false, false); }},
      {"matmul_t_a", {{{4, 3}, {4, 5}}}, [](auto& x) { return matmul_t(x[0], x[1], true, false); }},
      {"matmul_t_b", {{{3, 4}, {5, 4}}}, [](auto& x) { return matmul_t(x[0], x[1], false, true); }},
      {"matmul_t_ab", {{{4, 3}, {5, 4}}}, [](auto& x) { return matmul_t(x[0], x[1], true, true); }},
      {"affine", {{{3, 4}, {4, 5}, {5}}, {{2, 3, 4}, {4, 2}, {2}}, {{4}, {4, 3}, {3}}},
       [](auto& x) { return affine(x[0], x[1], x[2]); }},
      {"linear", un, [](auto& x) { return linear(x[0], 0.7, -0.3); }},
      {"piecewise_linear", un, [](auto& x) { return piecewise_linear(x[0], -1.5, 1.7); }},
      {"sigmoid", un, [](auto& x) { return sigmoid(x[0]); }},
      {"gaussian", un, [](auto& x) { return gaussian(x[0]); }},
      {"tanh", un, [](auto& x) { return tanh(x[0]); }},
      {"relu", un, [](auto& x) { return relu(x[0]); }},
      {"leaky_relu", un, [](auto& x) { return leaky_relu(x[0], 0.1); }},
      {"softmax", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return softmax(x[0]); }},
      {"softmax_axis0", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return softmax(x[0], 0); }},
      {"log_softmax", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return log_softmax(x[0]); }},
      {"log_softmax_axis1", {{{3, 4}}, {{2, 3, 4}}}, [](auto& x) { return log_softmax(x[0], 1); }},
  };
}

}  // namespace

TEST_CASE("ops: every op's gradient matches central differences (float64)") {
  for (const auto& row : op_table()) {
    for (std::size_t c = 0; c < row.cases.size(); ++c) {
      std::vector<Tensor> in;
      for (std::size_t i = 0; i < row.cases[c].size(); ++i) in.push_back(input(row.cases[c][i], row.domain, 17 * c + i));
      GradcheckResult r = gradcheck(row.f, in);
      INFO(row.name, " case ", c, ": ", r);
      CHECK(r);
      CHECK(r.checked > 0);
    }
  }
}

// torch's gradgradcheck on the same rows: the backward recorded under create_graph is itself differentiated
// (with respect to the inputs and to the upstream gradient) and compared with central differences.
TEST_CASE("ops: every op's second derivative matches central differences of its gradient (gradgradcheck, float64)") {
  for (const auto& row : op_table()) {
    for (std::size_t c = 0; c < row.cases.size(); ++c) {
      std::vector<Tensor> in;
      for (std::size_t i = 0; i < row.cases[c].size(); ++i) in.push_back(input(row.cases[c][i], row.domain, 17 * c + i));
      GradcheckResult r = gradgradcheck(row.f, in);
      INFO(row.name, " case ", c, ": ", r);
      CHECK(r);
      CHECK(r.checked > 0);
    }
  }
}

// Forward mode on the same rows: one pass carrying tangents (jvp) gives J·v, J from the reverse mode (one
// backward per output element). Both are exact derivatives: they agree to rounding.
TEST_CASE("ops: every op's forward-mode tangent equals the reverse-mode Jacobian times v (jvp, float64)") {
  for (const auto& row : op_table()) {
    for (std::size_t c = 0; c < row.cases.size(); ++c) {
      std::vector<Tensor> in, v;
      for (std::size_t i = 0; i < row.cases[c].size(); ++i) {
        in.push_back(input(row.cases[c][i], row.domain, 17 * c + i));
        v.push_back(input(row.cases[c][i], Domain::Any, 1000 + 17 * c + i));
      }
      const auto [y, jv] = jvp(row.f, in, v);
      const std::vector<Tensor> j = jacobian(row.f, in);
      const long m = long(y.numel());
      Tensor ref = zeros({std::size_t(m), 1}, kFloat64);
      for (std::size_t i = 0; i < in.size(); ++i)
        ref = ref + matmul(reshape(j[i], {m, long(in[i].numel())}), reshape(v[i], {-1, 1}));
      INFO(row.name, " case ", c);
      REQUIRE(jv.shape() == y.shape());
      CHECK_FALSE(jv.requires_grad());
      CHECK(test::values(y) == test::values(row.f(in)));
      double worst = 0;
      const double* a = std::as_const(jv).data<double>().data();
      const double* b = std::as_const(ref).data<double>().data();
      for (long k = 0; k < m; ++k) worst = std::max(worst, std::abs(a[k] - b[k]) / std::max(1.0, std::abs(b[k])));
      CHECK(worst < 1e-13);
    }
  }
}

TEST_CASE("ops: step passes no gradient (its derivative is 0 wherever it exists)") {
  Tensor x = tensor({-1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  Tensor y = step(x);
  CHECK(std::as_const(y).data<double>() == Array<double>({0, 1, 1}));  // a const read: not an in-place write
  sum(y).backward();
  CHECK(x.grad().data<double>() == Array<double>({0, 0, 0}));
}

TEST_CASE("ops: subgradients at the kinks are torch's") {
  Tensor x = tensor({-1.0, 0.0, 1.0}, kFloat64).requires_grad_();
  SUBCASE("relu'(0) = 0") {
    sum(relu(x)).backward();
    CHECK(x.grad().data<double>() == Array<double>({0, 0, 1}));
  }
  SUBCASE("abs'(0) = 0") {
    sum(abs(x)).backward();
    CHECK(x.grad().data<double>() == Array<double>({-1, 0, 1}));
  }
  SUBCASE("leaky_relu'(0) = slope") {
    sum(leaky_relu(x, 0.25)).backward();
    CHECK(x.grad().data<double>() == Array<double>({0.25, 0.25, 1}));
  }
  SUBCASE("clamp passes the gradient at its bounds") {
    sum(clamp(x, -1, 1)).backward();
    CHECK(x.grad().data<double>() == Array<double>({1, 1, 1}));
  }
  SUBCASE("maximum/minimum split ties in half") {
    Tensor z = tensor({0.0, 0.0, 0.0}, kFloat64).requires_grad_();
    sum(maximum(x, z) + minimum(x, z)).backward();
    CHECK(x.grad().data<double>() == Array<double>({1, 1, 1}));
    CHECK(z.grad().data<double>() == Array<double>({1, 1, 1}));
  }
  SUBCASE("max shares the gradient among ties") {
    Tensor t = tensor({{1.0, 3.0, 3.0}, {2.0, 0.0, 1.0}}, kFloat64).requires_grad_();
    sum(max(t, {1})).backward();
    CHECK(t.grad().data<double>() == Array<double>({{0, 0.5, 0.5}, {1, 0, 0}}));
  }
}

TEST_CASE("ops: fused activations equal their composites (value and gradient, float64)") {
  Tensor x = input({4, 5}, Domain::AwayFromZero, 3).requires_grad_();
  auto same = [&](const std::function<Tensor(const Tensor&)>& fused, const std::function<Tensor(const Tensor&)>& comp) {
    Tensor a = x.detach().requires_grad_(), b = x.detach().requires_grad_();
    Tensor ya = fused(a), yb = comp(b);
    CHECK(xt::allclose(std::as_const(ya).data<double>(), std::as_const(yb).data<double>(), 1e-12, 1e-12));
    Tensor w = input({4, 5}, Domain::Any, 9);
    sum(ya * w).backward();
    sum(yb * w).backward();
    CHECK(xt::allclose(a.grad().data<double>(), b.grad().data<double>(), 1e-12, 1e-12));
  };
  same([](auto& t) { return sigmoid(t); }, [](auto& t) { return 1.0 / (1.0 + exp(-t)); });
  same([](auto& t) { return tanh(t); }, [](auto& t) { return 2.0 / (1.0 + exp(-2.0 * t)) - 1.0; });  // the course's form
  same([](auto& t) { return relu(t); }, [](auto& t) { return maximum(t, zeros_like(t)); });
  same([](auto& t) { return leaky_relu(t, 0.1); }, [](auto& t) { return where(gt(t, zeros_like(t)), t, 0.1 * t); });
  same([](auto& t) { return softmax(t); }, [](auto& t) { return exp(t) / sum(exp(t), {-1}, true); });
  same([](auto& t) { return log_softmax(t); }, [](auto& t) { return t - log(sum(exp(t), {-1}, true)); });
}

TEST_CASE("ops: the fused affine equals matmul(x, W) + b (value and every gradient, float64)") {
  Tensor g = input({4, 3}, Domain::Any, 12);
  auto run = [&](bool fused) {
    Tensor x = input({4, 5}, Domain::Any, 13).requires_grad_(), w = input({5, 3}, Domain::Any, 14).requires_grad_();
    Tensor b = input({3}, Domain::Any, 15).requires_grad_();
    Tensor y = fused ? affine(x, w, b) : matmul(x, w) + b;
    y.backward(g);
    return std::vector<Array<double>>{y.data<double>(), x.grad().data<double>(), w.grad().data<double>(),
                                      b.grad().data<double>()};
  };
  auto fused = run(true), composite = run(false);
  for (std::size_t i = 0; i < fused.size(); ++i) CHECK(xt::allclose(fused[i], composite[i], 1e-12, 1e-12));
}

TEST_CASE("ops: softmax and log_softmax stay finite for logits of ±1e4") {
  Tensor x = tensor({{1e4, -1e4, 0.0}, {-1e4, -1e4, -1e4}});
  Tensor p = softmax(x), lp = log_softmax(x);
  CHECK(xt::all(xt::isfinite(p.data<float>())));
  CHECK(xt::all(xt::isfinite(lp.data<float>())));
  CHECK(p.data<float>()(0, 0) == 1.0f);
  CHECK(lp.data<float>()(1, 0) == doctest::Approx(-std::log(3.0)));
  CHECK(sigmoid(tensor({-1e4, 1e4})).data<float>() == Array<float>({0, 1}));
}

namespace {
// Distance in units in the last place between two floats (0 for two NaNs).
std::int64_t ulps(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT32_MAX;
  auto ordered = [](float f) {
    std::int32_t i = 0;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? std::int64_t(INT32_MIN) - i : std::int64_t(i);
  };
  return std::abs(ordered(a) - ordered(b));
}
}  // namespace

// float32 exp, log, tanh and sigmoid run on SIMD batches (xsimd) rather than libm: checked on every 4099th float32
// bit pattern (1M values, NaN, ±inf, subnormals included) against the float64 function rounded to float32.
// libm's float32 functions measure the same way: exp, log 1 ULP, tanh 2, sigmoid 2.
TEST_CASE("ops: float32 exp, log, tanh, sigmoid are within 1 ULP (sigmoid 2) of the correctly rounded value") {
  std::vector<float> xs;
  for (std::uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4099) {
    const auto u = std::uint32_t(b);
    float f = 0;
    std::memcpy(&f, &u, sizeof f);
    xs.push_back(f);
  }
  Array<float> a = Array<float>::from_shape({xs.size()});
  std::copy(xs.begin(), xs.end(), a.begin());
  const Tensor x(a);
  struct Row {
    const char* name;
    Tensor y;
    double (*exact)(double);
    std::int64_t max_ulps;
  };
  const Row rows[] = {{"exp", exp(x), [](double v) { return std::exp(v); }, 1},
                      {"log", log(x), [](double v) { return std::log(v); }, 1},
                      {"tanh", tanh(x), [](double v) { return std::tanh(v); }, 1},
                      {"sigmoid", sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); }, 2}};
  for (const Row& r : rows) {
    const std::string op = r.name;
    CAPTURE(op);
    const auto& y = r.y.data<float>();
    std::int64_t worst = 0;
    float worst_x = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      // sigmoid below −88.72: e^−x overflows float32, y = 0 where the exact value is subnormal (as torch's)
      if (r.name == std::string("sigmoid") && std::exp(-double(xs[i])) > std::numeric_limits<float>::max()) {
        CHECK(y(i) == 0);
        continue;
      }
      const std::int64_t d = ulps(y(i), float(r.exact(xs[i])));
      if (d > worst) worst = d, worst_x = xs[i];
    }
    CAPTURE(worst_x);
    CHECK(worst <= r.max_ulps);
  }
  // 2 threads: every value computed as on one
  const int threads = get_num_threads();
  set_num_threads(2);
  for (const Row& r : rows) {
    const std::string op = r.name;
    CAPTURE(op);
    const Tensor y2 = r.name == std::string("exp")    ? exp(x)
                      : r.name == std::string("log")  ? log(x)
                      : r.name == std::string("tanh") ? tanh(x)
                                                      : sigmoid(x);
    CHECK(std::memcmp(y2.data<float>().data(), r.y.data<float>().data(), xs.size() * sizeof(float)) == 0);
  }
  set_num_threads(threads);
}

TEST_CASE("ops: float32 exp, log, tanh, sigmoid at the edges: ±0, ±inf, NaN, overflow, subnormal results") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = tensor(std::vector<double>{0.0, -0.0, inf, -inf, nan, 88.5, 89, -87.5, -100, -104, 1e-40, -1e-40});
  const auto e = exp(x).data<float>(), l = log(x).data<float>(), t = tanh(x).data<float>(), s = sigmoid(x).data<float>();
  for (std::size_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()(i);
    CAPTURE(v);
    CHECK(ulps(e(i), std::exp(v)) == 0);  // libm's bits at the edges: overflow to inf, subnormal results, 0
    CHECK(ulps(l(i), std::log(v)) == 0);
    CHECK(ulps(t(i), std::tanh(v)) == 0);
    CHECK(std::signbit(t(i)) == std::signbit(std::tanh(v)));
    if (std::exp(-double(v)) > std::numeric_limits<float>::max())
      CHECK(s(i) == 0);  // e^−x overflows float32 (as torch's)
    else
      CHECK(ulps(s(i), float(1 / (1 + std::exp(-double(v))))) <= 1);
  }
}

TEST_CASE("ops: comparisons give 1/0 and record nothing") {
  Tensor a = tensor({1.0, 2.0, 3.0}).requires_grad_(), b = tensor({2.0});
  CHECK(gt(a, b).data<float>() == Array<float>({0, 0, 1}));
  CHECK(lt(a, b).data<float>() == Array<float>({1, 0, 0}));
  CHECK(ge(a, b).data<float>() == Array<float>({0, 1, 1}));
  CHECK(le(a, b).data<float>() == Array<float>({1, 1, 0}));
  CHECK(eq(a, b).data<float>() == Array<float>({0, 1, 0}));
  CHECK(ne(a, b).data<float>() == Array<float>({1, 0, 1}));
  CHECK_FALSE(gt(a, b).requires_grad());
}

TEST_CASE("ops: errors name the op and the shapes") {
  using test::message;
  CHECK(message([] { matmul(zeros({32, 784}), zeros({128, 64})); }) ==
        "matmul: [32,784] x [128,64]: inner dimensions 784 and 128 differ");
  CHECK(message([] { add(zeros({3, 4}), zeros({2, 4})); }) ==
        "add: shapes [3,4] and [2,4] cannot broadcast (axis 0: 3 vs 2)");
  CHECK(message([] { mul(zeros({2}), zeros({2}, kFloat64)); }) ==
        "mul: dtypes differ: float32 and float64 (convert one with .to())");
  CHECK(message([] { reshape(zeros({3, 4}), {5, -1}); }) ==
        "reshape: cannot view [3,4] (12 elements) as [5,2]");
  CHECK(message([] { gather(zeros({2, 3}), {0, 3}); }) ==
        "gather: index 3 at row 1 is out of range for 3 classes");
  CHECK(message([] { sum(zeros({2, 3}), {2}); }) == "sum: axis 2 out of range for shape [2,3]");
  CHECK(message([] { concat({zeros({2, 3}), zeros({2, 4})}, 0); }) ==
        "concat: tensor #1 has shape [2,4], which differs from [2,3] off axis 0");
  CHECK(message([] { clamp(zeros({1}), 1, 0); }).rfind("clamp: lo", 0) == 0);
}

TEST_CASE("ops: matmul equals a naive triple loop, float32 and float64, every shape form") {
  manual_seed(5);
  for (Dtype dt : {kFloat32, kFloat64}) {
    Tensor a = randn({2, 3, 4}, dt), b = randn({4, 5}, dt);
    Tensor y = matmul(a, b);
    CHECK(y.shape() == Shape{2, 3, 5});
    Tensor a64 = a.to(kFloat64), b64 = b.to(kFloat64), y64 = y.to(kFloat64);
    double worst = 0;
    for (std::size_t i = 0; i < 6; ++i)
      for (std::size_t j = 0; j < 5; ++j) {
        double s = 0;
        for (std::size_t k = 0; k < 4; ++k) s += a64.data<double>().data()[i * 4 + k] * b64.data<double>()(k, j);
        worst = std::max(worst, std::abs(s - y64.data<double>().data()[i * 5 + j]));
      }
    CHECK(worst < (dt == kFloat32 ? 1e-5 : 1e-13));
  }
  CHECK(matmul(zeros({3, 0}), zeros({0, 2})).data<float>() == Array<float>(xt::zeros<float>({3, 2})));
}

TEST_CASE("ops: matmul and its gradients agree with xtensor-blas' dot (an independent reference)") {
  manual_seed(6);
  Tensor a = randn({5, 7}, kFloat64).requires_grad_(), b = randn({7, 3}, kFloat64).requires_grad_();
  Tensor g = randn({5, 3}, kFloat64);
  Tensor y = matmul(a, b);
  y.backward(g);
  const auto& A = a.data<double>();
  const auto& B = b.data<double>();
  const auto& G = g.data<double>();
  CHECK(xt::allclose(y.data<double>(), xt::linalg::dot(A, B), 1e-14, 1e-14));
  CHECK(xt::allclose(a.grad().data<double>(), xt::linalg::dot(G, xt::transpose(B)), 1e-14, 1e-14));
  CHECK(xt::allclose(b.grad().data<double>(), xt::linalg::dot(xt::transpose(A), G), 1e-14, 1e-14));
}

TEST_CASE("ops: printing reads like torch") {
  std::ostringstream s;
  s << tensor({{1.0, 2.0}, {3.0, 4.5}}, kFloat64);
  CHECK(s.str() == "tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]], dtype=float64)");
  std::ostringstream t;
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  t << x << " " << x * x;
  CHECK(t.str() == "tensor([1.0000, 2.0000], requires_grad=true) tensor([1.0000, 4.0000], grad_fn=<mul>)");
  std::ostringstream u;
  u << tensor({{0.5, -12.0}, {3.0, 4.0}});  // right-aligned to a common width, as torch prints
  CHECK(u.str() == "tensor([[  0.5000, -12.0000],\n        [  3.0000,   4.0000]])");
}
