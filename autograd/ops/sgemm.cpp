// float32 GEMM on 512-bit vectors, the textbook (Goto/BLIS) way: op(B) is packed into panels of 32 columns (16 when
// C is at most 16 wide) and op(A) into panels of kMR = 8 rows, zero-padded to whole panels, and an 8 × 32 tile of C
// is summed in registers, one rank-1 update per k: 16 FMAs of 16 lanes from two loads of B and eight broadcasts of A.
//   loops: columns of C by kNC (a packed block of B, kKC × kNC, stays in L2)
//            k in equal blocks of at most kKC, cut by k alone (the block each tile sums from 0, then adds to C)
//              rows of C by kMC (a packed block of A, kMC × kKC, in L2)
//                tiles: a B panel (kKC × 32, 32 KiB) stays in L1 while the A panels stream past it
// Packing reads rows where op() keeps them and transposes 16 × 16 blocks in registers where it does not, so all four
// transpose forms run at the same speed. When C's block is at most 4 panels wide (the layers of small nets: 64 × 784
// · 784 × 128), op(A) is read in place instead, its whole 8-row tiles broadcast from where they are: packing it
// cost as much as the few tiles that reuse it (a Fashion-MNIST step 8% faster). Either way each element sees the
// same FMAs in the same order, so the bits are the same.
#include "sgemm.hpp"

#ifdef CHAINRULE_SGEMM_512
#include <cpuid.h>
#include <immintrin.h>

// g++ 12's avx512fintrin.h leaves the pass-through operand of its masked intrinsics undefined on purpose
// (_mm512_undefined_ps) and then warns about it once they are inlined: GCC bug 105593 (fixed in g++ 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

extern "C" char* openblas_get_corename(void);  // OpenBLAS' own call: the kernels it picked at load time

namespace chainrule::detail {
namespace {

constexpr std::size_t kMR = 8, kKC = 256, kMC = 128, kNC = 512;  // kNC: a multiple of 32
constexpr std::size_t kDirectPanels = 4;  // op(A) unpacked when C's block is at most this many B panels wide

// The kernel's functions read only through masked intrinsics and this thread's packing buffers (fixed sizes), which
// sanitizers would check on every broadcast: uninstrumented, a sanitizer build's GEMMs run at 0.7× OpenBLAS' speed
// instead of 0.08× (tests/test_gemm.cpp checks the kernel's bounds and numbers in every build).
#define CHAINRULE_AVX512 __attribute__((target("avx512f"), no_sanitize("address", "undefined")))

// Lanes [16h, 16h + 16) of a row of nr valid columns.
inline __mmask16 lanes(std::size_t nr, std::size_t h) {
  return nr >= 16 * (h + 1) ? __mmask16(0xffff) : nr <= 16 * h ? __mmask16(0) : __mmask16((1u << (nr - 16 * h)) - 1);
}

// C[0..mr, 0..nr] = s·C + op(A)·op(B) over kc, op(B) from packed panels of NV vectors' width (16·NV columns); s =
// beta on the first k block, else 1; without `keep` (beta = 0 on the first block), C is written without being read.
// The kMR rows of op(A) are read at ap[i·si + p·sp]: with kRows, si = stride and sp = 1 (op(A)'s rows in place);
// else si = 1 and sp = stride (a packed panel, stride kMR, or op(A)'s columns in place, stride lda).
template <std::size_t NV, bool kRows>
CHAINRULE_AVX512 void tile(std::size_t kc, const float* ap, std::size_t stride, const float* bp, float* c,
                           std::size_t ldc, std::size_t mr, std::size_t nr, float s, bool keep) {
  const std::size_t si = kRows ? stride : 1, sp = kRows ? 1 : stride;
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (std::size_t i = 0; i < kMR; ++i) {
    for (std::size_t v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
    // C's lines, read or written after the loop: in cache by then (a large C is past L2, and the tile would stall)
    if (i < mr)
      for (std::size_t v = 0; v < NV && 16 * v < nr; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * v), _MM_HINT_T0);
  }
  for (std::size_t p = 0; p < kc; ++p, ap += sp, bp += 16 * NV) {
    __m512 bv[NV];
    for (std::size_t v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(bp + 16 * v);
#pragma GCC unroll 8
    for (std::size_t i = 0; i < kMR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i * si]);
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(a, bv[v], acc[i][v]);
    }
  }
  const __m512 sv = _mm512_set1_ps(s);
#pragma GCC unroll 8
  for (std::size_t i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    for (std::size_t v = 0; v < NV; ++v) {
      float* const cv = c + i * ldc + 16 * v;
      const __mmask16 m = lanes(nr, v);
      if (keep)  // s·C + sum, rounded as written (s = 1 is exact)
        acc[i][v] = _mm512_add_ps(_mm512_mul_ps(sv, _mm512_maskz_loadu_ps(m, cv)), acc[i][v]);
      _mm512_mask_storeu_ps(cv, m, acc[i][v]);
    }
  }
}

// r[0..16] = the rows of a 16 × 16 block, in place of its columns: unpack pairs of lanes, then pairs of pairs,
// then 128-bit quarters twice.
CHAINRULE_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 16; i += 8)
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

// Panels of 16·NV columns of op(B)[pc.., jc..], kc × nc: panel j holds rows p as 16·NV consecutive floats, zero
// past nc.
template <std::size_t NV>
CHAINRULE_AVX512 void pack_b(bool tb, const float* b, std::size_t ldb, std::size_t pc, std::size_t jc,
                             std::size_t kc, std::size_t nc, float* dst) {
  constexpr std::size_t w = 16 * NV;
  for (std::size_t j = 0; j < nc; j += w, dst += kc * w) {
    const std::size_t nr = std::min(w, nc - j);
    for (std::size_t h = 0; h < NV; ++h) {
      const __mmask16 m = lanes(nr, h);
      if (!tb) {  // B(p, j) = b[p·ldb + j]: rows are contiguous
        const float* src = b + pc * ldb + jc + j + 16 * h;
        for (std::size_t p = 0; p < kc; ++p, src += ldb)
          _mm512_store_ps(dst + p * w + 16 * h, _mm512_maskz_loadu_ps(m, src));
        continue;
      }
      // B(p, j) = b[j·ldb + p]: columns are contiguous; 16 × 16 blocks transposed in registers
      for (std::size_t p = 0; p < kc; p += 16) {
        const std::size_t pn = std::min<std::size_t>(16, kc - p);
        const __mmask16 mp = __mmask16((1u << pn) - 1);
        __m512 r[16];
        for (std::size_t jj = 0; jj < 16; ++jj)
          r[jj] = m >> jj & 1 ? _mm512_maskz_loadu_ps(mp, b + (jc + j + 16 * h + jj) * ldb + pc + p)
                              : _mm512_setzero_ps();
        transpose16(r);
        for (std::size_t q = 0; q < pn; ++q) _mm512_store_ps(dst + (p + q) * w + 16 * h, r[q]);
      }
    }
  }
}

// Panels of kMR rows of op(A)[ic.., pc..], mc × kc: panel i holds columns p as kMR consecutive floats, zero past mc.
CHAINRULE_AVX512 void pack_a(bool ta, const float* a, std::size_t lda, std::size_t ic, std::size_t pc,
                             std::size_t mc, std::size_t kc, float* dst) {
  static_assert(kMR == 8, "two panels from each 16 × 16 block");
  if (ta) {  // A(i, p) = a[p·lda + i]: columns of op(A) are contiguous
    for (std::size_t i = 0; i < mc; i += kMR, dst += kc * kMR) {
      const __mmask16 m = __mmask16((1u << std::min(kMR, mc - i)) - 1);
      const float* src = a + pc * lda + ic + i;
      for (std::size_t p = 0; p < kc; ++p, src += lda)
        _mm512_mask_storeu_ps(dst + p * kMR, 0xff, _mm512_maskz_loadu_ps(m, src));
    }
    return;
  }
  // A(i, p) = a[i·lda + p]: rows are contiguous; 16 × 16 blocks transposed in registers, each column's lanes 0–7
  // to one panel and 8–15 to the next
  for (std::size_t i = 0; i < mc; i += 2 * kMR, dst += 2 * kc * kMR) {
    float* const next = dst + kc * kMR;
    const bool two = i + kMR < mc;
    for (std::size_t p = 0; p < kc; p += 16) {
      const std::size_t pn = std::min<std::size_t>(16, kc - p);
      const __mmask16 mp = __mmask16((1u << pn) - 1);
      __m512 r[16];
      for (std::size_t ii = 0; ii < 16; ++ii)
        r[ii] = i + ii < mc ? _mm512_maskz_loadu_ps(mp, a + (ic + i + ii) * lda + pc + p) : _mm512_setzero_ps();
      transpose16(r);
      for (std::size_t q = 0; q < pn; ++q) {
        _mm512_mask_storeu_ps(dst + (p + q) * kMR, 0xff, r[q]);
        if (two) _mm512_mask_storeu_ps(next + (p + q) * kMR - 8, 0xff00, r[q]);
      }
    }
  }
}

// This thread's packing buffers, 64-byte aligned, made on its first GEMM.
float* aligned_floats(std::size_t n) {
  void* p = std::aligned_alloc(64, n * sizeof(float));
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}
struct Packed {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> a{aligned_floats(kMC * kKC)};
  std::unique_ptr<float[], Free> b{aligned_floats(kKC * kNC)};
};
Packed& packed() {
  thread_local Packed buf;
  return buf;
}

bool full_width_avx512() {
  if (!__builtin_cpu_supports("avx512f")) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
  if (ebx == 0x756e6547) return true;        // "Genu": GenuineIntel
  if (ebx != 0x68747541) return false;       // "Auth": AuthenticAMD
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  return ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff) >= 0x1a;  // family 1Ah (Zen 5) on
}

bool decide() {
  const char* env = std::getenv("CHAINRULE_SGEMM");
  const std::string want = env ? env : "";
  if (want == "openblas") return false;
  if (want == "512") return __builtin_cpu_supports("avx512f");
  const std::string core = openblas_get_corename();
  const bool blas_512 = core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
  return !blas_512 && full_width_avx512();
}

}  // namespace

bool use_sgemm_512() {
  static const bool use = decide();
  return use;
}

namespace {
// The loops of the header's comment, on panels NV vectors wide.
template <std::size_t NV>
void blocked(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
             const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  constexpr std::size_t w = 16 * NV;
  Packed& buf = packed();
  const std::size_t kb = (k + (k + kKC - 1) / kKC - 1) / ((k + kKC - 1) / kKC);  // k in equal blocks of ≤ kKC
  for (std::size_t jc = 0; jc < n; jc += kNC) {
    const std::size_t nc = std::min(kNC, n - jc);
    for (std::size_t pc = 0; pc < k; pc += kb) {
      const std::size_t kc = std::min(kb, k - pc);
      const float s = pc == 0 ? beta : 1.0f;
      const bool keep = s != 0.0f;
      pack_b<NV>(tb, b, ldb, pc, jc, kc, nc, buf.b.get());
      // op(A) read in place, unpacked, when few panels of B would share its packing: packing reads and writes each
      // element once, as a tile reads it once per panel. Rows 4 KiB apart would share L1 sets, so those are packed.
      const bool direct = (nc + w - 1) / w <= kDirectPanels && (ta || lda * sizeof(float) % 4096 != 0);
      for (std::size_t ic = 0; ic < m; ic += kMC) {
        const std::size_t mc = std::min(kMC, m - ic), full = direct ? mc / kMR * kMR : 0;  // full: rows read in place
        if (full < mc) pack_a(ta, a, lda, ic + full, pc, mc - full, kc, buf.a.get());
        for (std::size_t jr = 0; jr < nc; jr += w)
          for (std::size_t ir = 0; ir < mc; ir += kMR) {
            float* const ct = c + (ic + ir) * ldc + jc + jr;
            const std::size_t mr = std::min(kMR, mc - ir), nr = std::min(w, nc - jr);
            if (ir < full && ta)  // op(A)'s columns in place: kMR consecutive floats per p, lda apart
              tile<NV, false>(kc, a + pc * lda + ic + ir, lda, buf.b.get() + jr * kc, ct, ldc, mr, nr, s, keep);
            else if (ir < full)  // op(A)'s rows in place, lda apart
              tile<NV, true>(kc, a + (ic + ir) * lda + pc, lda, buf.b.get() + jr * kc, ct, ldc, mr, nr, s, keep);
            else
              tile<NV, false>(kc, buf.a.get() + (ir - full) * kc, kMR, buf.b.get() + jr * kc, ct, ldc, mr, nr, s, keep);
          }
      }
    }
  }
}
}  // namespace

// Panels of 32 columns, or of 16 when C has at most 16 (half the work of a 32-wide panel would be padding). Both
// sum each element alike, so the choice never changes a bit.
void sgemm_512(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
               const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  if (n <= 16) blocked<1>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
  else blocked<2>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace chainrule::detail
#undef CHAINRULE_AVX512
#endif
