// Saved-tensor version checks, tensor hooks and module hooks.
#include <doctest/doctest.h>

#include <cmath>
#include <utility>

#include "../examples/activations/grad_norms.hpp"
#include "helpers.hpp"
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;

// ---- saved-tensor versions ---------------------------------------------------------------------------------------

TEST_CASE("saved tensors: a leaf written through data() after the forward pass makes backward throw") {
  // The example: y = w·w at w = 3, dy/dw = 6; setting w = 100 before backward used to give 200.
  Tensor w = tensor(std::vector<double>{3}, kFloat32).requires_grad_();
  Tensor y = w * w;
  CHECK(w.version() == 0);
  w.data<float>()(0) = 100;
  CHECK(w.version() == 1);
  CHECK(test::message([&] { y.backward(); }) ==
        "backward: one of the variables needed for gradient computation has been modified by an inplace operation: "
        "input #0 of 'mul' [float32 [1], a leaf] is at version 1; expected version 0 instead (written through the "
        "mutable data<T>() or updated by an optimizer between the forward pass and backward; modify a copy, or run "
        "backward first; read values through std::as_const(t).data<T>() or item())");
  CHECK_FALSE(w.grad().defined());
  // Recomputed after the write, the graph holds the new value: 2·100.
  Tensor y2 = w * w;
  y2.backward();
  CHECK(w.grad().item() == 200);
}

TEST_CASE("saved tensors: without a write, the same graph gives dy/dw = 6") {
  Tensor w = tensor(std::vector<double>{3}, kFloat32).requires_grad_();
  Tensor y = w * w;
  CHECK(std::as_const(w).data<float>()(0) == 3);  // reads through const or temporary handles are not writes
  CHECK(w.item() == 3);
  CHECK(Tensor(w).data<float>()(0) == 3);
  CHECK(w.version() == 0);
  y.backward();
  CHECK(w.grad().item() == 6);
}

TEST_CASE("saved tensors: an op's output written in place is refused by the op that reads it") {
  Tensor x = tensor(std::vector<double>{0.5, 1}, kFloat64).requires_grad_();
  SUBCASE("exp's backward reads its output") {
    Tensor y = exp(x);
    y.data<double>()(0) = 0;
    const std::string m = test::message([&] { y.backward(ones_like(y)); });
    CHECK(m.find("the output of 'exp' [float64 [2], output of 'exp'] is at version 1; expected version 0") !=
          std::string::npos);
  }
  SUBCASE("and the op that took it as input") {
    Tensor y = exp(x);
    Tensor z = sum(y * y);
    y.data<double>()(1) = 0;
    const std::string m = test::message([&] { z.backward(); });
    CHECK(m.find("input #0 of 'mul' [float64 [2], output of 'exp'] is at version 1; expected version 0") !=
          std::string::npos);
  }
}

TEST_CASE("saved tensors: an in-place initializer on a saved parameter is refused") {
  manual_seed(3);
  nn::Linear lin(3, 2);
  Tensor loss = sum(lin(ones({4, 3})));
  nn::init::normal_(lin.weight());
  const std::string m = test::message([&] { loss.backward(); });
  CHECK(m.find("input #1 of 'affine' [float32 [3,2], a leaf] is at version 2; expected version 1") !=
        std::string::npos);
}

TEST_CASE("saved tensors: an optimizer step on a parameter still saved in a live graph is refused") {
  Tensor w = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  Tensor loss = sum(w * w);
  loss.backward(retain_graph);
  optim::SGD sgd({w}, {0.1});
  sgd.step();
  CHECK(w.version() == 1);
  const std::string m = test::message([&] { loss.backward(); });
  CHECK(m.find("input #0 of 'mul' [float64 [2], a leaf] is at version 1; expected version 0") != std::string::npos);
}

TEST_CASE("saved tensors: every optimizer's step counts as one in-place write of each parameter it updates") {
  for (const char* name : {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"}) {
    CAPTURE(name);
    Tensor w = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
    Tensor frozen = tensor(std::vector<double>{3}, kFloat64).requires_grad_();  // gets no gradient: not updated
    auto opt = optim::make_optimizer(name, {w, frozen});
    Tensor loss = sum(w * w);
    loss.backward(retain_graph);
    opt->step();
    CHECK(w.version() == 1);
    CHECK(frozen.version() == 0);
    CHECK(test::message([&] { loss.backward(); }).find("input #0 of 'mul' [float64 [2], a leaf] is at version 1") !=
          std::string::npos);
  }
}

TEST_CASE("saved tensors: the normal training loop (step after backward) never trips the check") {
  manual_seed(5);
  nn::Sequential net({std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 1)});
  optim::Adam adam(net.parameters(), {0.01});
  const Tensor x = randn({16, 4}), t = randn({16, 1});
  double first = 0, last = 0;
  const std::uint32_t v0 = net.parameters()[0].version();  // the initializer wrote it
  for (int i = 0; i < 30; ++i) {
    adam.zero_grad();
    Tensor loss = mean(square(net(x) - t));
    loss.backward();
    adam.step();
    (i == 0 ? first : last) = loss.item();
  }
  CHECK(last < first);
  CHECK(net.parameters()[0].version() == v0 + 30);  // one write a step
}

TEST_CASE("saved tensors: an op of more than three inputs checks every one (concat)") {
  std::vector<Tensor> xs;
  for (int i = 0; i < 5; ++i) xs.push_back(tensor(std::vector<double>{double(i)}, kFloat64).requires_grad_());
  Tensor y = sum(square(concat(xs)));
  xs[4].data<double>()(0) = 7;
  CHECK(test::message([&] { y.backward(); }).find(
            "input #4 of 'concat' [float64 [1], a leaf] is at version 1; expected version 0") != std::string::npos);
}

// ---- tensor hooks ------------------------------------------------------------------------------------------------

TEST_CASE("hooks: several hooks on a leaf run in registration order, each seeing the previous one's gradient") {
  Tensor x = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  std::vector<std::pair<int, double>> seen;
  x.register_hook([&](const Tensor& g) { seen.emplace_back(1, g.data<double>()(0)); });
  x.register_hook([&](const Tensor& g) {
    seen.emplace_back(2, g.data<double>()(0));
    return g * 10.0;  // replaces the gradient
  });
  x.register_hook([&](const Tensor& g) { seen.emplace_back(3, g.data<double>()(0)); });
  sum(3.0 * x).backward();
  CHECK(seen == std::vector<std::pair<int, double>>{{1, 3}, {2, 3}, {3, 30}});
  CHECK(x.grad().data<double>() == Array<double>{30, 30});
}

TEST_CASE("hooks: a leaf's hooks see each backward's gradient alone; grad() accumulates the replacements") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(g.item());
    return g * 2.0;
  });
  (3.0 * x).backward();
  Tensor first = x.grad();
  (5.0 * x).backward();
  CHECK(seen == std::vector<double>{3, 5});
  CHECK(x.grad().item() == 16);
  CHECK(first.same(x.grad()));  // the buffer is kept, as without hooks
}

TEST_CASE("hooks: a post-accumulate-grad hook sees the accumulated grad(), once per backward, never from grad()") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  std::vector<double> seen;
  RemovableHandle h = x.register_post_accumulate_grad_hook([&](const Tensor& t) { seen.push_back(t.grad().item()); });
  (3.0 * x + x * x).backward();  // two contributions, 3 + 2x = 5: one call, after both
  (4.0 * x).backward();          // accumulated: 5 + 4
  CHECK(seen == std::vector<double>{5, 9});
  grad({7.0 * x}, {x});  // leaves .grad alone, so no call
  CHECK(seen.size() == 2);
  h.remove();
  (4.0 * x).backward();
  CHECK(seen.size() == 2);
  CHECK(x.grad().item() == 13);
  CHECK(test::message([&] { (x * x).register_post_accumulate_grad_hook([](const Tensor&) {}); }) ==
        "register_post_accumulate_grad_hook: only a leaf that requires grad accumulates a gradient; this tensor is "
        "the output of 'mul'");
}

TEST_CASE("hooks: on a non-leaf, the replacement is what flows on to the inputs") {
  Tensor x = tensor(std::vector<double>{2}, kFloat64).requires_grad_();
  Tensor h = x * x;  // dh/dx = 2x = 4
  double seen = 0;
  h.register_hook([&](const Tensor& g) {
    seen = g.item();
    return g * 10.0;
  });
  (3.0 * h).backward();
  CHECK(seen == 3);
  CHECK(x.grad().item() == 120);  // 10·3·4
}

TEST_CASE("hooks: with create_graph, hooks see and return differentiable gradients") {
  // y = x³ at x = 2: dy/dx = 3x² = 12; the hook doubles it (24 = 6x²), whose derivative is 12x = 24.
  Tensor x = tensor(std::vector<double>{2}, kFloat64).requires_grad_();
  double seen = 0;
  x.register_hook([&](const Tensor& g) {
    seen = g.item();
    return g * 2.0;
  });
  BackwardOptions o;
  o.create_graph = true;
  (x * x * x).backward(o);
  CHECK(seen == 12);
  Tensor g1 = x.grad();
  REQUIRE(g1.requires_grad());  // the hook's result keeps its graph
  CHECK(g1.item() == 24);
  // A second create_graph backward adds to the leaf's gradient with a recorded sum: 24 + 2·(2x) = 32, and
  // d/dx (6x² + 4x) = 12x + 4 = 28.
  (x * x).backward(o);
  CHECK(seen == 4);
  Tensor g2 = x.grad();
  REQUIRE(g2.requires_grad());
  CHECK(g2.item() == 32);
  // grad() runs x's hook too (as torch.autograd.grad does): it sees 28 and doubles it.
  CHECK(grad({g2}, {x})[0].item() == 56);
  CHECK(seen == 28);
  g1 = g2 = Tensor();
  x.zero_grad(true);  // .grad refers to x through its graph (a cycle, as in torch): break it
}

TEST_CASE("hooks: remove() unregisters; removing twice, or after the tensor is gone, is harmless") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  int a = 0, b = 0;
  RemovableHandle ha = x.register_hook([&](const Tensor&) { ++a; });
  x.register_hook([&](const Tensor&) { ++b; });
  (2.0 * x).backward();
  ha.remove();
  ha.remove();
  (2.0 * x).backward();
  CHECK(a == 1);
  CHECK(b == 2);
  RemovableHandle late;
  {
    Tensor y = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
    late = y.register_hook([](const Tensor& g) { return g; });
  }
  late.remove();
}

TEST_CASE("hooks: a backward that stops on an error gives a hooked leaf its earlier gradient back") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  Tensor w = tensor(std::vector<double>{2}, kFloat64).requires_grad_();
  int calls = 0;
  x.register_hook([&](const Tensor&) { ++calls; });
  (3.0 * x).backward();
  const Tensor earlier = x.grad();
  Tensor y = (x * 5.0) * w;
  w.data<double>()(0) = 4;  // the outer mul refuses before x gets anything
  CHECK_THROWS_AS(y.backward(), std::runtime_error);
  CHECK(calls == 1);
  CHECK(x.grad().same(earlier));
  CHECK(x.grad().item() == 3);
}

TEST_CASE("hooks: a hook may remove itself while it runs; the others still run") {
  Tensor x = tensor(std::vector<double>{1}, kFloat64).requires_grad_();
  int a = 0, b = 0;
  RemovableHandle ha;
  ha = x.register_hook([&](const Tensor&) { ++a, ha.remove(); });
  x.register_hook([&](const Tensor&) { ++b; });
  (2.0 * x).backward();
  (2.0 * x).backward();
  CHECK(a == 1);
  CHECK(b == 2);
}

TEST_CASE("hooks: bad registrations and bad replacements are refused with the op's name") {
  Tensor c = tensor(std::vector<double>{1, 2}, kFloat64);
  CHECK(test::message([&] { c.register_hook([](const Tensor& g) { return g; }); }).find(
            "register_hook: the tensor does not require grad") == 0);
  Tensor x = tensor(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  Tensor y = exp(x);
  y.register_hook([](const Tensor&) { return zeros({3}, kFloat64); });
  CHECK(test::message([&] { sum(y).backward(); }) ==
        "hook on 'exp': returned a gradient of float64 [3], expected float64 [2], output of 'exp'");
}

// ---- module hooks ------------------------------------------------------------------------------------------------

namespace {
Array<double> array(const std::vector<double>& v, const Shape& shape) {
  return from_vector(v, shape, kFloat64).data<double>();  // a temporary handle: a read
}

// Linear(2 → 1) with W = [[2], [-1]], b = [0.5]: y = 2·x₀ − x₁ + 0.5.
std::shared_ptr<nn::Linear> fixed_linear() {
  auto lin = std::make_shared<nn::Linear>(2, 1, nn::LinearOptions{kFloat64});
  Tensor w = lin->weight(), b = lin->bias();  // handles to the parameters, to write them
  w.data<double>() = array({2, -1}, {2, 1});
  b.data<double>() = Array<double>{0.5};
  return lin;
}
}  // namespace

TEST_CASE("module hooks: forward hooks run in order after forward, and may replace the output") {
  auto lin = fixed_linear();
  std::vector<int> order;
  Tensor seen_in, seen_out;
  lin->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
    CHECK(&m == lin.get());
    order.push_back(1), seen_in = in, seen_out = out;
  });
  RemovableHandle h2 = lin->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    order.push_back(2);
    return out * 2.0;
  });
  const Tensor x = tensor({{1.0, 1.0}}, kFloat64);
  Tensor y = (*lin)(x);
  CHECK(order == std::vector<int>{1, 2});
  CHECK(seen_in.same(x));
  CHECK(seen_out.item() == 1.5);
  CHECK(y.item() == 3);
  CHECK(lin->forward(x).item() == 1.5);  // forward() itself skips the hooks, as in torch
  h2.remove();
  CHECK((*lin)(x).item() == 1.5);
  CHECK(order == std::vector<int>{1, 2, 1});
}

TEST_CASE("module hooks: the full backward hook gets grad_input and grad_output, and may replace grad_input") {
  auto lin = fixed_linear();
  Tensor x = tensor({{1.0, 3.0}}, kFloat64).requires_grad_();
  Tensor gi, go;
  int calls = 0;
  lin->register_full_backward_hook([&](nn::Module& m, const Tensor& grad_input, const Tensor& grad_output) {
    CHECK(&m == lin.get());
    ++calls, gi = grad_input, go = grad_output;
  });
  SUBCASE("observed") {
    sum(5.0 * (*lin)(x)).backward();
    CHECK(calls == 1);
    CHECK(go.data<double>() == array({5}, {1, 1}));
    CHECK(gi.data<double>() == Array<double>{{10, -5}});  // g·Wᵀ
    CHECK(x.grad().data<double>() == Array<double>{{10, -5}});
    CHECK(lin->weight().grad().data<double>() == array({5, 15}, {2, 1}));  // xᵀ·g
  }
  SUBCASE("replaced") {
    lin->register_full_backward_hook([](nn::Module&, const Tensor& grad_input, const Tensor&) { return grad_input * 0.5; });
    sum(5.0 * (*lin)(x)).backward();
    CHECK(x.grad().data<double>() == Array<double>{{5, -2.5}});
    CHECK(lin->weight().grad().data<double>() == array({5, 15}, {2, 1}));  // parameters are not affected
  }
}

TEST_CASE("module hooks: in a Sequential, children's backward hooks run from the last layer to the first") {
  manual_seed(11);
  nn::Sequential net({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(4, 2)});
  std::vector<std::string> order;
  std::vector<bool> input_defined;
  for (std::size_t i = 0; i < net.size(); ++i)
    net[i]->register_full_backward_hook([&order, &input_defined, i](nn::Module& m, const Tensor& gi, const Tensor& go) {
      order.push_back(std::to_string(i) + m.name());
      input_defined.push_back(gi.defined());
      CHECK(go.defined());
    });
  sum(net(randn({5, 3}))).backward();  // the data needs no gradient: layer 0's grad_input is undefined
  CHECK(order == std::vector<std::string>{"2Linear", "1Tanh", "0Linear"});
  CHECK(input_defined == std::vector<bool>{true, true, false});
}

TEST_CASE("module hooks: remove() stops a backward hook; a graph outliving its module calls nothing") {
  auto lin = fixed_linear();
  int calls = 0;
  RemovableHandle h = lin->register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) { ++calls; });
  Tensor x = tensor({{1.0, 3.0}}, kFloat64).requires_grad_();
  sum((*lin)(x)).backward();
  h.remove();
  sum((*lin)(x)).backward();
  CHECK(calls == 1);
  lin->register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) { ++calls; });
  Tensor y = sum((*lin)(x));
  lin.reset();  // the module is destroyed; its graph is not
  y.backward();
  CHECK(calls == 1);
  CHECK(x.grad().data<double>() == Array<double>{{6, -3}});
}

// ---- the activations example's gradient norms --------------------------------------------------------------------

TEST_CASE("hooks: the vanishing gradient of examples/activations (sigmoid's first layers get far smaller norms)") {
  activations::GradNormOptions o;
  o.epochs = 2, o.points = 256;
  const auto sigmoid = activations::grad_norms("sigmoid", o), relu = activations::grad_norms("relu", o);
  REQUIRE(sigmoid.size() == 2);
  REQUIRE(sigmoid[0].size() == 6);
  for (const auto& epoch : {sigmoid[0], sigmoid[1], relu[0], relu[1]})
    for (double v : epoch) CHECK((std::isfinite(v) && v > 0));
  // Same data, same initial weights: only the activation differs. Through five sigmoid layers (slope ≤ 1/4)
  // the input layer's gradient shrinks by orders of magnitude against the output layer's; through ReLU it does not.
  for (std::size_t e = 0; e < 2; ++e) {
    CHECK(sigmoid[e][0] < relu[e][0]);
    CHECK(sigmoid[e][0] / sigmoid[e][5] < 0.01);
    CHECK(relu[e][0] / relu[e][5] > 0.1);
  }
}
