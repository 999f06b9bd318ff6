#include "lessons.hpp"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

namespace chainrule::lecture {

namespace {
bool g_trace = false;  // lecture --trace
std::function<std::string(const ChainRuleTrace&)> g_sink;  // lecture --html
}  // namespace

void set_trace(bool on) { g_trace = on; }
void set_trace_sink(std::function<std::string(const ChainRuleTrace&)> sink) { g_sink = std::move(sink); }

namespace {
// printf into an ostream.
[[gnu::format(printf, 2, 3)]] void say(std::ostream& os, const char* format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  std::string buf(std::size_t(std::vsnprintf(nullptr, 0, format, args)) + 1, '\0');
  va_end(args);
  std::vsnprintf(buf.data(), buf.size(), format, again);
  va_end(again);
  buf.pop_back();
  os << buf;
}

// Every lesson's backward pass goes through here: the one place where the chain rule runs, node by node, and
// where `lecture --trace` shows it (ChainRuleTrace: each local derivative, contribution and accumulated gradient).
void run_backward(std::ostream& os, const Tensor& loss) {
  if (!g_trace && !g_sink) return loss.backward();
  ChainRuleTrace trace;
  loss.backward();
  if (g_trace) os << trace << "\n";
  if (g_sink) os << g_sink(trace);
}

// Element i (flat, row-major) of t as a double.
double at(const Tensor& t, std::size_t i = 0) { return t.to(kFloat64).data<double>().data()[i]; }

Tensor scalar(double v, const char* label) { return tensor(v, kFloat64).requires_grad_().label(label); }
}  // namespace

// ---- 1. Single layer perceptron: AND, OR; XOR is not linearly separable ----------------------------------------
Numbers perceptrons(std::ostream& os) {
  Numbers n;
  say(os, "One neuron with a binary step: Y = w1·X1 + w2·X2 + b, output step(Y) = 1 if Y >= 0, else 0.\n");
  const Tensor x = tensor({{0, 0}, {1, 0}, {0, 1}, {1, 1}}, kFloat64);  // rows in the text's order
  const Tensor w = tensor({{4}, {5}}, kFloat64);
  auto table = [&](const std::string& name, double b, const double (&target)[4]) {
    const Tensor y = matmul(x, w) + b, out = step(y);
    say(os, "\nFunction %s: w1 = 4, w2 = 5, b = %g\n   X1  X2  Target    Y  step(Y)\n", name.c_str(), b);
    for (std::size_t i = 0; i < 4; ++i) {
      say(os, "   %2g  %2g  %6g  %3g  %7g\n", at(x, 2 * i), at(x, 2 * i + 1), target[i], at(y, i), at(out, i));
      n[name + ".Y" + std::to_string(i + 1)] = at(y, i);
      n[name + ".out" + std::to_string(i + 1)] = at(out, i);
    }
  };
  table("AND", -6, {0, 0, 0, 1});
  table("OR", -4, {0, 1, 1, 1});
  say(os, "Slip in the text: its OR table prints Y = 4, -2, -1, -3. No neuron gives that column (the first three rows\n"
          "  force b = 4, w1 = -6, w2 = -5, which give -7, not -3, at (1, 1)), and its step would be 1, 0, 0, 0, not\n"
          "  OR. The AND weights with b = -4 give Y = -4, 0, 1, 5 and the outputs 0, 1, 1, 1.\n");

  // XOR: try every perceptron on a grid; none gets all four rows right (AND and OR: many do).
  const double xs[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}}, t_and[4] = {0, 0, 0, 1}, t_or[4] = {0, 1, 1, 1},
               t_xor[4] = {0, 1, 1, 0};
  int tried = 0, solved_and = 0, solved_or = 0, solved = 0;
  for (double w1 = -5; w1 <= 5; w1 += 0.25)
    for (double w2 = -5; w2 <= 5; w2 += 0.25)
      for (double b = -5; b <= 5; b += 0.25) {
        int right_and = 0, right_or = 0, right = 0;
        for (int i = 0; i < 4; ++i) {
          const double out = w1 * xs[i][0] + w2 * xs[i][1] + b >= 0 ? 1.0 : 0.0;
          right_and += out == t_and[i], right_or += out == t_or[i], right += out == t_xor[i];
        }
        ++tried, solved_and += right_and == 4, solved_or += right_or == 4, solved += right == 4;
      }
  say(os, "\nFunction XOR (0 1 1 0) is not linearly separable: of the %d perceptrons with w1, w2, b in\n"
          "{-5, -4.75, ..., 5}, %d solve AND, %d solve OR and %d solves XOR. It needs a hidden layer: lesson xor.\n",
      tried, solved_and, solved_or, solved);
  n["AND.solved"] = solved_and, n["OR.solved"] = solved_or;
  n["XOR.solved"] = solved;

  // Why a step cannot be trained by gradient descent: its slope is 0 wherever it has one.
  Tensor z = scalar(0.5, "z");
  run_backward(os, step(z));
  say(os, "\nThe step's slope is 0 (d step/dz at z = 0.5 is %g): gradient descent gets no signal through it,\n"
          "which is why the course moves on to smooth activations (sigmoid, tanh, ReLU).\n", at(z.grad()));
  n["step.grad"] = at(z.grad());
  return n;
}

// ---- 2. Computation explosion: counting weights and biases ------------------------------------------------------
Numbers parameters(std::ostream& os) {
  Numbers n;
  say(os, "A network of 784 inputs, 2 hidden layers of 16 neurons and 10 outputs:\n");
  const std::size_t sizes[] = {784, 16, 16, 10};
  std::size_t total = 0;
  for (std::size_t i = 0; i + 1 < 4; ++i) {
    const std::size_t count = sizes[i] * sizes[i + 1] + sizes[i + 1];
    say(os, "   layer %zu: %3zu x %2zu weights + %2zu biases = %5zu\n", i + 1, sizes[i], sizes[i + 1], sizes[i + 1],
        count);
    total += count;
  }
  const std::size_t counted = nn::MLP({784, 16, 16, 10})->parameter_count();
  say(os, "   total = %zu (nn::MLP({784, 16, 16, 10})->parameter_count() = %zu)\n", total, counted);
  const double text_formula = ((784.0 * 16 + 16) * 16 + 16) * 10;
  say(os, "Slip in the text: it writes ((784*16+16)*16+16)*10 = 13.002; that formula is %.0f. The count 13,002 is\n"
          "  right, as the sum over layers (784*16+16) + (16*16+16) + (16*10+10): each layer adds its own weights and\n"
          "  biases, it does not multiply the previous count.\n", text_formula);
  n["count"] = double(counted);
  n["text_formula"] = text_formula;
  return n;
}

// ---- 3. How to compute the best weights? Identity activation, target 13 -----------------------------------------
Numbers identity_error(std::ostream& os) {
  Numbers n;
  say(os, "Activation = identity, actual value of the target = 13, hidden node values 5 and 1.\n"
          "(The values come from the text's figure; its two errors fix them: 2a - b = 9 and 3a - 2b = 13 give a = 5,\n"
          " b = 1.)\n");
  const Tensor h = tensor({{5, 1}}, kFloat64);
  int ex = 1;
  for (auto [a, b] : {std::pair{2.0, -1.0}, std::pair{3.0, -2.0}}) {
    const double pred = matmul(h, tensor({{a}, {b}}, kFloat64)).item();
    say(os, "Ex %d. Weights of the 2nd layer = %g & %g: prediction = 5*%g + 1*(%g) = %g, "
            "error = predicted - actual = %g\n", ex, a, b, a, b, pred, pred - 13);
    n["ex" + std::to_string(ex) + ".prediction"] = pred;
    n["ex" + std::to_string(ex) + ".error"] = pred - 13;
    ++ex;
  }
  return n;
}

// ---- 4. Predictive metrics: the MSE table -----------------------------------------------------------------------
Numbers mse(std::ostream& os) {
  Numbers n;
  const Tensor pred = tensor({10, 8, 6}, kFloat64), actual = tensor({20, 3, 1}, kFloat64);
  const Tensor err = pred - actual, sq = square(err);
  say(os, "Prediction  Actual  Error  Squared Error\n");
  for (std::size_t i = 0; i < 3; ++i) {
    say(os, "%10g  %6g  %5g  %13g\n", at(pred, i), at(actual, i), at(err, i), at(sq, i));
    n["squared_error" + std::to_string(i + 1)] = at(sq, i);
  }
  n["total"] = sum(sq).item();
  n["mse"] = nn::mse_loss(pred, actual).item();
  say(os, "Total squared error = %g\nMean squared error = %g   (MSE = 1/n · Σ (y - ŷ)², n = 3)\n", n["total"],
      n["mse"]);
  return n;
}

// ---- 5. Gradient descent (ii): one step on one weight -----------------------------------------------------------
Numbers gradient_step(std::ostream& os) {
  Numbers n;
  say(os, "Node value 3 feeds weight 2 into the output (identity activation); actual value 10; loss = error².\n");
  Tensor w = scalar(2, "weight"), x = tensor(3.0, kFloat64).label("input");
  Tensor pred = (w * x).label("prediction");
  pred.retain_grad();
  Tensor loss = square(pred - 10.0).label("loss");
  run_backward(os, loss);
  say(os, "1. slope of the loss w.r.t. the prediction: 2 * (predicted - actual) = 2 * (%g - 10) = %g\n", pred.item(),
      at(pred.grad()));
  say(os, "2. value of the node that feeds into the weight: %g\n", x.item());
  say(os, "3. slope of the activation (identity): 1\n");
  say(os, "   total slope = (2 * %g) * %g * 1 = %g\n", pred.item() - 10, x.item(), at(w.grad()));
  const double lr = 0.01, updated = w.item() - lr * at(w.grad());
  say(os, "   weight' = 2 - learning_rate * total_slope = 2 - %g * (%g) = %.2f\n", lr, at(w.grad()), updated);
  n["dL/dprediction"] = at(pred.grad());
  n["slope"] = at(w.grad());
  n["weight'"] = updated;
  return n;
}

// ---- 5b. Curvature: the Newton step on the same weight -----------------------------------------------------------
// C(w) = (3w − 10)², C' = 6(3w − 10) = −24 at w = 2, C'' = 18: w − C'/C'' = 2 + 24/18 = 10/3, the minimum.
Numbers newton_step(std::ostream& os) {
  Numbers n;
  say(os, "The loss of gradient_step as a function of the weight: C(w) = (3w - 10)², at w = 2.\n");
  Tensor w = scalar(2, "weight");
  Tensor loss = square(w * 3.0 - 10.0).label("loss");
  GradOptions keep;
  keep.create_graph = true;  // record the backward pass, so that the slope can be differentiated again
  const Tensor slope = grad({loss}, {w}, keep)[0];
  const Tensor curvature = grad({slope}, {w})[0];
  const double c1 = slope.item(), c2 = curvature.item();
  const double newton = w.item() - c1 / c2, descent = w.item() - 0.01 * c1;
  const double after = (3 * newton - 10) * (3 * newton - 10);
  say(os, "1. slope C'(2) = 2 * (3*2 - 10) * 3 = %g\n", c1);
  say(os, "2. curvature C''(w) = 2 * 3 * 3 = %g: the derivative of the slope (a backward pass of the backward)\n", c2);
  say(os, "   Newton step: w' = w - C'/C'' = 2 - (%g)/%g = 2 + 24/18 = %.4f, where C = %.1g (0 up to rounding):\n"
          "   the minimum (3w = 10), in one step. Gradient descent with learning rate 0.01 went to %.2f.\n", c1, c2, newton, after, descent);
  say(os, "   Why a learning rate exists: it stands in for 1/C''. Here the best one is 1/18 = %.4f; a steeply curved\n"
          "   loss needs a small step, a flat one a large step, and 0.01 is safe but slow.\n", 1 / c2);
  n["slope"] = c1;
  n["curvature"] = c2;
  n["weight'"] = newton;
  n["loss'"] = after;
  n["descent weight'"] = descent;
  return n;
}

// ---- 5c. Forward vs reverse accumulation: who pays for a whole Jacobian -------------------------------------------
// f(x1, x2, x3) = (y1, y2): a = x1·x2, b = a + x3, y1 = a·x3, y2 = b², at x = (1, 2, 3).
// J = [[x2·x3, x1·x3, a], [2b·x2, 2b·x1, 2b]] = [[6, 3, 2], [20, 10, 10]].
Numbers forward_reverse(std::ostream& os) {
  Numbers n;
  const double x0[3] = {1, 2, 3};
  const char* names[7] = {"x1", "x2", "x3", "a", "b", "y1", "y2"};
  say(os, "f(x1, x2, x3) = (y1, y2) with a = x1*x2, b = a + x3, y1 = a*x3, y2 = b², at x = (1, 2, 3):\n"
          "3 inputs, 2 outputs, so its Jacobian J = ∂y/∂x is 2 x 3. Two ways to fill it with the chain rule.\n");
  // nodes(x) → {x1, x2, x3, a, b, y1, y2}
  auto nodes = [](const Tensor (&x)[3]) {
    Tensor a = x[0] * x[1], b = a + x[2];
    return std::vector<Tensor>{x[0], x[1], x[2], a, b, a * x[2], square(b)};
  };
  double tangent[7][3], adjoint[7][2], value[7];
  for (std::size_t j = 0; j < 3; ++j) {  // forward: one pass per input direction ẋ = e_j
    forward_ad::DualLevel level;
    Tensor x[3];
    for (std::size_t i = 0; i < 3; ++i)
      x[i] = forward_ad::make_dual(tensor(x0[i], kFloat64), tensor(i == j ? 1.0 : 0.0, kFloat64));
    const std::vector<Tensor> v = nodes(x);
    for (std::size_t k = 0; k < 7; ++k) value[k] = v[k].item(), tangent[k][j] = forward_ad::unpack_dual(v[k]).tangent.item();
  }
  for (std::size_t o = 0; o < 2; ++o) {  // reverse: one pass per output, seeded ȳ = e_o
    Tensor x[3] = {scalar(x0[0], "x1"), scalar(x0[1], "x2"), scalar(x0[2], "x3")};
    std::vector<Tensor> v = nodes(x);
    for (std::size_t k = 3; k < 7; ++k) v[k].retain_grad().label(names[k]);
    run_backward(os, v[5 + o]);
    for (std::size_t k = 0; k < 7; ++k) adjoint[k][o] = v[k].grad().defined() ? at(v[k].grad()) : 0;
  }
  say(os, "\nForward accumulation: give the inputs a tangent ẋ (a direction) and let every node carry its value and\n"
          "its tangent, the derivative along ẋ, computed from its inputs' (ȧ = ẋ1*x2 + x1*ẋ2, ḃ = ȧ + ẋ3,\n"
          "ẏ1 = ȧ*x3 + a*ẋ3, ẏ2 = 2b*ḃ). One pass per direction; ẋ = e_j gives column j of J:\n");
  say(os, "node  value  ẋ=(1,0,0)  ẋ=(0,1,0)  ẋ=(0,0,1)\n");
  for (std::size_t k = 0; k < 7; ++k)
    say(os, "%-4s  %5g  %9g  %9g  %9g\n", names[k], value[k], tangent[k][0], tangent[k][1], tangent[k][2]);
  say(os, "\nReverse accumulation (backpropagation): run forward once, seed the outputs' adjoints ȳ and send them\n"
          "back; each node's adjoint is a sum over the nodes it feeds (b̄ = 2b*ȳ2, ā = x3*ȳ1 + b̄, x̄1 = ā*x2,\n"
          "x̄2 = ā*x1, x̄3 = a*ȳ1 + b̄). One pass per output; ȳ = e_i gives row i of J:\n");
  say(os, "node  value  ȳ=(1,0)  ȳ=(0,1)\n");
  for (std::size_t k = 7; k-- > 0;) say(os, "%-4s  %5g  %7g  %7g\n", names[k], value[k], adjoint[k][0], adjoint[k][1]);
  say(os, "\nBoth give the same J: the y rows of the tangent table (a column per pass), the x rows of the adjoint\n"
          "table read down (a row per pass):\n");
  for (std::size_t o = 0; o < 2; ++o) {
    say(os, "   ∂y%zu/∂x = (%g, %g, %g)\n", o + 1, tangent[5 + o][0], tangent[5 + o][1], tangent[5 + o][2]);
    for (std::size_t i = 0; i < 3; ++i) {
      n["J.y" + std::to_string(o + 1) + ".x" + std::to_string(i + 1)] = tangent[5 + o][i];
      n["adjoint.x" + std::to_string(i + 1) + ".y" + std::to_string(o + 1)] = adjoint[i][o];
    }
  }
  for (std::size_t k = 0; k < 7; ++k) {
    for (std::size_t j = 0; j < 3; ++j) n[std::string("tangent.") + names[k] + ".e" + std::to_string(j + 1)] = tangent[k][j];
    for (std::size_t o = 0; o < 2; ++o) n[std::string("adjoint.") + names[k] + ".e" + std::to_string(o + 1)] = adjoint[k][o];
  }
  say(os, "\nThe cost: for f from n inputs to m outputs, a whole Jacobian takes n forward passes (one column each)\n"
          "or m reverse passes (one row each), each a small multiple of one evaluation of f. Here n = 3 forward\n"
          "passes or m = 2 reverse passes. A network's loss has m = 1 output and, for 784-16-16-10, n = 13,002\n"
          "weights: one reverse pass gives the whole gradient, where forward mode would take 13,002 passes. That\n"
          "is why training uses backpropagation. Forward mode wins when inputs are few and outputs many (n < m),\n"
          "and it keeps no tape: each node's tangent is used at once and forgotten (jvp, forward_ad::make_dual).\n");
  n["forward passes"] = 3;
  n["reverse passes"] = 2;
  return n;
}

// ---- 6. Backpropagation example ---------------------------------------------------------------------------------
Numbers backprop(std::ostream& os) {
  Numbers n;
  // Inputs (0, 1). Hidden node 1 = relu(W3·x1 + W4·x2), node 2 = relu(W5·x1 + W6·x2); output = w1·h1 + w2·h2.
  const Tensor x1 = tensor(0.0, kFloat64).label("x1"), x2 = tensor(1.0, kFloat64).label("x2");
  Tensor W3 = scalar(0, "W3"), W4 = scalar(1, "W4"), W5 = scalar(2, "W5"), W6 = scalar(3, "W6");
  Tensor w1 = scalar(1, "w1"), w2 = scalar(2, "w2");
  Tensor h1 = relu(W3 * x1 + W4 * x2).label("h1"), h2 = relu(W5 * x1 + W6 * x2).label("h2");
  Tensor pred = (w1 * h1 + w2 * h2).label("prediction");
  pred.retain_grad();
  Tensor loss = square(pred - 4.0).label("loss");
  std::ostringstream backward_trace;  // printed where the story reaches the backward pass, after the forward one
  run_backward(backward_trace, loss);

  say(os, "Inputs (0, 1), ReLU hidden nodes, W3..W6 = 0, 1, 2, 3; output weights w1 = 1, w2 = 2; target 4.\n");
  say(os, "Forward: hidden nodes = %g and %g, prediction = 1*%g + 2*%g = %g, error = %g\n", h1.item(), h2.item(),
      h1.item(), h2.item(), pred.item(), pred.item() - 4);
  if (!backward_trace.str().empty()) os << "\nBackpropagation, node by node:\n" << backward_trace.str() << "\n";
  say(os, "For each weight multiply 3 things: node value feeding in * slope of the loss w.r.t. the node fed into *\n"
          "slope of the activation there.\n");
  say(os, "1. Node values feeding into w1, w2: %g & %g\n", h1.item(), h2.item());
  say(os, "2. Slope of the loss w.r.t. the output node: 2 * (7 - 4) = %g\n", at(pred.grad()));
  say(os, "3. Slope of the output activation: 1 (identity)\n");
  say(os, "   slope for w1 -> %g * %g * 1 = %g\n", h1.item(), at(pred.grad()), at(w1.grad()));
  say(os, "   slope for w2 -> %g * %g * 1 = %g\n", h2.item(), at(pred.grad()), at(w2.grad()));
  say(os, "Slip in the text: it calls 2 * (7 - 4) \"2 * MSE\"; it is 2 * error, the derivative of error² with respect\n"
          "  to the prediction (the MSE itself would be (7 - 4)² = 9).\n");
  say(os, "One layer back: slope = input * (w_out * 6) * relu'(node):\n");
  const struct { const char* name; const Tensor& w; double input, w_out; const Tensor& h; } rows[] = {
      {"W3", W3, 0, 1, h1}, {"W4", W4, 1, 1, h1}, {"W5", W5, 0, 2, h2}, {"W6", W6, 1, 2, h2}};
  for (const auto& r : rows) {
    say(os, "   slope for %s = %g * %g * %g * %g = %g\n", r.name, r.input, r.w_out, at(pred.grad()),
        r.h.item() > 0 ? 1.0 : 0.0, at(r.w.grad()));
    n[std::string("grad.") + r.name] = at(r.w.grad());
  }
  say(os, "Current Weight Value  Gradient\n");
  for (const auto& r : rows) say(os, "%20g  %8g\n", r.w.item(), at(r.w.grad()));
  say(os, "Slip in the text: its W6 line and table print 18. The formula on that same line gives 1 * 2 * 6 * 1 = 12:\n"
          "  input x2 = 1, w2 = 2, the output slope 6, relu' = 1 (node 2 is positive). torch agrees: 12.\n");
  n["hidden1"] = h1.item(), n["hidden2"] = h2.item(), n["prediction"] = pred.item();
  n["dL/dprediction"] = at(pred.grad());
  n["grad.w1"] = at(w1.grad()), n["grad.w2"] = at(w2.grad());
  return n;
}

// ---- 7. Backpropagation recap and math: the chain rule ----------------------------------------------------------
Numbers chain_rule(std::ostream& os) {
  Numbers n;
  say(os, "Intuition: the speed of the bunny in terms of the turtle's goes through the dog's.\n");
  Tensor turtle = scalar(1, "turtle");
  Tensor dog = (5.0 * turtle).label("dog"), bunny = (3.0 * dog).label("bunny");
  dog.retain_grad();
  run_backward(os, bunny);
  say(os, "   ∂bunny/∂dog = %g, ∂dog/∂turtle = 5, ∂bunny/∂turtle = ∂bunny/∂dog * ∂dog/∂turtle = %g\n",
      at(dog.grad()), at(turtle.grad()));
  say(os, "Slip in the text: its words say \"a dog is 3 times faster than a turtle\" but the factor it uses is 5. With\n"
          "  the factors 3 and 5 the product is 15 (as computed); with the words' 3 and 3 it would be 9.\n");
  n["dbunny/dturtle"] = at(turtle.grad());

  say(os, "\nGradient descent in one neuron: z = w1·a1 + w2·a2 + b, a = σ(z), C = (y - a)² (n = 1)\n");
  const double a1v = 0.5, a2v = -1.0, yv = 1.0;
  Tensor w1 = scalar(0.4, "w1"), w2 = scalar(0.3, "w2"), b = scalar(0.2, "b");
  const Tensor a1 = tensor(a1v, kFloat64).label("a1"), a2 = tensor(a2v, kFloat64).label("a2");
  Tensor z = (w1 * a1 + w2 * a2 + b).label("z");
  Tensor a = sigmoid(z).label("a");
  z.retain_grad(), a.retain_grad();
  Tensor C = square(yv - a).label("C");
  run_backward(os, C);
  const double av = a.item(), dC_da = 2 * (av - yv), da_dz = av * (1 - av);
  say(os, "   a1 = %g, a2 = %g, w1 = 0.4, w2 = 0.3, b = 0.2, y = 1: z = %g, a = σ(z) = %.6f, C = %.6f\n", a1v, a2v,
      z.item(), av, C.item());
  say(os, "1. ∂C/∂a = -2·(y - a) = 2·(a - y) = %.6f   (autograd: %.6f)\n", dC_da, at(a.grad()));
  say(os, "Slip in the text: it writes the derivative of (1/n)·Σ(y - a(Z))² as (2/n)·(y - a(Z)); differentiating\n"
          "  with respect to a brings a minus sign: (2/n)·(a(Z) - y), which is its (2/n)·Error with Error =\n"
          "  predicted - actual. The sign decides the direction of the step.\n");
  say(os, "2. ∂a/∂z = σ(z)·(1 - σ(z)) = %.6f\n", da_dz);
  say(os, "3. ∂z/∂w1 = a1 = %g, ∂z/∂w2 = a2 = %g, ∂z/∂b = 1\n", a1v, a2v);
  say(os, "Slip in the text: \"∂z/∂b = 1 because b is a constant. Derivatives of constants are 1.\" A constant's\n"
          "  derivative is 0. ∂z/∂b = 1 because z is linear in b with coefficient 1 (z = ... + 1·b); it is the other\n"
          "  terms w·a that are constants with respect to b, and their derivative is 0.\n");
  const double delta = dC_da * da_dz;
  say(os, "   δ = ∂C/∂z = ∂C/∂a · ∂a/∂z = %.6f   (autograd: %.6f)\n", delta, at(z.grad()));
  say(os, "   ∂C/∂w1 = δ·a1 = %.6f, ∂C/∂w2 = δ·a2 = %.6f, ∂C/∂b = δ·1 = %.6f\n", delta * a1v, delta * a2v, delta);
  say(os, "   autograd:       %.6f,                %.6f,                 %.6f\n", at(w1.grad()), at(w2.grad()),
      at(b.grad()));
  n["a"] = av, n["dC/da"] = at(a.grad()), n["da/dz"] = da_dz, n["delta"] = at(z.grad());
  n["dC/dw1"] = at(w1.grad()), n["dC/dw2"] = at(w2.grad()), n["dC/db"] = at(b.grad());

  say(os, "\nCross-entropy on a softmax output: CE = -Σ yᵢ·log ŷᵢ, ŷ = softmax(z)\n");
  Tensor logits = tensor({{1.0, 2.0, 0.5}}, kFloat64).requires_grad_().label("z");
  const Tensor target = tensor({{0.0, 1.0, 0.0}}, kFloat64);
  const Tensor prob = softmax(logits);
  run_backward(os, -sum(target * log_softmax(logits)));
  say(os, "   z = (1, 2, 0.5), y = (0, 1, 0): ŷ = (%.6f, %.6f, %.6f)\n", at(prob, 0), at(prob, 1), at(prob, 2));
  say(os, "   ∂CE/∂z = ŷ - y = (%.6f, %.6f, %.6f)   (autograd: %.6f, %.6f, %.6f)\n", at(prob, 0), at(prob, 1) - 1,
      at(prob, 2), at(logits.grad(), 0), at(logits.grad(), 1), at(logits.grad(), 2));
  say(os, "Slip in the text: it writes ∂CE/∂z = y - ŷ; it is ŷ - y (prediction minus target), the same sign as the\n"
          "  MSE's 2·(a - y): a step against it raises the true class's score.\n");
  for (std::size_t i = 0; i < 3; ++i) n["dCE/dz" + std::to_string(i + 1)] = at(logits.grad(), i);
  return n;
}

// ---- 8. Multilayer perceptron for XOR: one step of online learning ----------------------------------------------
Numbers xor_network(std::ostream& os) {
  Numbers n;
  const double eta = 0.25;
  say(os, "2-2-1 network, sigmoid, no biases, learning rate η = %g, E = ½(t - o)²\n", eta);
  say(os, "W1 = (0.1 0.5; -0.7 0.3) (rows x1, x2; columns h1, h2), W2 = (0.2; 0.4)\n");
  const Tensor x = tensor({{0.0, 1.0}}, kFloat64).label("x");
  Tensor W1 = tensor({{0.1, 0.5}, {-0.7, 0.3}}, kFloat64).requires_grad_().label("W1");
  Tensor W2 = tensor({{0.2}, {0.4}}, kFloat64).requires_grad_().label("W2");
  Tensor zh = matmul(x, W1).label("z_h");
  Tensor h = sigmoid(zh).label("h");
  Tensor zo = matmul(h, W2).label("z_o");
  Tensor o = sigmoid(zo).label("o");
  zh.retain_grad(), zo.retain_grad();
  Tensor E = (0.5 * square(1.0 - o)).label("E");
  std::ostringstream backward_trace;  // printed where the story reaches the backward pass, after the forward one
  run_backward(backward_trace, E);

  const double h1 = at(h, 0), h2 = at(h, 1), ov = o.item();
  say(os, "\nForward propagation of the first input d1: x1 = 0, x2 = 1, expected output t1 = 1\n");
  say(os, "Neuron h1: input 0.1*0 + (-0.7)*1 = %g, output 1/(1+e^0.7) = %.3f\n", at(zh, 0), h1);
  say(os, "Neuron h2: input 0.5*0 + 0.3*1 = %g, output 1/(1+e^-0.3) = %.3f\n", at(zh, 1), h2);
  say(os, "Neuron o1: input 0.2*%.3f + 0.4*%.3f = %.3f, output = %.3f\n", h1, h2, zo.item(), ov);

  if (!backward_trace.str().empty()) os << "\nBackpropagation, node by node:\n" << backward_trace.str();

  // δ as the text defines it: (t − o)·σ'(z), i.e. −∂E/∂z. The factors of each product are printed with 6
  // decimals, so that the product checks out by hand to the digits shown (3-decimal factors would not: the text's
  // (0.573·(1−0.573))·0.427 is 0.10447, not δ = 0.10432).
  const double delta = -at(zo.grad()), delta1 = -at(zh.grad(), 0), delta2 = -at(zh.grad(), 1);
  say(os, "\nOutput layer weights (neuron o1)\n");
  say(os, "Error: t1 - o1 = 1 - %.6f = %.6f\n", ov, 1 - ov);
  say(os, "δ = o(1 - o)·(t1 - o1) = (%.6f * (1 - %.6f)) * %.6f = %.5f\n", ov, ov, 1 - ov, delta);
  say(os, "The text writes W* = w - η·Δf and then adds η·h·δ: both agree, since δ = (t - o)·σ' is -∂E/∂z, so\n"
          "-η·∂E/∂w = +η·h·δ.\n");
  {
    NoGradGuard no_grad;
    W1.data<double>() -= eta * W1.grad().data<double>();
    W2.data<double>() -= eta * W2.grad().data<double>();
  }
  say(os, "W2[h1] = 0.2 + %g * %.6f * %.6f = %.5f\n", eta, h1, delta, at(W2, 0));
  say(os, "W2[h2] = 0.4 + %g * %.6f * %.6f = %.5f\n", eta, h2, delta, at(W2, 1));
  say(os, "(The text's 4-decimal values here and below, δ = 0.1044, 0.2086, 0.4149 and 0.3025, come from the\n"
          " rounded o = 0.573 and are cut off, not rounded: the unrounded values are printed to 5 digits.)\n");

  say(os, "\nHidden layer weights (δ = %.5f; the old W2 is used, as the gradients are taken before any update)\n",
      delta);
  say(os, "Neuron h1: δ1 = h1(1 - h1)·(W2[h1]·δ) = %.6f * (1 - %.6f) * (0.2 * %.6f) = %.7f\n", h1, h1, delta,
      delta1);
  say(os, "Slip in the text: it prints δ1 = 0.046. The product is 0.332 * 0.668 * 0.02088 = 0.0046259: a factor of\n"
          "  10 lost (0.2 * 0.1044 = 0.02088, not 0.2088).\n");
  say(os, "   W1[x1->h1] = 0.1 + %g * 0 * δ1 = %g\n", eta, at(W1, 0));
  say(os, "   W1[x2->h1] = -0.7 + %g * 1 * %.7f = %.5f\n", eta, delta1, at(W1, 2));
  say(os, "Slip in the text: it gets -0.684 from its δ1 = 0.046; with δ1 = 0.0046259 it is -0.69884.\n");
  say(os, "Neuron h2 (the text calls its delta δ1 again):\n");
  say(os, "   δ2 = h2(1 - h2)·(W2[h2]·δ) = %.6f * (1 - %.6f) * (0.4 * %.6f) = %.5f\n", h2, h2, delta, delta2);
  say(os, "   W1[x1->h2] = 0.5 + %g * 0 * δ2 = %g\n", eta, at(W1, 1));
  say(os, "   W1[x2->h2] = 0.3 + %g * 1 * %.5f = %.5f\n", eta, delta2, at(W1, 3));

  const double o_after = sigmoid(matmul(sigmoid(matmul(x, W1)), W2)).item();
  say(os, "\nNew network: the output for the same input is %.3f (was %.3f): less error, E %.6f -> %.6f\n", o_after,
      ov, E.item(), 0.5 * (1 - o_after) * (1 - o_after));
  n["h1"] = h1, n["h2"] = h2, n["o"] = ov, n["E"] = E.item();
  n["z_h1"] = at(zh, 0), n["z_h2"] = at(zh, 1), n["z_o"] = zo.item();
  n["delta"] = delta, n["delta1"] = delta1, n["delta2"] = delta2;
  n["W2[h1]'"] = at(W2, 0), n["W2[h2]'"] = at(W2, 1);
  n["W1[x1->h1]'"] = at(W1, 0), n["W1[x1->h2]'"] = at(W1, 1), n["W1[x2->h1]'"] = at(W1, 2), n["W1[x2->h2]'"] = at(W1, 3);
  n["o_after"] = o_after;
  return n;
}

// ---- 9. Hyperparameters: the optimizers the text lists ----------------------------------------------------------
Numbers optimizers(std::ostream& os) {
  Numbers n;
  say(os, "The weight of lesson gradient_step (w = 2, input 3, target 10, L = (3w - 10)²), three steps of each\n"
          "optimizer the text lists, with every internal quantity (optim::UpdateTrace). The minimum is w = 10/3.\n");
  const std::pair<const char*, double> cases[] = {{"sgd", 0.01},     {"momentum", 0.01}, {"nag", 0.01},
                                                  {"adagrad", 0.5},  {"adadelta", 1.0},  {"rmsprop", 0.01},
                                                  {"adam", 0.1}};
  for (const auto& [name, lr] : cases) {
    say(os, "\n== %s ==\n", name);
    Tensor w = scalar(2, "w");
    auto opt = optim::make_optimizer(name, {w}, lr);
    optim::UpdateTrace trace(*opt);
    for (int t = 1; t <= 3; ++t) {
      opt->zero_grad();
      run_backward(os, square(3.0 * w - 10.0));
      trace.step(os);
      n[std::string(name) + ".w" + std::to_string(t)] = w.item();
    }
  }
  say(os, "\nAdagrad, RMSprop and Adam divide by a running size of g, so their first step is about lr whatever\n"
          "the gradient's scale (here 0.5, 0.1, 0.1); Adadelta starts from E[Δx²] = 0 and creeps (√ε-sized steps).\n");
  return n;
}

const std::vector<Lesson>& lessons() {
  static const std::vector<Lesson> all = {
      {"perceptrons", "Single layer perceptron: AND and OR with a binary step; XOR", perceptrons},
      {"parameters", "Computation explosion: weights and biases of 784-16-16-10", parameters},
      {"identity_error", "How to compute the best weights? Identity activation, target 13", identity_error},
      {"mse", "Predictive metrics: mean squared error", mse},
      {"gradient_step", "Gradient descent: one step on one weight (2.24)", gradient_step},
      {"newton_step", "Curvature: the Newton step on the same weight lands on 10/3", newton_step},
      {"forward_reverse", "Forward vs reverse accumulation: tangents, adjoints, the cost of a Jacobian", forward_reverse},
      {"backprop", "Backpropagation example: ReLU hidden layer, squared error", backprop},
      {"chain_rule", "Backpropagation math: the chain rule in one neuron", chain_rule},
      {"xor", "Multilayer perceptron for XOR: forward, backward, weight update", xor_network},
      {"optimizers", "Hyperparameters: SGD, Momentum, NAG, Adagrad, Adadelta, RMSprop, Adam step by step", optimizers},
  };
  return all;
}

const Lesson& lesson(const std::string& name) {
  std::string names;
  for (const auto& l : lessons()) {
    if (name == l.name) return l;
    names += std::string(names.empty() ? "" : ", ") + l.name;
  }
  throw std::invalid_argument("lecture: no lesson '" + name + "' (lessons: " + names + ")");
}

}  // namespace chainrule::lecture
