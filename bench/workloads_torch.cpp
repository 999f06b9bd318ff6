// The same workloads in libtorch (built only with -DCHAINRULE_BENCH_TORCH=ON and libtorch installed).
#include <torch/torch.h>

#include "timer.hpp"
#include "workloads.hpp"

namespace bench {

bool have_torch() { return true; }

double torch_chain_ns(int n, int ops, int mode) {
  auto c = torch::full({n, n}, 1.0001f);
  auto x = torch::ones({n, n}).requires_grad_(mode > 0);
  if (n == 1) c = c.reshape({1}), x = torch::ones({1}).requires_grad_(mode > 0);
  auto run = [&] {
    auto y = x;
    for (int i = 0; i < ops; ++i) y = y * c;
    if (mode == 2) y.sum().backward();
  };
  double ns;
  if (mode == 0) {
    torch::NoGradGuard g;
    ns = median_ns(run);
  } else {
    ns = median_ns(run);
  }
  return ns / ops;
}

double torch_matmul_ns(int n) {
  torch::manual_seed(1);
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::NoGradGuard g;
  return median_ns([&] { torch::matmul(a, b); }, 7, 50);
}

double torch_unary_us(const std::string& op) {
  torch::manual_seed(1);
  const auto x = torch::rand({512, 1024}) * 3.99 + 0.01;
  auto f = [&op](const torch::Tensor& t) {
    return op == "exp" ? t.exp() : op == "log" ? t.log() : op == "tanh" ? t.tanh() : op == "sigmoid" ? t.sigmoid() : t.relu();
  };
  torch::NoGradGuard g;
  return median_ns([&] { f(x); }, 7, 20) / 1e3;
}

}  // namespace bench

namespace bench {
void set_torch_threads(int n) {
  torch::set_num_threads(n);
  torch::set_num_interop_threads(n);
}
}  // namespace bench
