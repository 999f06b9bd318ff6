// The lessons of examples/lecture: each one run, every number it returns checked against values derived by hand
// here or against torch float64 (reference/course_examples.json), and the slip notes checked in its output.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../examples/lecture/lessons.hpp"
#include "helpers.hpp"

using namespace chainrule;

namespace {
struct Run {
  lecture::Numbers n;
  std::string out;
};
Run run(const std::string& name) {
  std::ostringstream os;
  Run r;
  r.n = lecture::lesson(name).run(os);
  r.out = os.str();
  return r;
}
bool says(const Run& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

const nlohmann::json& reference() {
  static const nlohmann::json j = [] {
    std::ifstream in(CHAINRULE_TEST_DATA "/course_examples.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
  }();
  return j;
}
}  // namespace

TEST_CASE("lecture: the list holds every lesson, in the order of the text, and names a missing one") {
  std::vector<std::string> names;
  for (const auto& l : lecture::lessons()) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"perceptrons", "parameters", "identity_error", "mse", "gradient_step",
                                          "newton_step", "forward_reverse", "backprop", "chain_rule", "xor",
                                          "optimizers"});
  CHECK(test::message([] { lecture::lesson("backprob"); }) ==
        "lecture: no lesson 'backprob' (lessons: perceptrons, parameters, identity_error, mse, gradient_step, "
        "newton_step, forward_reverse, backprop, chain_rule, xor, optimizers)");
}

TEST_CASE("lecture perceptrons: the AND and OR tables, and no perceptron solves XOR") {
  const Run r = run("perceptrons");
  // Rows (0,0), (1,0), (0,1), (1,1) as in the text: Y = 4·X1 + 5·X2 + b.
  const double and_y[] = {-6, -2, -1, 3}, and_out[] = {0, 0, 0, 1}, or_y[] = {-4, 0, 1, 5}, or_out[] = {0, 1, 1, 1};
  for (int i = 0; i < 4; ++i) {
    const std::string k = std::to_string(i + 1);
    CHECK(r.n.at("AND.Y" + k) == and_y[i]);
    CHECK(r.n.at("AND.out" + k) == and_out[i]);
    CHECK(r.n.at("OR.Y" + k) == or_y[i]);
    CHECK(r.n.at("OR.out" + k) == or_out[i]);
  }
  CHECK(r.n.at("XOR.solved") == 0);
  CHECK(r.n.at("AND.solved") > 0);  // the text's AND and OR weights are two of many
  CHECK(r.n.at("OR.solved") > 0);
  CHECK(r.n.at("step.grad") == 0);
  CHECK(says(r, "Slip in the text: its OR table prints Y = 4, -2, -1, -3"));
}

TEST_CASE("lecture parameters: 13,002, and the text's formula is not the count") {
  const Run r = run("parameters");
  CHECK(r.n.at("count") == (784 * 16 + 16) + (16 * 16 + 16) + (16 * 10 + 10));
  CHECK(r.n.at("text_formula") == ((784.0 * 16 + 16) * 16 + 16) * 10);
  CHECK(says(r, "that formula is 2009760"));
}

TEST_CASE("lecture identity_error: errors -4 and 0") {
  const Run r = run("identity_error");
  CHECK(r.n.at("ex1.prediction") == 2 * 5 - 1);
  CHECK(r.n.at("ex1.error") == -4);
  CHECK(r.n.at("ex2.prediction") == 3 * 5 - 2);
  CHECK(r.n.at("ex2.error") == 0);
}

TEST_CASE("lecture mse: total 150, mean 50 (torch)") {
  const Run r = run("mse");
  const auto& ref = reference()["mse_table"];
  CHECK(r.n.at("squared_error1") == 100);
  CHECK(r.n.at("squared_error2") == 25);
  CHECK(r.n.at("squared_error3") == 25);
  CHECK(r.n.at("total") == ref["sum_squared_error"].get<double>());
  CHECK(r.n.at("mse") == ref["mean_squared_error"].get<double>());
}

TEST_CASE("lecture gradient_step: slope -24, weight' = 2.24") {
  const Run r = run("gradient_step");
  CHECK(r.n.at("dL/dprediction") == 2 * (6 - 10));
  CHECK(r.n.at("slope") == reference()["gradient_descent_step"]["slope"].get<double>());
  CHECK(r.n.at("weight'") == doctest::Approx(2.24).epsilon(1e-15));
  CHECK(says(r, "weight' = 2 - learning_rate * total_slope = 2 - 0.01 * (-24) = 2.24"));
}

TEST_CASE("lecture newton_step: C'' = 18, and w - C'/C'' = 2 + 24/18 = 10/3 lands on the minimum") {
  const Run r = run("newton_step");
  CHECK(r.n.at("slope") == -24);
  CHECK(r.n.at("curvature") == 18);
  CHECK(r.n.at("weight'") == doctest::Approx(10.0 / 3).epsilon(1e-15));
  CHECK(r.n.at("loss'") < 1e-28);  // (3·(10/3) − 10)², 0 up to rounding
  CHECK(r.n.at("descent weight'") == doctest::Approx(2.24).epsilon(1e-15));
  CHECK(says(r, "Newton step: w' = w - C'/C'' = 2 - (-24)/18 = 2 + 24/18 = 3.3333"));
}

TEST_CASE("lecture forward_reverse: 3 tangent passes give J's columns, 2 adjoint passes its rows, the same J") {
  const Run r = run("forward_reverse");
  // a = x1·x2 = 2, b = a + x3 = 5 at x = (1, 2, 3):  J = [[x2·x3, x1·x3, a], [2b·x2, 2b·x1, 2b]]
  const double J[2][3] = {{6, 3, 2}, {20, 10, 10}};
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 3; ++i) {
      const std::string y = "y" + std::to_string(o + 1), x = "x" + std::to_string(i + 1);
      CHECK(r.n.at("J." + y + "." + x) == J[o][i]);
      CHECK(r.n.at("adjoint." + x + ".e" + std::to_string(o + 1)) == J[o][i]);
      CHECK(r.n.at("tangent." + y + ".e" + std::to_string(i + 1)) == J[o][i]);
    }
  // intermediate rows: ȧ = (x2, x1, 0) = (2, 1, 0), ḃ = ȧ + e3 = (2, 1, 1); b̄ = (0, 2b) = (0, 10), ā = (x3, 10)
  const double a_t[] = {2, 1, 0}, b_t[] = {2, 1, 1};
  for (int j = 0; j < 3; ++j) {
    CHECK(r.n.at("tangent.a.e" + std::to_string(j + 1)) == a_t[j]);
    CHECK(r.n.at("tangent.b.e" + std::to_string(j + 1)) == b_t[j]);
  }
  CHECK(r.n.at("adjoint.b.e1") == 0);
  CHECK(r.n.at("adjoint.b.e2") == 10);
  CHECK(r.n.at("adjoint.a.e1") == 3);
  CHECK(r.n.at("adjoint.a.e2") == 10);
  CHECK(r.n.at("forward passes") == 3);
  CHECK(r.n.at("reverse passes") == 2);
  CHECK(says(r, "node  value  ẋ=(1,0,0)  ẋ=(0,1,0)  ẋ=(0,0,1)\n"));
  CHECK(says(r, "a         2          2          1          0\n"));
  CHECK(says(r, "node  value  ȳ=(1,0)  ȳ=(0,1)\n"));
  CHECK(says(r, "x1        1        6       20\n"));
  CHECK(says(r, "   ∂y2/∂x = (20, 10, 10)"));
  CHECK(says(r, "Here n = 3 forward\npasses or m = 2 reverse passes."));
}

TEST_CASE("lecture backprop: gradients 6, 18 and 0, 6, 0, 12 (torch), with the W6 slip") {
  const Run r = run("backprop");
  const auto& ref = reference()["backprop"];
  CHECK(r.n.at("hidden1") == 1);
  CHECK(r.n.at("hidden2") == 3);
  CHECK(r.n.at("prediction") == ref["prediction"].get<double>());
  CHECK(r.n.at("dL/dprediction") == 6);
  CHECK(r.n.at("grad.w1") == ref["grad_output_weights"][0].get<double>());
  CHECK(r.n.at("grad.w2") == ref["grad_output_weights"][1].get<double>());
  const char* names[] = {"W3", "W4", "W5", "W6"};
  for (int i = 0; i < 4; ++i) CHECK(r.n.at(std::string("grad.") + names[i]) == ref["grad_W3_W6"][i].get<double>());
  CHECK(r.n.at("grad.W6") == 12);
  CHECK(says(r, "Slip in the text: its W6 line and table print 18. The formula on that same line gives "
                "1 * 2 * 6 * 1 = 12"));
  CHECK(says(r, "   slope for W6 = 1 * 2 * 6 * 1 = 12\n"));
}

TEST_CASE("lecture --trace: the backprop lesson shows each weight's chain, W6's gradient 12 from its one path") {
  lecture::set_trace(true);
  const Run r = run("backprop");
  lecture::set_trace(false);
  CHECK(says(r, "Chain-rule trace: backward from loss"));
  CHECK(says(r, "W6 = 3   ∂mul_5/∂W6 = 1   contribution 12 × 1 = 12   -> ∂loss/∂W6 = 12"));
  CHECK(says(r, "w2 = 2   ∂mul_6/∂w2 = 3   contribution 6 × 3 = 18   -> ∂loss/∂w2 = 18"));
  CHECK(r.n.at("grad.W6") == 12);
  CHECK_FALSE(says(run("backprop"), "Chain-rule trace"));  // off by default
}

TEST_CASE("lecture chain_rule: 3·5 = 15, one sigmoid neuron's factors, cross-entropy's ŷ − y") {
  const Run r = run("chain_rule");
  CHECK(r.n.at("dbunny/dturtle") == 15);
  CHECK(says(r, "Slip in the text: its words say \"a dog is 3 times faster than a turtle\" but the factor it uses is 5"));
  // z = 0.4·0.5 + 0.3·(−1) + 0.2 = 0.1, a = σ(z), C = (1 − a)².
  const double z = 0.4 * 0.5 + 0.3 * -1.0 + 0.2, a = 1 / (1 + std::exp(-z));
  const double dC_da = 2 * (a - 1), da_dz = a * (1 - a), delta = dC_da * da_dz;
  CHECK(r.n.at("a") == doctest::Approx(a).epsilon(1e-14));
  CHECK(r.n.at("dC/da") == doctest::Approx(dC_da).epsilon(1e-14));
  CHECK(r.n.at("da/dz") == doctest::Approx(da_dz).epsilon(1e-14));
  CHECK(r.n.at("delta") == doctest::Approx(delta).epsilon(1e-14));
  CHECK(r.n.at("dC/dw1") == doctest::Approx(delta * 0.5).epsilon(1e-14));
  CHECK(r.n.at("dC/dw2") == doctest::Approx(delta * -1.0).epsilon(1e-14));
  CHECK(r.n.at("dC/db") == doctest::Approx(delta).epsilon(1e-14));  // ∂z/∂b = 1
  CHECK(says(r, "Slip in the text: \"∂z/∂b = 1 because b is a constant. Derivatives of constants are 1.\" A "
                "constant's\n  derivative is 0."));
  // softmax(1, 2, 0.5) − (0, 1, 0)
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(0.5), s = e1 + e2 + e3;
  CHECK(r.n.at("dCE/dz1") == doctest::Approx(e1 / s).epsilon(1e-14));
  CHECK(r.n.at("dCE/dz2") == doctest::Approx(e2 / s - 1).epsilon(1e-14));
  CHECK(r.n.at("dCE/dz3") == doctest::Approx(e3 / s).epsilon(1e-14));
}

TEST_CASE("lecture xor: forward, deltas and update equal torch's, with the δ1 and W1 slips") {
  const Run r = run("xor");
  const auto& ref = reference()["xor_step"];
  auto num = [](const nlohmann::json& j) { return j.get<double>(); };
  CHECK(r.n.at("z_h1") == doctest::Approx(-0.7).epsilon(1e-15));
  CHECK(r.n.at("z_h2") == doctest::Approx(0.3).epsilon(1e-15));
  CHECK(r.n.at("h1") == doctest::Approx(num(ref["h"][0])).epsilon(1e-14));
  CHECK(r.n.at("h2") == doctest::Approx(num(ref["h"][1])).epsilon(1e-14));
  CHECK(r.n.at("z_o") == doctest::Approx(0.2 * num(ref["h"][0]) + 0.4 * num(ref["h"][1])).epsilon(1e-14));
  CHECK(r.n.at("o") == doctest::Approx(num(ref["o"])).epsilon(1e-14));
  CHECK(r.n.at("E") == doctest::Approx(num(ref["loss"])).epsilon(1e-14));
  CHECK(r.n.at("delta") == doctest::Approx(num(ref["delta_out"])).epsilon(1e-14));
  CHECK(r.n.at("delta1") == doctest::Approx(num(ref["delta_hidden"][0])).epsilon(1e-13));
  CHECK(r.n.at("delta2") == doctest::Approx(num(ref["delta_hidden"][1])).epsilon(1e-13));
  CHECK(r.n.at("W2[h1]'") == doctest::Approx(num(ref["W2_after"][0])).epsilon(1e-14));
  CHECK(r.n.at("W2[h2]'") == doctest::Approx(num(ref["W2_after"][1])).epsilon(1e-14));
  CHECK(r.n.at("W1[x1->h1]'") == num(ref["W1_after"][0][0]));
  CHECK(r.n.at("W1[x1->h2]'") == num(ref["W1_after"][0][1]));
  CHECK(r.n.at("W1[x2->h1]'") == doctest::Approx(num(ref["W1_after"][1][0])).epsilon(1e-14));
  CHECK(r.n.at("W1[x2->h2]'") == doctest::Approx(num(ref["W1_after"][1][1])).epsilon(1e-14));
  CHECK(r.n.at("o_after") == doctest::Approx(num(ref["o_after"])).epsilon(1e-14));
  CHECK(says(r, "Slip in the text: it prints δ1 = 0.046. The product is 0.332 * 0.668 * 0.02088 = 0.0046259"));
  CHECK(says(r, "= 0.0046259\n"));
  CHECK(says(r, "Slip in the text: it gets -0.684 from its δ1 = 0.046; with δ1 = 0.0046259 it is -0.69884."));
  CHECK(says(r, "W1[x2->h1] = -0.7 + 0.25 * 1 * 0.0046259 = -0.69884\n"));
  CHECK(says(r, "the output for the same input is 0.576"));
}

TEST_CASE("lecture optimizers: the first steps by hand (SGD gives 2.24 again)") {
  const Run r = run("optimizers");
  auto g = [](double w) { return 6 * (3 * w - 10); };
  double w = 2;
  for (int t = 1; t <= 3; ++t) {
    w -= 0.01 * g(w);
    CHECK(r.n.at("sgd.w" + std::to_string(t)) == doctest::Approx(w).epsilon(1e-14));
  }
  CHECK(r.n.at("sgd.w1") == doctest::Approx(2.24).epsilon(1e-15));
  CHECK(r.n.at("momentum.w1") == doctest::Approx(2.24).epsilon(1e-15));   // b = g at the first step
  CHECK(r.n.at("nag.w1") == doctest::Approx(2 + 0.01 * 24 * 1.9).epsilon(1e-15));  // d = g + 0.9·g
  CHECK(r.n.at("adagrad.w1") == doctest::Approx(2 + 0.5 * 24 / (24 + 1e-10)).epsilon(1e-15));
  CHECK(r.n.at("adadelta.w1") ==
        doctest::Approx(2 + std::sqrt(1e-6) / std::sqrt(0.1 * 576 + 1e-6) * 24).epsilon(1e-15));
  CHECK(r.n.at("rmsprop.w1") == doctest::Approx(2 + 0.01 * 24 / (std::sqrt(0.01 * 576) + 1e-8)).epsilon(1e-15));
  CHECK(r.n.at("adam.w1") == doctest::Approx(2 + 0.1 * 24 / (24 + 1e-8)).epsilon(1e-15));
  CHECK(says(r, "Adam step 3, parameter #0 element 0  (lr=0.1, β1=0.9, β2=0.999, ε=1e-08)"));
  CHECK(says(r, "m̂ = m / (1 − β1ᵗ)"));
}
