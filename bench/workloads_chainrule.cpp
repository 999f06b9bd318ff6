#include <cblas.h>

#include <chainrule/autograd.hpp>
#include "timer.hpp"
#include "workloads.hpp"

using namespace chainrule;

namespace bench {

double chainrule_chain_ns(int n, int ops, int mode) {
  const Shape s = n == 1 ? Shape{1} : Shape{std::size_t(n), std::size_t(n)};
  Tensor c = full(s, 1.0001);
  Tensor x = ones(s).requires_grad_(mode > 0);
  auto run = [&] {
    Tensor y = x;
    for (int i = 0; i < ops; ++i) y = y * c;
    if (mode == 2) sum(y).backward();
  };
  double ns;
  if (mode == 0) {
    NoGradGuard g;
    ns = median_ns(run);
  } else {
    ns = median_ns(run);
  }
  return ns / ops;
}

double chainrule_matmul_ns(int n) {
  manual_seed(1);
  Tensor a = randn({std::size_t(n), std::size_t(n)}), b = randn({std::size_t(n), std::size_t(n)});
  NoGradGuard g;
  return median_ns([&] { matmul(a, b); }, 7, 50);
}

double chainrule_unary_us(const std::string& op) {
  manual_seed(1);
  const Tensor x = rand({512, 1024}, kFloat32, 0.01, 4);
  auto f = [&op](const Tensor& t) {
    return op == "exp" ? exp(t) : op == "log" ? log(t) : op == "tanh" ? tanh(t) : op == "sigmoid" ? sigmoid(t) : relu(t);
  };
  NoGradGuard g;
  return median_ns([&] { f(x); }, 7, 20) / 1e3;
}

double cblas_matmul_ns(int n) {
  std::vector<float> a(std::size_t(n) * n, 0.5f), b(a), c(a);
  return median_ns([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  }, 7, 50);
}

}  // namespace bench
