// optim::UpdateTrace: for each of the course's seven optimizers, three traced steps on a tiny problem, every
// quantity against the update rule recomputed here with plain doubles, and p' against the parameter after step().
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "helpers.hpp"
#include <chainrule/optim.hpp>

using namespace chainrule;

namespace {
// The course's one-weight example as a two-element parameter: L = Σ (3·w − 10)², so ∂L/∂w = 6·(3w − 10);
// w starts at (2, −1) and the trace follows element 0 (g = −24 at the first step, as in the text).
double dL(double w) { return 6 * (3 * w - 10); }

struct Case {
  const char* name;
  double lr;
  // One hand-computed step: state in/out by symbol, returns the new w. `t` is the 1-based step.
  std::function<double(double w, double g, int t, std::map<std::string, double>& s)> rule;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"sgd", 0.01, [](double w, double g, int, auto&) { return w - 0.01 * g; }},
      {"momentum", 0.01,
       [](double w, double g, int t, auto& s) {
         s["b"] = t == 1 ? g : 0.9 * s["b"] + g;
         s["d"] = s["b"];
         return w - 0.01 * s["b"];
       }},
      {"nag", 0.01,
       [](double w, double g, int t, auto& s) {
         s["b"] = t == 1 ? g : 0.9 * s["b"] + g;
         s["d"] = g + 0.9 * s["b"];
         return w - 0.01 * s["d"];
       }},
      {"adagrad", 0.5,
       [](double w, double g, int t, auto& s) {
         s["t"] = t;
         s["G"] += g * g;
         s["Δ"] = 0.5 * g / (std::sqrt(s["G"]) + 1e-10);
         return w - s["Δ"];
       }},
      {"adadelta", 1.0,
       [](double w, double g, int, auto& s) {
         s["E[g²]"] = 0.9 * s["E[g²]"] + 0.1 * g * g;
         s["Δx"] = std::sqrt(s["E[Δx²]"] + 1e-6) / std::sqrt(s["E[g²]"] + 1e-6) * g;
         s["E[Δx²]"] = 0.9 * s["E[Δx²]"] + 0.1 * s["Δx"] * s["Δx"];
         return w - s["Δx"];
       }},
      {"rmsprop", 0.01,
       [](double w, double g, int, auto& s) {
         s["E[g²]"] = 0.99 * s["E[g²]"] + 0.01 * g * g;
         s["a"] = std::sqrt(s["E[g²]"]) + 1e-8;
         s["Δ"] = 0.01 * g / s["a"];
         return w - s["Δ"];
       }},
      {"adam", 0.1,
       [](double w, double g, int t, auto& s) {
         s["t"] = t;
         s["m"] = 0.9 * s["m"] + 0.1 * g;
         s["v"] = 0.999 * s["v"] + 0.001 * g * g;
         s["m̂"] = s["m"] / (1 - std::pow(0.9, t));
         s["v̂"] = s["v"] / (1 - std::pow(0.999, t));
         s["Δ"] = 0.1 * s["m̂"] / (std::sqrt(s["v̂"]) + 1e-8);
         return w - s["Δ"];
       }},
  };
  return c;
}
}  // namespace

TEST_CASE("UpdateTrace: each course optimizer's traced quantities equal the update rule by hand, 3 steps") {
  for (const auto& c : cases()) {
    SUBCASE(c.name) {
      Tensor w = tensor({2.0, -1.0}, kFloat64).requires_grad_();
      auto opt = optim::make_optimizer(c.name, {w}, c.lr);
      optim::UpdateTrace trace(*opt, 0, 0);
      double hand_w = 2;
      std::map<std::string, double> hand;
      for (int t = 1; t <= 3; ++t) {
        opt->zero_grad();
        sum(square(w * 3.0 - 10.0)).backward();
        const double g = dL(hand_w);
        const double next = c.rule(hand_w, g, t, hand);
        const optim::TraceStep s = trace.step();
        INFO(c.name, " step ", t, "\n", s);
        CHECK(s["p"] == doctest::Approx(hand_w).epsilon(1e-12));
        CHECK(s["g"] == doctest::Approx(g).epsilon(1e-12));
        for (const auto& [symbol, value] : hand) {
          INFO("quantity ", symbol);
          CHECK(s[symbol] == doctest::Approx(value).epsilon(1e-12));
        }
        CHECK(s["p'"] == w.data<double>()(0));  // the traced new value is the parameter after step()
        CHECK(s["p'"] == doctest::Approx(next).epsilon(1e-12));
        hand_w = next;
      }
      CHECK(trace.history().size() == 3);
    }
  }
}

TEST_CASE("UpdateTrace: Adam's bias correction reads the step count from the optimizer state") {
  // After load_state with step = 10, the next step is t = 11: m̂ = m/(1 − 0.9¹¹).
  Tensor w = tensor({2.0}, kFloat64).requires_grad_();
  optim::Adam opt({w}, {0.1});
  opt.load_state({{"step.0", tensor(10.0, kFloat64)}, {"exp_avg.0", tensor({1.0}, kFloat64)},
                  {"exp_avg_sq.0", tensor({4.0}, kFloat64)}});
  optim::UpdateTrace trace(opt);
  sum(square(w * 3.0 - 10.0)).backward();
  const optim::TraceStep s = trace.step();
  const double m = 0.9 * 1 + 0.1 * -24, v = 0.999 * 4 + 0.001 * 576;
  CHECK(s["t"] == 11);
  CHECK(s["m"] == doctest::Approx(m).epsilon(1e-12));
  CHECK(s["v"] == doctest::Approx(v).epsilon(1e-12));
  CHECK(s["m̂"] == doctest::Approx(m / (1 - std::pow(0.9, 11))).epsilon(1e-12));
  CHECK(s["v̂"] == doctest::Approx(v / (1 - std::pow(0.999, 11))).epsilon(1e-12));
  CHECK(s["p'"] == doctest::Approx(2 - 0.1 * (m / (1 - std::pow(0.9, 11))) /
                                           (std::sqrt(v / (1 - std::pow(0.999, 11))) + 1e-8)).epsilon(1e-12));
}

TEST_CASE("UpdateTrace: options show up in the formulas (weight decay, Nesterov, centered RMSprop, AMSGrad)") {
  SUBCASE("SGD, weight decay 0.1, Nesterov") {
    Tensor w = tensor({2.0}, kFloat64).requires_grad_();
    optim::SGD opt({w}, {0.01, 0.9, 0, true, 0.1});
    optim::UpdateTrace trace(opt);
    sum(square(w * 3.0 - 10.0)).backward();
    const optim::TraceStep s = trace.step();
    CHECK(s["g"] == doctest::Approx(-24 + 0.1 * 2).epsilon(1e-12));
    CHECK(s["d"] == doctest::Approx(-23.8 + 0.9 * -23.8).epsilon(1e-12));
    std::ostringstream os;
    os << s;
    CHECK(os.str().find("∂L/∂p + λ·p") != std::string::npos);
    CHECK(os.str().find("Nesterov") != std::string::npos);
  }
  SUBCASE("RMSprop centered with momentum") {
    Tensor w = tensor({2.0}, kFloat64).requires_grad_();
    optim::RMSprop::Options o;
    o.lr = 0.01, o.momentum = 0.5, o.centered = true;
    optim::RMSprop opt({w}, o);
    optim::UpdateTrace trace(opt);
    sum(square(w * 3.0 - 10.0)).backward();
    const optim::TraceStep s = trace.step();
    const double v = 0.01 * 576, gbar = 0.01 * -24, a = std::sqrt(v - gbar * gbar) + 1e-8;
    CHECK(s["E[g²]"] == doctest::Approx(v).epsilon(1e-12));
    CHECK(s["ḡ"] == doctest::Approx(gbar).epsilon(1e-12));
    CHECK(s["a"] == doctest::Approx(a).epsilon(1e-12));
    CHECK(s["b"] == doctest::Approx(-24 / a).epsilon(1e-12));
    CHECK(s["p'"] == doctest::Approx(2 - 0.01 * (-24 / a)).epsilon(1e-12));
  }
  SUBCASE("Adam with AMSGrad") {
    Tensor w = tensor({2.0}, kFloat64).requires_grad_();
    optim::Adam::Options o;
    o.lr = 0.1, o.amsgrad = true;
    optim::Adam opt({w}, o);
    optim::UpdateTrace trace(opt);
    sum(square(w * 3.0 - 10.0)).backward();
    const optim::TraceStep s = trace.step();
    CHECK(s["v_max"] == doctest::Approx(0.576).epsilon(1e-12));
    CHECK(s["v̂"] == doctest::Approx(576).epsilon(1e-12));
  }
}

TEST_CASE("UpdateTrace: the printed step lists each quantity with its formula") {
  Tensor w = tensor({2.0}, kFloat64).requires_grad_();
  optim::Adadelta opt({w});
  optim::UpdateTrace trace(opt);
  sum(square(w * 3.0 - 10.0)).backward();
  std::ostringstream os;
  trace.step(os);
  const std::string out = os.str();
  CHECK(out.find("Adadelta step 1, parameter #0 element 0  (lr=1, ρ=0.9, ε=1e-06)") == 0);
  for (const char* line : {"E[g²] ← ρ·E[g²] + (1 − ρ)·g²", "Δx = √(E[Δx²] + ε) / √(E[g²] + ε) · g",
                           "E[Δx²] ← ρ·E[Δx²] + (1 − ρ)·Δx²", "p' = p − lr·Δx"})
    CHECK(out.find(line) != std::string::npos);
}

TEST_CASE("UpdateTrace: errors name the optimizer, the index and what was expected") {
  Tensor w = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64).requires_grad_();
  optim::SGD opt({w});
  CHECK(test::message([&] { optim::UpdateTrace(opt, 1); }) ==
        "UpdateTrace(SGD): parameter #1 out of range: the optimizer has 1 parameters");
  CHECK(test::message([&] { optim::UpdateTrace(opt, 0, 4); }) ==
        "UpdateTrace(SGD): element 4 out of range for parameter #0 of shape [2,2] (4 elements)");
  optim::UpdateTrace trace(opt, 0, 3);
  CHECK(test::message([&] { trace.step(); }) ==
        "UpdateTrace(SGD): parameter #0 has no gradient: call backward() before step()");
  CHECK(w.data<double>()(1, 1) == 4);  // no step was taken
  sum(w).backward();
  CHECK(test::message([&] { trace.step()["m"]; }).find("TraceStep: no quantity 'm' in this step (it has p, g, p')") ==
        0);
}
