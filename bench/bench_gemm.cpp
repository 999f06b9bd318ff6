// The GEMMs of training cases c and d (bench_train) alone, through cblas_sgemm, in each transpose variant:
// whether storing a weight or an activation the other way round would make the step's GEMMs faster. chainrule's
// Linear keeps W as [in, out]: forward x·W (NN), ∂x = g·Wᵀ (NT), ∂W = xᵀ·g (TN); torch's [out, in] layout gives
// NT, NN and TN. Prints GFLOP/s per variant, medians (bench/timer.hpp); then the same for chainrule's own 512-bit
// kernel (autograd/ops/sgemm.hpp) on CPUs with AVX-512F, one thread, whichever kernel matmul picks on this machine.
//   bench_gemm [--threads N]        (OpenBLAS threads; default 1)
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/ops/sgemm.hpp"
#include "../examples/cli.hpp"
#include "machine.hpp"
#include "timer.hpp"

namespace {

struct Gemm {
  const char* what;
  int m, n, k;  // C[m,n] = op(A)[m,k] · op(B)[k,n]
};

// Median GFLOP/s of one C = op(A)·op(B) (beta 0), row-major, by OpenBLAS or (own) chainrule's sgemm_512.
double gflops(const Gemm& g, bool ta, bool tb, bool own) {
  std::vector<float> a(std::size_t(g.m) * g.k, 0.5f), b(std::size_t(g.k) * g.n, 0.25f), c(std::size_t(g.m) * g.n);
  const int lda = ta ? g.m : g.k, ldb = tb ? g.k : g.n;
  const double ns = bench::median_ns([&] {
#ifdef CHAINRULE_SGEMM_512
    if (own)
      return chainrule::detail::sgemm_512(ta, tb, std::size_t(g.m), std::size_t(g.n), std::size_t(g.k), a.data(),
                                          std::size_t(lda), b.data(), std::size_t(ldb), 0.0f, c.data(),
                                          std::size_t(g.n));
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, g.m, g.n, g.k, 1.0f,
                a.data(), lda, b.data(), ldb, 0.0f, c.data(), g.n);
  });
  return 2.0 * g.m * g.n * g.k / ns;
}

template <std::size_t N> void table(const Gemm (&gemms)[N], bool own) {
  std::printf("%-36s %7s %7s %7s %7s\n", "GEMM of the step: m x k . k x n", "NN", "NT", "TN", "TT");
  for (const Gemm& g : gemms) {
    std::printf("%-36s", g.what);
    for (int v = 0; v < 4; ++v) std::printf(" %7.1f", gflops(g, v & 2, v & 1, own));
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  examples::Cli cli("bench_gemm", "The GEMMs of cases b, c and d alone, in each transpose form, by OpenBLAS on N "
                                   "threads, then by chainrule's own 512-bit kernel (one thread) where the CPU has "
                                   "AVX-512F");
  cli.option("--threads", threads, "OpenBLAS threads").range(1, 4096).show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  openblas_set_num_threads(threads);
  const Gemm gemms[] = {
      {"b  x.W1    32x784 . 784x16", 32, 16, 784},         {"b  xT.g1   784x32 . 32x16", 784, 16, 32},
      {"c  x.W1    64x784 . 784x128", 64, 128, 784},       {"c  xT.g1   784x64 . 64x128", 784, 128, 64},
      {"d  x.W1    512x784 . 784x1024", 512, 1024, 784},   {"d  h1.W2   512x1024 . 1024x1024", 512, 1024, 1024},
      {"d  g2.W2T  512x1024 . 1024x1024", 512, 1024, 1024}, {"d  h1T.g2  1024x512 . 512x1024", 1024, 1024, 512},
      {"d  xT.g1   784x512 . 512x1024", 784, 1024, 512},
  };
  std::printf("%s\ncblas_sgemm GFLOP/s by transpose variant, %d OpenBLAS thread(s) (%s kernels), median of 7 samples\n",
              bench::cpu_name().c_str(), threads, openblas_get_corename());
  table(gemms, false);
#ifdef CHAINRULE_SGEMM_512
  if (__builtin_cpu_supports("avx512f")) {
    std::printf("\nchainrule's sgemm_512 GFLOP/s, 1 thread (matmul uses it on this machine: %s)\n",
                chainrule::detail::use_sgemm_512() ? "yes" : "no");
    table(gemms, true);
  }
#endif
}
