// matmul through OpenBLAS gemm, straight into preallocated outputs; backward uses the transpose flags,
// so no transposed copy of either operand is ever made.
#include <cblas.h>

#include <algorithm>
#include <type_traits>

#include "../function.hpp"
#include "../parallel.hpp"
#include "../ops.hpp"
#include "sgemm.hpp"

namespace chainrule {
namespace {

// C[m,n] = op(A)[m,k] · op(B)[k,n] + beta·C, row-major, leading dimensions given; op = transpose where flagged.
// float32 runs chainrule's 512-bit kernel where OpenBLAS would run 256-bit ones on a full-width AVX-512 CPU
// (sgemm.hpp).
void blas_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
               const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
#ifdef CHAINRULE_SGEMM_512
  static const bool own = detail::use_sgemm_512();
  if (own) return detail::sgemm_512(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
void blas_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a, std::size_t lda,
               const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// Rows (or columns) of C in each of kGemmParts blocks: 16-row multiples, whole micro-kernel tiles; 0 for one block.
// The cut depends on the shape alone, never on the thread count, so the products are the same BLAS calls, and give
// the same bits, at any thread count and with any OpenBLAS kernel: OpenBLAS 0.3.21's Haswell/Zen sgemm kernels
// (which it picks on Zen 2–3 CPUs, or under OPENBLAS_CORETYPE=Haswell) give a block other bits than the whole
// product computes for it; its SkylakeX/Cooperlake kernels happen not to.
std::size_t gemm_block(std::size_t dim, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t step = ((dim + 15) / 16 + detail::kGemmParts - 1) / detail::kGemmParts * 16;
  if (step >= dim) return 0;
  const std::size_t smallest = dim - (dim - 1) / step * step;  // the last block
  return double(m) * double(n) * double(k) / double(dim) * double(smallest) > detail::kGemmPartMin ? step : 0;
}

// float32 GEMMs in blocks on the intra-op threads (autograd/parallel.hpp): C's rows (when C is taller than wide,
// so that each block packs all of op(B), the smaller operand) or its columns, cut by gemm_block; each block is one
// single-threaded call of blas_gemm (OpenBLAS or sgemm_512), whichever thread makes it (one thread makes them in
// turn). Each block is large enough for OpenBLAS' large-matrix kernels, as the whole product is. float64 GEMMs stay
// whole, on one thread: they are for checking gradients.
template <class T>
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, const T* b, T beta, T* c) {
  const std::size_t lda = ta ? m : k, ldb = tb ? k : n;
  const std::size_t step = std::is_same_v<T, float> ? gemm_block(std::max(m, n), m, n, k) : 0;
  if (step == 0) return blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, n);
  const bool rows = m >= n;
  const std::size_t dim = rows ? m : n, blocks = (dim + step - 1) / step;
  detail::parallel_blocks(blocks, 1, [=](std::size_t b0, std::size_t b1) {
    for (std::size_t i = b0; i < b1; ++i) {
      const std::size_t lo = i * step, len = std::min(dim, lo + step) - lo;
      if (rows)  // rows lo.. of op(A) and of C
        blas_gemm(ta, tb, len, n, k, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * n, n);
      else  // columns lo.. of op(B) and of C
        blas_gemm(ta, tb, m, len, k, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, n);
    }
  });
}

// Same, for `batch` consecutive matrices; empty dimensions (which BLAS rejects) handled here.
template <class T>
void gemm_batched(std::size_t batch, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a,
                  const T* b, T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (std::size_t i = 0; i < batch * m * n; ++i) c[i] = beta == T(0) ? T(0) : c[i];
    return;
  }
  for (std::size_t i = 0; i < batch; ++i) gemm(ta, tb, m, n, k, a + i * m * k, b + i * k * n, beta, c + i * m * n);
}

// x:[..., K] as the matrix [R, K] of its rows.
Tensor rows_of(const Tensor& x) { return reshape(x, {-1, long(x.shape().back())}); }

std::string pair_str(const Tensor& a, const Tensor& b) { return shape_str(a.shape()) + " x " + shape_str(b.shape()); }

}  // namespace

// y = op(a)·op(b), a and b 2-D, op(m) = mᵀ where the flag says; op(a):[m,k], op(b):[k,n].
//   ∂a = g·op(b)ᵀ = matmul_t(g, b, 0, !tb)   (ta = 0)      ∂b = op(a)ᵀ·g = matmul_t(a, g, !ta, 0)   (tb = 0)
//   ∂a = op(b)·gᵀ = matmul_t(b, g, tb, 1)    (ta = 1)      ∂b = gᵀ·op(a) = matmul_t(g, a, 1, ta)    (tb = 1)
// Each derivative is a matmul_t again, so the op is differentiable to any order without a transposed copy.
//   ẏ = op(ȧ)·op(b) + op(a)·op(ḃ)
Tensor matmul_t(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_same_dtype("matmul_t", a, b);
  if (a.dim() != 2 || b.dim() != 2)
    throw std::invalid_argument("matmul_t: " + pair_str(a, b) + ": expected two 2-D tensors");
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::size_t m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1], n = tb ? sb[0] : sb[1];
  if ((tb ? sb[1] : sb[0]) != k)
    throw std::invalid_argument("matmul_t: " + pair_str(a, b) + (ta ? " (a transposed)" : "") +
                                (tb ? " (b transposed)" : "") + ": inner dimensions " + std::to_string(k) + " and " +
                                std::to_string(tb ? sb[1] : sb[0]) + " differ");
  return detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = Array<T>::from_shape({m, n});
    // Forward over reverse, a gradient read only for its tangent: the tangent below, not the product.
    if (detail::g_watch.tangent_only && detail::g_watch.dual) std::fill(y.begin(), y.end(), T(0));
    else gemm_batched<T>(1, ta, tb, m, n, k, a.data<T>().data(), b.data<T>().data(), T(0), y.data());
    Tensor result = record<T>("matmul_t", std::move(y), {a, b},
                     [ta, tb, m, n, k](auto& d, const Array<T>& g, const auto& in, const auto&) {
                       d.into(0, [&](Array<T>& da, T beta) {
                         if (!ta) gemm_batched<T>(1, false, !tb, m, k, n, g.data(), in[1].data(), beta, da.data());
                         else gemm_batched<T>(1, tb, true, k, m, n, in[1].data(), g.data(), beta, da.data());
                       });
                       d.into(1, [&](Array<T>& db, T beta) {
                         if (!tb) gemm_batched<T>(1, !ta, false, k, n, m, in[0].data(), g.data(), beta, db.data());
                         else gemm_batched<T>(1, true, ta, n, k, m, g.data(), in[0].data(), beta, db.data());
                       });
                     },
                     [ta, tb](auto& d, const Tensor& g, const auto& x, const Tensor&) {
                       if (d.needs(0)) d(0, ta ? matmul_t(x[1], g, tb, true) : matmul_t(g, x[1], false, !tb));
                       if (d.needs(1)) d(1, tb ? matmul_t(g, x[0], true, ta) : matmul_t(x[0], g, !ta, false));
                     },
                     [ta, tb](const auto& t, const auto& x, const Tensor&) {  // ẏ = op(ȧ)·op(b) + op(a)·op(ḃ)
                       return detail::add_defined(t.has(0) ? matmul_t(t[0], x[1], ta, tb) : Tensor(),
                                                  t.has(1) ? matmul_t(x[0], t[1], ta, tb) : Tensor());
                     });
    result.node().bilinear = true;
    return result;
  });
}

namespace {
// The recorded backward of x·W (matmul's row form, affine): ∂x = g·Wᵀ, ∂W = xᵀ·g, by matmul_t (no transposed
// copies); x and g of more than 2 dimensions are taken as their rows.
template <class D> void record_rows_matmul_backward(D& d, const Tensor& g, const Tensor& x, const Tensor& w) {
  const bool flat = x.dim() == 2;
  if (d.needs(0)) {
    const Tensor dx = matmul_t(flat ? g : rows_of(g), w, false, true);
    d(0, flat ? dx : reshape(dx, std::vector<long>(x.shape().begin(), x.shape().end())));
  }
  if (d.needs(1)) d(1, matmul_t(flat ? x : rows_of(x), flat ? g : rows_of(g), true, false));
}
}  // namespace

namespace {
// matmul's shapes: a:[B,N,K]·b:[B,K,M] (batched) or a:[...,K]·b:[K,M] (rows), checked, with the output shape.
struct MatmulDims {
  std::size_t batch = 1, rows = 0, inner = 0, cols = 0;
  Shape out;
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  std::size_t batch = 1, rows = 0, inner = 0, cols = 0;
  Shape out;
  if (sa.size() == 3 && sb.size() == 3) {  // batched: [B,N,K] · [B,K,M]
    if (sa[0] != sb[0])
      throw std::invalid_argument("matmul: " + pair_str(a, b) + ": batch sizes " + std::to_string(sa[0]) + " and " +
                                  std::to_string(sb[0]) + " differ");
    batch = sa[0], rows = sa[1], inner = sa[2], cols = sb[2];
    if (sb[1] != inner)
      throw std::invalid_argument("matmul: " + pair_str(a, b) + ": inner dimensions " + std::to_string(inner) +
                                  " and " + std::to_string(sb[1]) + " differ");
    out = {batch, rows, cols};
  } else {  // rows: [..., K] · [K, M]
    if (sa.empty() || sb.size() != 2)
      throw std::invalid_argument("matmul: " + pair_str(a, b) +
                                  ": expected a:[...,K] with b:[K,M], or a:[B,N,K] with b:[B,K,M]");
    inner = sa.back(), cols = sb[1];
    if (sb[0] != inner)
      throw std::invalid_argument("matmul: " + pair_str(a, b) + ": inner dimensions " + std::to_string(inner) +
                                  " and " + std::to_string(sb[0]) + " differ");
    rows = inner ? a.numel() / inner : 0;
    if (!inner) {
      rows = 1;
      for (std::size_t i = 0; i + 1 < sa.size(); ++i) rows *= sa[i];
    }
    out.assign(sa.begin(), sa.end() - 1);
    out.push_back(cols);
  }
  return {batch, rows, inner, cols, std::move(out)};
}
}  // namespace

// y = a·b                ∂a = g·bᵀ          ∂b = aᵀ·g          ẏ = ȧ·b + a·ḃ
Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype("matmul", a, b);
  const MatmulDims m = matmul_dims(a, b);
  const std::size_t batch = m.batch, rows = m.rows, inner = m.inner, cols = m.cols;
  const Shape& out = m.out;
  const bool batched = a.dim() == 3 && b.dim() == 3;
  return detail::dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = Array<T>::from_shape(out);
    gemm_batched<T>(batch, false, false, rows, cols, inner, a.data<T>().data(), b.data<T>().data(), T(0), y.data());
    Tensor result = record<T>("matmul", std::move(y), {a, b},
                     [batch, rows, inner, cols](auto& d, const auto& g, const auto& in, const auto&) {
                       // g:[R,M]  a:[R,K]  b:[K,M]  (per batch)
                       d.into(0, [&](Array<T>& da, T beta) {  // ∂a = g·bᵀ : [R,K]
                         gemm_batched<T>(batch, false, true, rows, inner, cols, g.data(), in[1].data(), beta,
                                         da.data());
                       });
                       d.into(1, [&](Array<T>& db, T beta) {  // ∂b = aᵀ·g : [K,M]
                         gemm_batched<T>(batch, true, false, inner, cols, rows, in[0].data(), g.data(), beta,
                                         db.data());
                       });
                     },
                     [batched](auto& d, const Tensor& g, const auto& x, const Tensor&) {
                       if (batched) {  // [B,N,K]·[B,K,M]
                         if (d.needs(0)) d(0, matmul(g, permute(x[1], {0, 2, 1})));
                         if (d.needs(1)) d(1, matmul(permute(x[0], {0, 2, 1}), g));
                         return;
                       }
                       record_rows_matmul_backward(d, g, x[0], x[1]);
                     },
                     [](const auto& t, const auto& x, const Tensor&) {  // bilinear: the product rule
                       return detail::add_defined(t.has(0) ? matmul(t[0], x[1]) : Tensor(),
                                                  t.has(1) ? matmul(x[0], t[1]) : Tensor());
                     });
    result.node().bilinear = true;
    return result;
  });
}

// y = x·W + b            ∂x = g·Wᵀ          ∂W = xᵀ·g          ∂b = Σ_rows g      ẏ = ẋ·W + x·Ẇ + ḃ
// NOTE: fused (one node, one pass) for speed: it is Linear's forward; tested against matmul(x, W) + b.
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_same_dtype("affine", x, w);
  detail::check_same_dtype("affine", x, b);
  const Shape& sx = x.shape();
  if (w.dim() != 2 || sx.empty() || b.dim() != 1 || sx.back() != w.shape()[0] || b.shape()[0] != w.shape()[1])
    throw std::invalid_argument("affine: x " + shape_str(sx) + ", W " + shape_str(w.shape()) + ", b " +
                                shape_str(b.shape()) + ": expected x:[...,K], W:[K,M], b:[M]");
  const std::size_t inner = w.shape()[0], cols = w.shape()[1];
  std::size_t rows = 1;
  for (std::size_t i = 0; i + 1 < sx.size(); ++i) rows *= sx[i];
  Shape out(sx.begin(), sx.end() - 1);
  out.push_back(cols);
  return detail::dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Array<T> y = Array<T>::from_shape(out);
    const T* pb = b.data<T>().data();
    for (std::size_t r = 0; r < rows; ++r) std::copy_n(pb, cols, y.data() + r * cols);  // y = b on every row
    gemm_batched<T>(1, false, false, rows, cols, inner, x.data<T>().data(), w.data<T>().data(), T(1), y.data());
    Tensor result = record<T>("affine", std::move(y), {x, w, b},
                     [rows, inner, cols](auto& d, const Array<T>& g, const auto& in, const auto&) {
                       // g:[R,M]  x:[R,K]  W:[K,M]  b:[M]
                       d.into(0, [&](Array<T>& dx, T beta) {  // ∂x = g·Wᵀ : [R,K]
                         gemm_batched<T>(1, false, true, rows, inner, cols, g.data(), in[1].data(), beta, dx.data());
                       });
                       d.into(1, [&](Array<T>& dw, T beta) {  // ∂W = xᵀ·g : [K,M]
                         gemm_batched<T>(1, true, false, inner, cols, rows, in[0].data(), g.data(), beta, dw.data());
                       });
                       d.into(2, [&](Array<T>& db, T beta) {  // ∂b = Σ_rows g : [M]
                         if (beta == T(0)) db.fill(T(0));
                         for (std::size_t r = 0; r < rows; ++r)
                           for (std::size_t j = 0; j < cols; ++j) db.data()[j] += g.data()[r * cols + j];
                       });
                     },
                     [](auto& d, const Tensor& g, const auto& x, const Tensor&) {
                       record_rows_matmul_backward(d, g, x[0], x[1]);
                       if (d.needs(2)) d(2, g.dim() == 2 ? sum(g, {0}) : sum(rows_of(g), {0}));
                     },
                     [](const auto& t, const auto& x, const Tensor&) {  // ḃ is broadcast to the rows by the caller
                       return detail::add_defined(
                           detail::add_defined(t.has(0) ? matmul(t[0], x[1]) : Tensor(),
                                               t.has(1) ? matmul(x[0], t[1]) : Tensor()),
                           t[2]);
                     });
    result.node().bilinear = true;
    return result;
  });
}

}  // namespace chainrule
