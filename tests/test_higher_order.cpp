// Higher-order gradients: backward(create_graph), grad(), gradgradcheck, autograd/functional.hpp and double
// backward through nn, against closed forms and torch float64 (tests/reference/generate_higher_order.py).
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <malloc.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {

const nlohmann::json& higher_order_reference() {
  static const nlohmann::json j = [] {
    std::ifstream in(CHAINRULE_TEST_DATA "/higher_order.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor from_json(const nlohmann::json& v, const Shape& s, TensorOptions o = kFloat64) {
  return from_vector(v.get<std::vector<double>>(), s, o);
}

// Largest |t − expected| over the elements (row-major), or inf on a size mismatch.
double worst_error(const Tensor& t, const nlohmann::json& expected) {
  const std::vector<double> a = test::values(t), e = expected.get<std::vector<double>>();
  if (a.size() != e.size()) return INFINITY;
  double w = 0;
  for (std::size_t i = 0; i < a.size(); ++i) w = std::max(w, std::abs(a[i] - e[i]));
  return w;
}

// Minor page faults of the calling thread so far.
long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

GradOptions create_graph() {
  GradOptions o;
  o.create_graph = true;
  return o;
}

}  // namespace

TEST_CASE("higher order: y = x³ differentiated three times at x = 2 gives 12, 12, 6 (grad, create_graph)") {
  Tensor x = tensor(2.0, kFloat64).requires_grad_();
  Tensor y = x * x * x;
  Tensor d1 = grad({y}, {x}, create_graph())[0];
  CHECK(d1.item() == 12);  // 3x²
  CHECK_FALSE(d1.is_leaf());
  Tensor d2 = grad({d1}, {x}, create_graph())[0];
  CHECK(d2.item() == 12);  // 6x
  Tensor d3 = grad({d2}, {x}, create_graph())[0];
  CHECK(d3.item() == 6);
  CHECK_FALSE(x.grad().defined());  // grad() leaves .grad alone
}

TEST_CASE("higher order: backward(create_graph) makes .grad differentiable; the graph is retained by default") {
  Tensor x = tensor(2.0, kFloat64).requires_grad_();
  Tensor y = x * x * x;
  y.backward({.create_graph = true});
  Tensor g = x.grad();
  CHECK(g.item() == 12);
  CHECK_FALSE(g.is_leaf());
  CHECK(g.requires_grad());
  y.backward(retain_graph);  // retain_graph defaulted to create_graph: the graph is still there (and g's
                             // graph runs through it, so keep it); x.grad, which has a graph, adds out of place
  CHECK(x.grad().item() == 24);
  CHECK(g.item() == 12);
  x.zero_grad(true);  // as in torch: drop x.grad (its graph refers to x) before differentiating it
  g.backward();
  CHECK(x.grad().item() == 12);  // y'' = 6x
  SUBCASE("without create_graph the gradient is a plain leaf, as before") {
    Tensor z = tensor(3.0, kFloat64).requires_grad_();
    (z * z).backward();
    CHECK(z.grad().is_leaf());
    CHECK_FALSE(z.grad().requires_grad());
  }
  SUBCASE("a first-order backward into a grad that has a graph leaves that graph unchanged") {
    Tensor z = tensor(3.0, kFloat64).requires_grad_();
    Tensor w = z * z;
    w.backward({.create_graph = true});
    Tensor g1 = z.grad();  // 2z = 6, with a graph
    (z * 5.0).backward();  // adds 5 out of place
    CHECK(z.grad().item() == 11);
    CHECK(g1.item() == 6);
    z.zero_grad(true);
    g1.backward();
    CHECK(z.grad().item() == 2);
  }
}

TEST_CASE("higher order: grad() sums several outputs with grad_outputs, and names what it cannot do") {
  Tensor a = tensor({1.0, 2.0}, kFloat64).requires_grad_(), b = tensor({3.0, -1.0}, kFloat64).requires_grad_();
  Tensor unused = tensor(1.0, kFloat64).requires_grad_();
  Tensor y1 = a * b, y2 = sum(a * a);
  GradOptions o;
  o.grad_outputs = {tensor({1.0, 10.0}, kFloat64), tensor(2.0, kFloat64)};
  o.retain_graph = true;
  std::vector<Tensor> g = grad({y1, y2}, {a, b}, o);
  CHECK(test::values(g[0]) == std::vector<double>{3 + 4 * 1.0, -10 + 4 * 2.0});  // v₁⊙b + v₂·2a
  CHECK(test::values(g[1]) == std::vector<double>{1, 20});                        // v₁⊙a
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK(test::message([&] { grad({y2}, {a, unused}, {{}, true}); }) ==
        "grad: input #1 was not used to compute the outputs (pass allow_unused = true to get an undefined tensor "
        "for it)");
  GradOptions allow;
  allow.allow_unused = true;
  allow.retain_graph = true;
  CHECK_FALSE(grad({y2}, {a, unused}, allow)[1].defined());
  CHECK(test::message([&] { grad({y1}, {a}, {{}, true}); }) ==
        "grad: output #0 has shape [2]; pass grad_outputs for outputs that are not scalars");
  CHECK(test::message([&] { grad({y2}, {tensor(1.0)}, {{}, true}); }) == "grad: input #0 does not require grad");
  SUBCASE("an intermediate tensor as input, and .grad kept where it was") {
    sum(a).backward();
    Tensor h = a * 3.0;
    Tensor y = sum(h * h);
    CHECK(test::values(grad({y}, {h})[0]) == std::vector<double>{6, 12});  // 2h
    CHECK(test::values(a.grad()) == std::vector<double>{1, 1});
  }
  SUBCASE("create_graph through an op without a Tensor backward names the op") {
    Tensor x = tensor({1.0}, kFloat64).requires_grad_();
    Tensor y = record<double>("my_op", Array<double>(x.data<double>()), {x},
                              [](auto& d, const Array<double>& gr, const auto&, const auto&) { d(0, gr); });
    CHECK(test::message([&] { grad({sum(y)}, {x}, create_graph()); }) ==
          "my_op: backward is not differentiable (create_graph = true)");
  }
}

TEST_CASE("higher order: 1st, 2nd and 3rd derivatives of every elementwise op equal torch's (float64)") {
  const std::map<std::string, std::function<Tensor(const Tensor&)>> ops = {
      {"neg", [](auto& x) { return -x; }},
      {"exp", [](auto& x) { return exp(x); }},
      {"log", [](auto& x) { return log(x); }},
      {"sqrt", [](auto& x) { return sqrt(x); }},
      {"abs", [](auto& x) { return abs(x); }},
      {"square", [](auto& x) { return square(x); }},
      {"sin", [](auto& x) { return sin(x); }},
      {"cos", [](auto& x) { return cos(x); }},
      {"pow_scalar", [](auto& x) { return pow(x, 2.5); }},
      {"sigmoid", [](auto& x) { return sigmoid(x); }},
      {"tanh", [](auto& x) { return tanh(x); }},
      {"gaussian", [](auto& x) { return gaussian(x); }},
      {"relu", [](auto& x) { return relu(x); }},
      {"leaky_relu", [](auto& x) { return leaky_relu(x, 0.1); }},
      {"clamp", [](auto& x) { return clamp(x, -1.1, 0.9); }},
      {"linear", [](auto& x) { return linear(x, 0.7, -0.3); }},
  };
  const auto& ref = higher_order_reference()["ops"];
  CHECK(ref.size() == ops.size());
  for (const auto& [name, f] : ops) {
    const auto& r = ref.at(name);
    Tensor x = from_json(r["x"], {4}).requires_grad_();
    Tensor y = sum(f(x));
    GradOptions o = create_graph();
    o.allow_unused = true;
    for (const char* order : {"d1", "d2", "d3"}) {
      Tensor g = y.requires_grad() ? grad({y}, {x}, o)[0] : Tensor();
      if (!g.defined()) g = zeros_like(x);  // y no longer depends on x: the derivative is 0
      INFO(name, " ", order);
      CHECK(worst_error(g, r[order]) < 1e-12);
      y = sum(g);
    }
  }
}

TEST_CASE("higher order: mixed second derivatives of the binary ops are the closed forms") {
  Tensor a = tensor({0.7, 1.9}, kFloat64), b = tensor({1.3, -0.4}, kFloat64);
  auto hess = [&](const std::function<Tensor(const Tensor&, const Tensor&)>& f) {
    return hessian([&](const std::vector<Tensor>& x) { return sum(f(x[0], x[1])); }, {a, b});
  };
  auto diag = [](const Tensor& h) { return std::vector<double>{h.data<double>()(0, 0), h.data<double>()(1, 1)}; };
  const auto& A = a.data<double>();
  const auto& B = b.data<double>();
  // mul: ∂²/∂a∂b = 1, ∂²/∂a² = 0
  auto h = hess([](auto& x, auto& y) { return x * y; });
  CHECK(diag(h[0][1]) == std::vector<double>{1, 1});
  CHECK(diag(h[0][0]) == std::vector<double>{0, 0});
  // div: ∂²/∂a∂b = −1/b², ∂²/∂b² = 2a/b³
  h = hess([](auto& x, auto& y) { return x / y; });
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(diag(h[0][1])[i] == doctest::Approx(-1 / (B(i) * B(i))).epsilon(1e-14));
    CHECK(diag(h[1][1])[i] == doctest::Approx(2 * A(i) / (B(i) * B(i) * B(i))).epsilon(1e-14));
  }
  // pow: ∂²/∂a∂b = a^(b−1)(1 + b ln a), ∂²/∂b² = a^b ln² a
  h = hess([](auto& x, auto& y) { return pow(x, y); });
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(diag(h[0][1])[i] == doctest::Approx(std::pow(A(i), B(i) - 1) * (1 + B(i) * std::log(A(i)))).epsilon(1e-13));
    CHECK(diag(h[1][1])[i] == doctest::Approx(std::pow(A(i), B(i)) * std::log(A(i)) * std::log(A(i))).epsilon(1e-13));
  }
  // maximum/minimum, where: piecewise linear, so every second derivative is 0
  for (auto f : std::vector<std::function<Tensor(const Tensor&, const Tensor&)>>{
           [](auto& x, auto& y) { return maximum(x, y) * 2.0; }, [](auto& x, auto& y) { return minimum(x, y); },
           [](auto& x, auto& y) { return where(x > 1.0, x, y); }}) {
    h = hess(f);
    for (const auto& row : h)
      for (const auto& block : row) CHECK(test::values(block) == std::vector<double>(4, 0.0));
  }
}

TEST_CASE("higher order: hessian, hvp, jacobian, vjp and jvp equal torch.autograd.functional (float64, 1e-10)") {
  const auto& r = higher_order_reference()["functional"];
  Tensor x4 = from_json(r["x4"], {4}), v4 = from_json(r["v4"], {4});
  Tensor x = from_json(r["x"], {2, 3}), w = from_json(r["w"], {3, 2});
  Tensor vx = from_json(r["vx"], {2, 3}), vw = from_json(r["vw"], {3, 2}), u = from_json(r["u"], {2, 2});
  Tensor c = from_json(r["c"], {2, 3});
  auto scalar = [](const Tensor& t) { return sum(exp(t) * sin(t)) + sum(t * t * t) / 3.0 + sum(tanh(t) * log(t)); };
  auto two = [](const std::vector<Tensor>& t) { return sum(square(sigmoid(matmul(t[0], t[1])))); };
  auto soft = [&c](const Tensor& t) { return sum(softmax(t, -1) * c) + sum(log_softmax(t, 0) * c); };
  auto vec = [](const std::vector<Tensor>& t) { return softmax(tanh(matmul(t[0], t[1])), -1); };

  CHECK(worst_error(hessian(scalar, x4), r["scalar_hessian"]) < 1e-10);
  auto [value, hv] = hvp(scalar, x4, v4);
  CHECK(value.item() == doctest::Approx(r["scalar_value"].get<double>()).epsilon(1e-14));
  CHECK(worst_error(hv, r["scalar_hvp"]) < 1e-10);
  auto h = hessian(two, {x, w});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 2; ++j) CHECK(worst_error(h[i][j], r["two_hessian"][i][j]) < 1e-10);
  CHECK(h[0][1].shape() == Shape{2, 3, 3, 2});
  auto hv2 = hvp(two, {x, w}, {vx, vw}).second;
  CHECK(worst_error(hv2[0], r["two_hvp"][0]) < 1e-10);
  CHECK(worst_error(hv2[1], r["two_hvp"][1]) < 1e-10);
  CHECK(worst_error(hessian(soft, x), r["soft_hessian"]) < 1e-10);
  auto j = jacobian(vec, {x, w});
  CHECK(j[0].shape() == Shape{2, 2, 2, 3});
  CHECK(worst_error(j[0], r["vec_jacobian"][0]) < 1e-10);
  CHECK(worst_error(j[1], r["vec_jacobian"][1]) < 1e-10);
  auto [y, vj] = vjp(vec, {x, w}, u);
  CHECK(worst_error(y, r["vec_value"]) < 1e-15);
  CHECK(worst_error(vj[0], r["vec_vjp"][0]) < 1e-10);
  CHECK(worst_error(vj[1], r["vec_vjp"][1]) < 1e-10);
  CHECK(worst_error(jvp(vec, {x, w}, {vx, vw}).second, r["vec_jvp"]) < 1e-10);
  // The results have no graph, and the inputs were not touched.
  CHECK_FALSE(hv.requires_grad());
  CHECK_FALSE(x.requires_grad());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("higher order: jvp equals the Jacobian times v, and functional works in float32") {
  manual_seed(21);
  Tensor x = randn({3, 2}, kFloat64), w = randn({2, 4}, kFloat64), vx = randn({3, 2}, kFloat64),
         vw = randn({2, 4}, kFloat64);
  auto f = [](const std::vector<Tensor>& t) { return tanh(matmul(t[0], t[1])) * t[0].size(0); };
  auto j = jacobian(f, {x, w});
  Tensor jv = reshape(matmul(reshape(j[0], {12, 6}), reshape(vx, {6, 1})) +
                          matmul(reshape(j[1], {12, 8}), reshape(vw, {8, 1})),
                      {3, 4});
  Tensor direct = jvp(f, {x, w}, {vx, vw}).second;
  CHECK(xt::allclose(direct.data<double>(), jv.data<double>(), 1e-13, 1e-13));
  // float32: f(x) = Σ x³, H = diag(6x), H·v = 6x ⊙ v
  Tensor x32 = tensor({1.0, -2.0, 0.5}), v32 = tensor({2.0, 1.0, -4.0});
  auto cube = [](const Tensor& t) { return sum(t * t * t); };
  CHECK(test::values(hvp(cube, x32, v32).second) == std::vector<double>{12, -12, -12});
  Tensor h32 = hessian(cube, x32);
  CHECK(h32.dtype() == kFloat32);
  CHECK(test::values(h32) == std::vector<double>{6, 0, 0, 0, -12, 0, 0, 0, 3});
  CHECK(test::values(jacobian([](const Tensor& t) { return t * t; }, x32)) ==
        std::vector<double>{2, 0, 0, 0, -4, 0, 0, 0, 1});
  SUBCASE("create_graph: a result can be differentiated again (third derivative of Σ x³ is 6)") {
    Tensor xs = tensor({1.0, -2.0}, kFloat64).requires_grad_();
    Tensor h = hvp(cube, xs, ones_like(xs), true).second;  // 6x
    CHECK(h.requires_grad());
    CHECK(test::values(grad({sum(h)}, {xs})[0]) == std::vector<double>{6, 6});
  }
  CHECK(test::message([&] { hessian([](const Tensor& t) { return t; }, x32); }) ==
        "hessian: f must return a single value, got shape [3]");
}

namespace {
// y = x³ as a custom op with a differentiable backward and no tangent rule     ∂x = g ⊙ 3x²
struct CubeWithoutJvp : autograd::Function<CubeWithoutJvp> {
  static constexpr const char* name = "cube_without_jvp";
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx, const Tensor& g) {
    const Tensor x = ctx.get_saved_variables()[0];
    return {g * 3.0 * x * x};
  }
};
}  // namespace

TEST_CASE("higher order: hvp by forward over reverse equals double backward, its fallback (torch's numbers)") {
  // Forward over reverse by default; double backward with create_graph, inside a caller's dual level, under a
  // NoGradGuard the same, and for an op without a tangent rule.
  const auto& r = higher_order_reference()["functional"];
  const Tensor x4 = from_json(r["x4"], {4}), v4 = from_json(r["v4"], {4});
  auto scalar = [](const Tensor& t) { return sum(exp(t) * sin(t)) + sum(t * t * t) / 3.0 + sum(tanh(t) * log(t)); };
  CHECK(worst_error(hvp(scalar, x4, v4).second, r["scalar_hvp"]) < 1e-10);
  CHECK(worst_error(hvp(scalar, x4, v4, true).second.detach(), r["scalar_hvp"]) < 1e-10);
  {
    NoGradGuard no_grad;
    CHECK(worst_error(hvp(scalar, x4, v4).second, r["scalar_hvp"]) < 1e-10);
  }
  {
    forward_ad::DualLevel level;
    CHECK(worst_error(hvp(scalar, x4, v4).second, r["scalar_hvp"]) < 1e-10);
  }
  // Σ w ⊙ x³ through the custom op: H = diag(6 w ⊙ x), so H·v = 6 w ⊙ x ⊙ v, exact in float64.
  const Tensor x = tensor({1.0, -2.0, 0.5}, kFloat64), w = tensor({1.0, 0.5, -2.0}, kFloat64);
  const Tensor v = tensor({2.0, 1.0, -4.0}, kFloat64);
  auto custom = [&w](const Tensor& t) { return sum(CubeWithoutJvp::apply(t) * w); };
  auto [value, hv] = hvp(custom, x, v);
  CHECK(value.item() == 1 - 4 - 0.25);
  CHECK(test::values(hv) == std::vector<double>{12, -6, 24});
  // An MLP (affine layers, ReLU, cross-entropy), as case g: the first layer's weight gradient is computed for its
  // tangent alone (its product skipped); double backward computes it whole.
  manual_seed(8);
  const Tensor xb = randn({6, 5}, kFloat64);
  std::vector<Tensor> ps = {randn({5, 4}, kFloat64), randn({4}, kFloat64), randn({4, 3}, kFloat64),
                            randn({3}, kFloat64)};
  std::vector<Tensor> vs;
  for (const Tensor& p : ps) vs.push_back(randn(p.shape(), kFloat64));
  const Function mlp = [&xb](const std::vector<Tensor>& p) {
    const std::vector<std::size_t> labels = {0, 1, 2, 0, 1, 2};
    return nn::cross_entropy(affine(relu(affine(xb, p[0], p[1])), p[2], p[3]), labels);
  };
  const std::vector<Tensor> fast = hvp(mlp, ps, vs).second, slow = hvp(mlp, ps, vs, true).second;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const std::vector<double> a = test::values(fast[i]), b = test::values(slow[i]);
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(a[k] == doctest::Approx(b[k]).epsilon(1e-12));
  }
  // f independent of some input: its H·v is zeros
  auto [y0, hv0] = hvp([](const std::vector<Tensor>& t) { return sum(t[0] * t[0]); }, {x, v}, {v, x});
  CHECK(test::values(hv0[0]) == std::vector<double>{4, 2, -8});
  CHECK(test::values(hv0[1]) == std::vector<double>{0, 0, 0});
}

TEST_CASE("higher order: gradgradcheck passes correct ops and catches a backward that is not differentiable") {
  Tensor x = tensor({0.3, -1.2, 2.0}, kFloat64);
  CHECK(gradgradcheck([](auto& t) { return sin(t[0]) * t[0]; }, {x}));
  // y = x² whose recorded backward 2·x.detach()·g has the right value but no path back to x: ∂²y/∂x² reads 0.
  Function wrong = [](const std::vector<Tensor>& t) {
    return record<double>(
        "square_bad", Array<double>(t[0].data<double>() * t[0].data<double>()), {t[0]},
        [](auto& d, const Array<double>& g, const auto& in, const auto&) { d(0, Array<double>(2.0 * in[0] * g)); },
        [](auto& d, const Tensor& g, const auto& in, const Tensor&) { d(0, 2.0 * in[0].detach() * g); });
  };
  CHECK(gradcheck(wrong, {x}));
  GradcheckResult r = gradgradcheck(wrong, {x});
  CHECK_FALSE(r);
  CHECK(r.op == std::string("square_bad"));
  CHECK(r.checked == 6);  // 3 elements of x, 3 of the random grad_outputs
}

TEST_CASE("higher order: double backward through nn: activations, losses, penalties, Linear, BatchNorm1d") {
  using namespace chainrule::nn;
  manual_seed(4);
  Tensor x = rand({4, 3}, kFloat64, -1.5, 1.5), w = rand({3, 2}, kFloat64, -1, 1), b = rand({2}, kFloat64, -1, 1);
  Tensor t = rand({4, 2}, kFloat64, 0.1, 0.9);
  auto check = [&](const char* what, const std::function<Tensor(const Tensor&)>& head) {
    INFO(what);
    CHECK(gradgradcheck([&](auto& v) { return head(affine(v[0], v[1], v[2])); }, {x, w, b}));
  };
  for (auto& [name, m] : std::vector<std::pair<const char*, std::shared_ptr<Module>>>{
           {"Sigmoid", std::make_shared<Sigmoid>()}, {"Tanh", std::make_shared<Tanh>()},
           {"ReLU", std::make_shared<ReLU>()}, {"LeakyReLU", std::make_shared<LeakyReLU>(0.2)},
           {"Gaussian", std::make_shared<Gaussian>()}, {"Softmax", std::make_shared<Softmax>()},
           {"LogSoftmax", std::make_shared<LogSoftmax>()}, {"Step", std::make_shared<Step>()},
           {"PiecewiseLinear", std::make_shared<PiecewiseLinear>()},
           {"LinearActivation", std::make_shared<LinearActivation>(0.5, 1.0)}})
    check(name, [m = m](const Tensor& z) { return m->forward(z); });
  check("mse_loss", [&](const Tensor& z) { return mse_loss(tanh(z), t); });
  check("half_sse_loss", [&](const Tensor& z) { return half_sse_loss(tanh(z), t); });
  check("l1_loss", [&](const Tensor& z) { return l1_loss(z, t); });
  check("binary_cross_entropy", [&](const Tensor& z) { return binary_cross_entropy(sigmoid(z), t); });
  check("binary_cross_entropy_with_logits", [&](const Tensor& z) { return binary_cross_entropy_with_logits(z, t); });
  check("cross_entropy labels", [&](const Tensor& z) { return cross_entropy(z, std::vector<std::size_t>{0, 1, 1, 0}); });
  check("cross_entropy probabilities", [&](const Tensor& z) { return cross_entropy(z, t / 2.0); });
  check("penalties", [&](const Tensor& z) {
    return l1_penalty({z}) + l2_penalty({z}) + elastic_net_penalty({tanh(z)}, 0.3);
  });
  Linear lin(3, 2, {kFloat64});
  CHECK(gradgradcheck([&](auto& v) { return sigmoid(lin.forward(v[0])); }, {x}));
  BatchNorm1d::Options bo;
  bo.dtype = kFloat64;
  BatchNorm1d bn(3, bo);
  CHECK(gradgradcheck([&](auto& v) { return tanh(bn.forward(v[0])); }, {x}));  // training: batch statistics
  bn.eval();
  CHECK(gradgradcheck([&](auto& v) { return tanh(bn.forward(v[0])); }, {x}));
}

TEST_CASE("higher order: a gradient-penalty training run (L + λ‖∂L/∂x‖²) equals torch's, three SGD steps") {
  using namespace chainrule::nn;
  const auto& r = higher_order_reference()["gradient_penalty"];
  const double lambda = r["lambda"], lr = r["lr"];
  Tensor X = from_json(r["X"], {6, 3}), Y = from_json(r["Y"], {6, 1});
  Linear::Options o;
  o.dtype = kFloat64;
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(3, 4, o), std::make_shared<Tanh>(), std::make_shared<Linear>(4, 1, o)});
  std::vector<Tensor> params = net->parameters();  // 0.weight [3,4], 0.bias [4], 2.weight [4,1], 2.bias [1]
  REQUIRE(params.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto v = r["initial"][i].get<std::vector<double>>();
    std::copy(v.begin(), v.end(), params[i].data<double>().begin());
  }
  for (const auto& step : r["steps"]) {
    Tensor x = X.detach().requires_grad_();
    Tensor L = mse_loss(net->forward(x), Y);
    Tensor G = grad({L}, {x}, create_graph())[0];
    Tensor loss = L + lambda * sum(G * G);
    net->zero_grad();
    loss.backward();
    for (auto& p : params) p.data<double>() -= lr * p.grad().data<double>();
    CHECK(loss.item() == doctest::Approx(step["loss"].get<double>()).epsilon(1e-13));
    for (std::size_t i = 0; i < 4; ++i) CHECK(worst_error(params[i], step["params"][i]) < 1e-13);
  }
}

TEST_CASE("higher order: chainrule grad --hessian prints every second partial (text and JSON, symmetric)") {
  // f = x²y + sin(x)·y³ at (1, 2): fxx = 2y − sin(x)·y³, fxy = 2x + 3cos(x)·y², fyy = 6 sin(x)·y
  const std::string cmd = std::string(CHAINRULE_CLI) + " grad 'x^2*y + sin(x)*y^3' x=1 y=2 --hessian";
  auto capture = [](const std::string& c) {
    std::string out;
    FILE* p = ::popen(c.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    for (std::size_t k; (k = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
    CHECK(::pclose(p) == 0);
    return out;
  };
  const auto j = nlohmann::json::parse(capture(cmd + " --json"));
  const double fxx = 4 - std::sin(1.0) * 8, fxy = 2 + 3 * std::cos(1.0) * 4, fyy = 6 * std::sin(1.0) * 2;
  CHECK(j["hessian"]["x"]["x"].get<double>() == doctest::Approx(fxx).epsilon(1e-14));
  CHECK(j["hessian"]["x"]["y"].get<double>() == doctest::Approx(fxy).epsilon(1e-14));
  CHECK(j["hessian"]["y"]["x"].get<double>() == j["hessian"]["x"]["y"].get<double>());
  CHECK(j["hessian"]["y"]["y"].get<double>() == doctest::Approx(fyy).epsilon(1e-14));
  const std::string text = capture(cmd);
  CHECK(text.find("∂²/∂x∂y = 8.48362767042\n") != std::string::npos);
  CHECK(text.find("∂²/∂y∂y = 10.0976518177\n") != std::string::npos);
}

TEST_CASE("higher order: through a dtype conversion, and along a 20,000-op chain (no recursion)") {
  Tensor x = tensor({1.5, -0.5}, kFloat64).requires_grad_();
  Tensor y = sum(square(x.to(kFloat32)) * x.to(kFloat32));  // Σ x³ in float32
  Tensor g = grad({y}, {x}, create_graph())[0];
  CHECK(g.dtype() == kFloat64);
  CHECK(test::values(g) == std::vector<double>{6.75, 0.75});                        // 3x²
  CHECK(test::values(grad({sum(g)}, {x})[0]) == std::vector<double>{9, -3});         // 6x
  // w = z·c^n: ∂w/∂z = cⁿ has a graph of n nodes through c, and ∂²w/∂z∂c = n·cⁿ⁻¹
  Tensor z = tensor(1.0, kFloat64).requires_grad_(), c = tensor(1.0001, kFloat64).requires_grad_();
  Tensor w = z;
  for (int i = 0; i < 20000; ++i) w = w * c;
  Tensor dz = grad({w}, {z}, create_graph())[0];
  CHECK(dz.item() == doctest::Approx(std::pow(1.0001, 20000)).epsilon(1e-12));
  CHECK(grad({dz}, {c})[0].item() == doctest::Approx(20000 * std::pow(1.0001, 19999)).epsilon(1e-12));
}

TEST_CASE("higher order: repeated Hessian-vector products do not page-fault (buffers of 4 KiB and more are cached)") {
  // Case g of bench_train: buffers of 4 to 64 KiB once went to malloc, and glibc trimmed the top of its heap when
  // they were freed, so they faulted again on every call: 35 page faults per hvp, half its time. glibc raises its
  // trim threshold after freeing a large block (as earlier tests do); set it back to its default of a fresh process.
  // glibc cannot say what it was, so it stays fixed: ctest runs each case in its own process, and in a run of the
  // whole binary the later cases only return memory to the kernel sooner (no result depends on it).
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  manual_seed(5);
  const Tensor x = relu(randn({64, 784}));
  std::vector<std::size_t> labels;
  for (std::size_t i = 0; i < 64; ++i) labels.push_back(i % 10);
  std::vector<Tensor> params, v;
  for (auto [in, out] : {std::pair<std::size_t, std::size_t>{784, 128}, {128, 64}, {64, 10}}) {
    params.push_back(randn({in, out}) * 0.05), params.push_back(randn({out}) * 0.05);
    v.push_back(randn({in, out})), v.push_back(randn({out}));
  }
  const Function loss = [&](const std::vector<Tensor>& p) {
    const Tensor a = relu(affine(relu(affine(x, p[0], p[1])), p[2], p[3]));
    return nn::cross_entropy(affine(a, p[4], p[5]), labels);
  };
  for (int i = 0; i < 2; ++i) hvp(loss, params, v);  // the first calls fill the cache
  const long before = minor_faults();
  for (int i = 0; i < 20; ++i) hvp(loss, params, v);
  const long faults = minor_faults() - before;
  MESSAGE("page faults in 20 Hessian-vector products: " << faults);
#ifndef CHAINRULE_SANITIZER_BUILD
  CHECK(faults < 20);  // fewer than one per call (under ASan nothing is cached, so that use-after-free is caught)
#endif
}
