#pragma once
// The benchmark workloads, implemented once with chainrule and once with libtorch (when built with it), so that
// both run in the same process, at the same thread count, on the same shapes.
#include <string>
#include <vector>

namespace bench {

struct Result {
  std::string name;  // "chain 1 el, forward no-grad"
  std::string unit;  // "ns/op"
  double chainrule = 0, torch = 0, floor = 0;  // torch/floor: 0 when not measured
};

// Per-op overhead: a chain of `ops` multiplications y ← y ⊙ c on tensors of `n`×`n` elements (n = 1 or 64).
double chainrule_chain_ns(int n, int ops, int mode);  // mode 0 no-grad forward, 1 recorded forward, 2 forward+backward
double torch_chain_ns(int n, int ops, int mode);
// matmul of two n×n float32 matrices (forward only, no tape).
double chainrule_matmul_ns(int n);
double torch_matmul_ns(int n);
double cblas_matmul_ns(int n);
// One elementwise op ("exp", "log", "tanh", "sigmoid", "relu") on 512×1024 float32 values in (0.01, 4), forward only.
double chainrule_unary_us(const std::string& op);
double torch_unary_us(const std::string& op);

bool have_torch();
void set_torch_threads(int n);

}  // namespace bench
