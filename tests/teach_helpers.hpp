#pragma once
// Helpers shared by the teaching annex's tests (test_trace, test_dot, test_anomaly, test_calculator).
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <chainrule/autograd.hpp>

namespace test {

/// A float64 scalar leaf that requires grad, labelled `name`.
inline chainrule::Tensor scalar(double v, const char* name) {
  return chainrule::tensor(v, chainrule::kFloat64).requires_grad_().label(name);
}

/// micrograd's neuron: o = tanh(x1·w1 + x2·w2 + b), labelled as in micrograd's lecture.
struct Neuron {
  chainrule::Tensor x1 = scalar(2, "x1"), x2 = scalar(0, "x2"), w1 = scalar(-3, "w1"), w2 = scalar(1, "w2"),
                    b = scalar(6.8813735870195432, "b");
  chainrule::Tensor x1w1 = (x1 * w1).label("x1w1"), x2w2 = (x2 * w2).label("x2w2");
  chainrule::Tensor sum = (x1w1 + x2w2).label("x1w1x2w2");
  chainrule::Tensor n = (sum + b).label("n");
  chainrule::Tensor o = chainrule::tanh(n).label("o");
};

/// How many times `what` occurs in s.
inline std::size_t count(const std::string& s, const std::string& what) {
  std::size_t c = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++c;
  return c;
}

/// A float64 tensor's values, flat.
inline std::vector<double> flat(const chainrule::Tensor& t) {
  return {t.data<double>().begin(), t.data<double>().end()};
}

/// Runs a shell command; returns its exit status and what it printed on stdout (and stderr if redirected).
inline std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace test
