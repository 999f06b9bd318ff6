#pragma once
// chainrule's own float32 GEMM on 512-bit vectors (sgemm.cpp), for CPUs with full-width AVX-512 units whose
// OpenBLAS runs 256-bit kernels: OpenBLAS 0.3.21 does on AMD Zen 5 when OPENBLAS_CORETYPE=Haswell is set (as on the
// machines bench/README.md's session 10 ran on), where its 512-bit kernels are 1.6–1.9× faster but unused.
#include <cstddef>

// x86-64 with g++ or clang (function-level target attributes): the kernel is compiled; elsewhere OpenBLAS does all.
#if defined(__x86_64__) && defined(__GNUC__)
#define CHAINRULE_SGEMM_512 1

namespace chainrule::detail {

/// Whether float32 GEMMs run sgemm_512 rather than OpenBLAS. Decided once: the CPU has AVX-512F with full-width
/// units (Intel, or AMD family 1Ah and later; Zen 4 splits 512-bit operations in halves), OpenBLAS' kernels are not
/// 512-bit ones already (openblas_get_corename), and the environment variable CHAINRULE_SGEMM is not `openblas`.
/// CHAINRULE_SGEMM=512 asks for it on any CPU with AVX-512F (benchmarks, tests).
bool use_sgemm_512();

/// C[m,n] = op(A)[m,k] · op(B)[k,n] + beta·C, row-major with leading dimensions, op = transpose where flagged;
/// beta = 0 never reads C. Each element of C sums its k products in order, in equal blocks of at most 256 cut by k
/// alone (each block summed from 0 by FMA, then added to C), whatever m, n and the element's position: so any block of
/// C's rows or columns computed by its own call gets the bits the whole product gives it. Needs AVX-512F
/// (use_sgemm_512); m, n, k ≥ 1.
void sgemm_512(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
               const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);

}  // namespace chainrule::detail
#endif
