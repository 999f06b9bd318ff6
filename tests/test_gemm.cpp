// chainrule's own float32 GEMM on 512-bit vectors (autograd/ops/sgemm.hpp), called directly so that it is checked
// on every CPU with AVX-512F, whichever kernel matmul picks there: error bounds against float64 sums in every
// transpose form and at the edges of its panels and blocks; beta; the same bits for any block of C's rows or columns.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <chainrule/autograd.hpp>
#include <chainrule/autograd/ops/sgemm.hpp>

#ifdef CHAINRULE_SGEMM_512
namespace {

using chainrule::detail::sgemm_512;

struct Gemm {
  std::size_t m, n, k;
  bool ta, tb;
  std::size_t pad = 3;  // leading dimensions past the matrix's own width: sgemm reads within them only
  std::vector<float> a, b;
  std::size_t lda() const { return (ta ? m : k) + pad; }
  std::size_t ldb() const { return (tb ? k : n) + pad; }
  float at_a(std::size_t i, std::size_t p) const { return ta ? a[p * lda() + i] : a[i * lda() + p]; }
  float at_b(std::size_t p, std::size_t j) const { return tb ? b[j * ldb() + p] : b[p * ldb() + j]; }

  Gemm(std::size_t m_, std::size_t n_, std::size_t k_, bool ta_, bool tb_, unsigned seed)
      : m(m_), n(n_), k(k_), ta(ta_), tb(tb_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    a.resize((ta ? k : m) * lda());
    b.resize((tb ? n : k) * ldb());
    for (float& x : a) x = d(rng);
    for (float& x : b) x = d(rng);
  }
  // C = op(A)·op(B) + beta·C on rows [r0, r1) and columns [c0, c1) of C (ldc = n), by one sgemm_512 call.
  void run(std::vector<float>& c, float beta, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) const {
    const float* ap = ta ? a.data() + r0 : a.data() + r0 * lda();
    const float* bp = tb ? b.data() + c0 * ldb() : b.data() + c0;
    sgemm_512(ta, tb, r1 - r0, c1 - c0, k, ap, lda(), bp, ldb(), beta, c.data() + r0 * n + c0, n);
  }
};

bool have_avx512() { return __builtin_cpu_supports("avx512f"); }

// Without AVX-512F the kernel cannot run: says so (ctest reports the test as skipped) and returns true.
bool skipped_without_avx512() {
  if (have_avx512()) return false;
  MESSAGE("CHAINRULE_TEST_SKIPPED: this CPU has no AVX-512F");
  return true;
}

}  // namespace

TEST_CASE("gemm: sgemm_512 is within float32's error bound of float64 sums, every transpose form, panel edges") {
  if (skipped_without_avx512()) return;
  // m, n, k across the 8-row and 32-column panels, the 256-long k blocks, the 128-row and 512-column blocks.
  const std::vector<std::array<std::size_t, 3>> shapes = {{1, 1, 1},     {7, 31, 5},     {8, 32, 256},
                                                          {9, 33, 257},  {17, 15, 300},  {129, 65, 513},
                                                          {64, 128, 784}, {130, 530, 40}, {3, 600, 17}};
  unsigned seed = 1;
  for (const auto& s : shapes)
    for (int form = 0; form < 4; ++form)
      for (const float beta : {0.0f, 1.0f, 0.5f}) {
        const Gemm g(s[0], s[1], s[2], form & 1, form & 2, seed++);
        std::vector<float> c(g.m * g.n);
        std::mt19937 rng(seed);
        std::normal_distribution<float> d;
        for (float& x : c) x = d(rng);
        const std::vector<float> c0 = c;
        g.run(c, beta, 0, g.m, 0, g.n);
        // |computed − exact| ≤ γ·(|beta·c| + Σ|a·b|), γ = (k + 2)·2⁻²⁴: k products summed, one scale, one add.
        const double gamma = double(g.k + 2) * std::ldexp(1.0, -24);
        double worst = 0;
        for (std::size_t i = 0; i < g.m; ++i)
          for (std::size_t j = 0; j < g.n; ++j) {
            double exact = double(beta) * c0[i * g.n + j], scale = std::fabs(exact);
            for (std::size_t p = 0; p < g.k; ++p) {
              const double t = double(g.at_a(i, p)) * g.at_b(p, j);
              exact += t;
              scale += std::fabs(t);
            }
            worst = std::max(worst, std::fabs(c[i * g.n + j] - exact) / (gamma * scale));
          }
        CHECK_MESSAGE(worst <= 1.0, s[0] << "x" << s[1] << "x" << s[2] << " ta " << g.ta << " tb " << g.tb
                                          << " beta " << beta << ": error / bound = " << worst);
      }
}

TEST_CASE("gemm: sgemm_512 with beta = 0 never reads C (NaN there stays out of the result)") {
  if (skipped_without_avx512()) return;
  for (int form = 0; form < 4; ++form) {
    const Gemm g(19, 45, 300, form & 1, form & 2, 7);
    std::vector<float> c(g.m * g.n, std::numeric_limits<float>::quiet_NaN());
    g.run(c, 0.0f, 0, g.m, 0, g.n);
    bool finite = true;
    for (float x : c) finite = finite && std::isfinite(x);
    CHECK_MESSAGE(finite, "form " << form);
  }
}

TEST_CASE("gemm: sgemm_512 gives any block of C's rows or columns the bits the whole product gives it") {
  if (skipped_without_avx512()) return;
  // Cuts that fall inside panels (8 rows, 32 columns) and blocks (128 rows, 512 columns), k past one 256 block; a
  // block 12 columns wide runs on 16-column panels, the rest on 32-column ones. Blocks of at most 4 panels (12 and
  // 128 columns wide; the 7 left of 12..531 past its first 512) read op(A) in place, the others pack it.
  for (int form = 0; form < 4; ++form) {
    const Gemm g(300, 700, 600, form & 1, form & 2, 11);
    std::vector<float> whole(g.m * g.n), rows(g.m * g.n), cols(g.m * g.n);
    g.run(whole, 0.0f, 0, g.m, 0, g.n);
    for (const auto& [r0, r1] : {std::pair<std::size_t, std::size_t>{0, 5}, {5, 133}, {133, 300}})
      g.run(rows, 0.0f, r0, r1, 0, g.n);
    for (const auto& [c0, c1] : {std::pair<std::size_t, std::size_t>{0, 12}, {12, 531}, {531, 659}, {659, 700}})
      g.run(cols, 0.0f, 0, g.m, c0, c1);
    const std::size_t bytes = whole.size() * sizeof(float);
    CHECK_MESSAGE(std::memcmp(whole.data(), rows.data(), bytes) == 0, "form " << form);
    CHECK_MESSAGE(std::memcmp(whole.data(), cols.data(), bytes) == 0, "form " << form);
  }
}
TEST_CASE("gemm: CHAINRULE_SGEMM picks matmul's float32 kernel") {
  // ctest runs this again with CHAINRULE_SGEMM=openblas and =512 (tests/CMakeLists.txt, ops.gemm_kernel_*).
  const char* env = std::getenv("CHAINRULE_SGEMM");
  const std::string want = env ? env : "";
  const bool own = chainrule::detail::use_sgemm_512();
  MESSAGE("CHAINRULE_SGEMM=" << want << ": float32 GEMMs run " << std::string(own ? "sgemm_512" : "OpenBLAS"));
  if (want == "openblas") CHECK_FALSE(own);
  else if (want == "512") CHECK(own == have_avx512());
  else CHECK((!own || have_avx512()));  // chosen by the CPU and OpenBLAS' kernels, and only with AVX-512F
}
#endif
