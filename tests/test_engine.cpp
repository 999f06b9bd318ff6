// The engine: accumulation, reuse, diamonds, retain_graph, no_grad, detach, deep chains, dtypes.
#include <doctest/doctest.h>

#include <thread>

#include <chainrule/autograd.hpp>
#include "helpers.hpp"

using namespace chainrule;

TEST_CASE("engine: a reused input gets the sum of both paths (y = a·a)") {
  Tensor a = tensor(3.0, kFloat64).requires_grad_();
  Tensor y = a * a;
  y.backward();
  CHECK(y.item() == 9);
  CHECK(a.grad().item() == 6);  // ∂(a·a)/∂a = a + a
}

TEST_CASE("engine: a diamond sends both branches back to the shared node") {
  // b = 2a, c = a², d = b·c = 2a³ → ∂d/∂a = 6a² = 24 at a = 2; the shared node b feeds nothing twice.
  Tensor a = tensor(2.0, kFloat64).requires_grad_();
  Tensor b = a * 2.0, c = a * a, d = b * c;
  d.backward();
  CHECK(d.item() == 16);
  CHECK(a.grad().item() == 24);
}

TEST_CASE("engine: gradients accumulate over backwards until zero_grad") {
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  sum(w * 3.0).backward();
  sum(w * 3.0).backward();
  CHECK(w.grad().data<double>() == Array<double>({6, 6}));
  w.zero_grad();
  CHECK(w.grad().data<double>() == Array<double>({0, 0}));
  sum(square(w)).backward();
  CHECK(w.grad().data<double>() == Array<double>({2, 4}));
}

TEST_CASE("engine: zero_grad(set_to_none) drops the gradient; the next backward writes it afresh") {
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  sum(w * 3.0).backward();
  Tensor old = w.grad();
  w.zero_grad(true);
  CHECK_FALSE(w.grad().defined());
  sum(w * 5.0).backward();
  CHECK(w.grad().data<double>() == Array<double>({5, 5}));
  CHECK(old.data<double>() == Array<double>({3, 3}));  // a handle to the old gradient keeps its values
}

TEST_CASE("engine: a freed graph refuses a second backward; retain_graph keeps it") {
  Tensor x = tensor(1.5, kFloat64).requires_grad_();
  Tensor y = exp(x) * x;
  y.backward(retain_graph);
  y.backward();  // the first kept the graph
  CHECK(x.grad().item() == doctest::Approx(2 * (std::exp(1.5) * 2.5)).epsilon(1e-15));
  CHECK_THROWS_WITH(y.backward(), "backward: the graph through 'mul' was already freed by an earlier backward; "
                                  "pass retain_graph = true to the first one");
}

TEST_CASE("engine: backward needs a scalar or an explicit gradient") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * x;
  CHECK_THROWS_WITH(y.backward(), "backward: tensor of shape [2] is not a scalar; pass its gradient explicitly: "
                                  "t.backward(gradient)");
  CHECK_THROWS_WITH(y.backward(tensor({1.0, 2.0, 3.0})),
                    "backward: gradient is float32 [3] but the tensor is float32 [2]");
  y.backward(tensor({1.0, 10.0}));
  CHECK(x.grad().data<float>() == Array<float>({2, 40}));
  CHECK_THROWS_WITH(tensor(1.0).backward(),
                    "backward: tensor does not require grad (no input of it has requires_grad set)");
}

TEST_CASE("engine: NoGradGuard and detach stop recording") {
  Tensor x = tensor(2.0).requires_grad_();
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = x * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK(grad_enabled());
  Tensor z = x.detach() * x;  // only the second factor carries a gradient
  z.backward();
  CHECK(x.grad().item() == 2);
  CHECK_FALSE(x.detach().requires_grad());
}

TEST_CASE("engine: recording is off per thread, not globally") {
  NoGradGuard guard;
  bool other = false;
  std::thread([&] { other = grad_enabled(); }).join();
  CHECK(other);
}

TEST_CASE("engine: intermediate gradients are freed unless retained") {
  Tensor x = tensor(3.0, kFloat64).requires_grad_();
  Tensor h = x * 2.0, k = x * 4.0;
  k.retain_grad();
  Tensor y = h * k;
  y.backward();
  CHECK_FALSE(h.grad().defined());
  CHECK(k.grad().item() == 6);  // ∂y/∂k = h = 6
  CHECK(x.grad().item() == 2 * 12 + 4 * 6);
}

TEST_CASE("engine: float32 and float64 give the same gradient on a small composite") {
  for (Dtype dt : {kFloat32, kFloat64}) {
    Tensor x = tensor({{0.5, -1.0}, {2.0, 0.25}}, dt).requires_grad_();
    Tensor w = tensor({{1.0}, {-2.0}}, dt).requires_grad_();
    Tensor loss = mean(square(tanh(matmul(x, w)) - 0.5));
    loss.backward();
    CHECK(x.grad().dtype() == dt);
    // Analytic: y = x·w, l = mean((tanh y − ½)²), ∂l/∂y = (tanh y − ½)(1 − tanh² y), ∂l/∂w = xᵀ·∂l/∂y.
    double y0 = std::tanh(0.5 * 1 + -1.0 * -2), y1 = std::tanh(2.0 - 0.5);
    double g0 = (y0 - 0.5) * (1 - y0 * y0), g1 = (y1 - 0.5) * (1 - y1 * y1);
    double tol = dt == kFloat32 ? 1e-6 : 1e-15;
    CHECK(w.grad().to(kFloat64).data<double>()(0, 0) == doctest::Approx(0.5 * g0 + 2.0 * g1).epsilon(tol));
    CHECK(w.grad().to(kFloat64).data<double>()(1, 0) == doctest::Approx(-1.0 * g0 + 0.25 * g1).epsilon(tol));
  }
}

TEST_CASE("engine: to() is differentiable across dtypes") {
  Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  Tensor y = x.to(kFloat32);
  CHECK(y.dtype() == kFloat32);
  sum(y * y).backward();
  CHECK(x.grad().dtype() == kFloat64);
  CHECK(x.grad().data<double>() == Array<double>({2, 4}));
}

// Under the sanitizers (CHAINRULE_SANITIZER_BUILD, tests/CMakeLists.txt) the chain has 10^5 ops: 10^6 takes minutes
// there, and 10^5 is still far deeper than recursion would survive. The resident-memory check runs in normal builds
// only: ASan's quarantine keeps freed memory resident on purpose.
#ifdef CHAINRULE_SANITIZER_BUILD
constexpr std::size_t kChainOps = 100'000;
#else
constexpr std::size_t kChainOps = 1'000'000;
#endif

TEST_CASE("engine: a chain of 10^6 ops back-propagates and is released without recursion, memory and all") {
  const double before = test::resident_mib();
  double built = 0;
  {
    Tensor x = tensor(1.0, kFloat64).requires_grad_();
    Tensor y = x;
    for (std::size_t i = 0; i < kChainOps; ++i) y = y * 1.0000001;
    built = test::resident_mib();
    y.backward();  // frees the graph as it walks it
    CHECK(x.grad().item() == doctest::Approx(std::pow(1.0000001, double(kChainOps))).epsilon(1e-9));
    Tensor z = x;
    for (std::size_t i = 0; i < kChainOps; ++i) z = z + 1.0;  // never back-propagated: torn down with the graph intact
    CHECK(z.item() == 1.0 + double(kChainOps));
    z = Tensor();
    y = Tensor();
  }
  const double after = test::resident_mib();
  MESSAGE(kChainOps << "-op chain: resident " << before << " MiB before, " << built << " MiB built, " << after
                    << " MiB after");
#ifndef CHAINRULE_SANITIZER_BUILD
  CHECK(built - before > 100);  // the measurement sees the graph (about 0.9 KiB per op) ...
  CHECK(after - before < 10);   // ... and it is all given back
#endif
}

TEST_CASE("engine: factories make the asked shape, dtype and values") {
  CHECK(zeros({2, 3}).shape() == Shape{2, 3});
  CHECK(ones({2}, kFloat64).data<double>() == Array<double>({1, 1}));
  CHECK(full({2}, 7).data<float>() == Array<float>({7, 7}));
  CHECK(arange(5).data<float>() == Array<float>({0, 1, 2, 3, 4}));
  CHECK(arange(1, 2, 0.25, kFloat64).data<double>() == Array<double>({1, 1.25, 1.5, 1.75}));
  CHECK(from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).data<float>() == Array<float>({{1, 2, 3}, {4, 5, 6}}));
  CHECK(from_xt(xt::xarray<double>({1.0, 2.0})).dtype() == kFloat64);
  CHECK(tensor({{{1.0, 2.0}}}).shape() == Shape{1, 1, 2});
  CHECK(tensor(2.5).dim() == 0);
  CHECK(tensor(2.5).item() == 2.5);
  manual_seed(42);
  Tensor a = randn({100});
  manual_seed(42);
  Tensor b = randn({100});
  CHECK(a.data<float>() == b.data<float>());
  Tensor u = rand({1000}, kFloat64, -1, 3);
  CHECK(xt::amin(u.data<double>())() >= -1);
  CHECK(xt::amax(u.data<double>())() < 3);
  CHECK_THROWS_WITH(from_vector({1, 2}, {3}), "from_vector: 2 values do not fill shape [3] (3 elements)");
  CHECK_THROWS_WITH(zeros({2}).data<double>(), "Tensor::data: tensor is float32, asked for float64");
  CHECK_THROWS_WITH(zeros({2}).item(), "item: tensor of shape [2] has 2 elements, not 1");
  CHECK_THROWS_WITH(Tensor().shape(), "Tensor: use of an undefined tensor (default-constructed or an absent grad)");
}

TEST_CASE("engine: large buffers are recycled per thread, 64-byte aligned; small ones are not kept") {
  empty_cache();
  const float* first = nullptr;
  {
    Tensor big = zeros({256, 256});  // 256 KiB
    first = big.data<float>().data();
    CHECK(reinterpret_cast<std::uintptr_t>(first) % detail::kBufferAlign == 0);
  }
#if defined(__SANITIZE_ADDRESS__)
  CHECK(cached_bytes() == 0);  // under ASan every block goes back at once, so use-after-free is caught
#else
  CHECK(cached_bytes() == 256 * 256 * sizeof(float));
  Tensor again = ones({128, 512});  // same byte size: the same block, no page faults
  CHECK(again.data<float>().data() == first);
  CHECK(cached_bytes() == 0);
  CHECK(again.data<float>() == xt::ones<float>({128, 512}));
  again = Tensor();
  CHECK(cached_bytes() == 256 * 256 * sizeof(float));
  std::size_t other_thread = 1;
  std::thread([&] { other_thread = cached_bytes(); }).join();  // each thread has its own cache
  CHECK(other_thread == 0);
#endif
  const std::size_t before = cached_bytes();
  { Tensor small = zeros({100}); }  // 400 bytes: malloc's business
  CHECK(cached_bytes() == before);
  empty_cache();
  CHECK(cached_bytes() == 0);
}

TEST_CASE("engine: set_flush_denormal flushes subnormal results and inputs to zero on this thread, and undoes it") {
  // Subnormal: below 1.18e-38 in float32, 2.2e-308 in float64. The inputs are made before the flag is set (the
  // conversion from double would flush them too).
  const Tensor tiny32 = tensor(1e-20, kFloat32), sub32 = tensor(1e-40, kFloat32), one32 = tensor(1.0, kFloat32);
  const Tensor tiny64 = tensor(1e-160, kFloat64), sub64 = tensor(1e-310, kFloat64), one64 = tensor(1.0, kFloat64);
  const Tensor small32 = tensor(1e-18, kFloat32);
  struct Restore {  // off is the default: leave the thread so even if a check throws
    ~Restore() { set_flush_denormal(false); }
  } restore;
  CHECK(mul(tiny32, tiny32).item() == doctest::Approx(1e-40).epsilon(1e-3));  // kept by default, as in torch
  CHECK(mul(sub64, one64).item() == 1e-310);
  REQUIRE(set_flush_denormal(true));
  CHECK(mul(tiny32, tiny32).item() == 0.0);  // a subnormal result is flushed (FTZ)
  CHECK(mul(tiny64, tiny64).item() == 0.0);
  CHECK(mul(sub32, one32).item() == 0.0);  // a subnormal input counts as 0 (DAZ)
  CHECK(mul(sub64, one64).item() == 0.0);
  CHECK(mul(small32, small32).item() == doctest::Approx(1e-36).epsilon(1e-6));  // normal numbers are untouched
  set_flush_denormal(false);
  CHECK(mul(tiny32, tiny32).item() == doctest::Approx(1e-40).epsilon(1e-3));
  CHECK(mul(sub64, one64).item() == 1e-310);
}
