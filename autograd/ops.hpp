#pragma once
// Every differentiable op, with its derivative: this file is the derivative table.
// Notation: y is the op's output, g = ∂L/∂y the upstream gradient, ⊙ the elementwise product. Binary
// elementwise ops broadcast by numpy rules; the engine sums each input's gradient back to its shape (sum_to).
// Each row is repeated beside its forward and backward in autograd/ops/*.cpp.
#include <vector>

#include "tensor.hpp"

namespace chainrule {

// ---- elementwise arithmetic (ops/elementwise.cpp) -------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);       ///< y = a + b              ∂a = g            ∂b = g
Tensor sub(const Tensor& a, const Tensor& b);       ///< y = a − b              ∂a = g            ∂b = −g
Tensor mul(const Tensor& a, const Tensor& b);       ///< y = a ⊙ b              ∂a = g ⊙ b        ∂b = g ⊙ a
Tensor div(const Tensor& a, const Tensor& b);       ///< y = a / b              ∂a = g / b        ∂b = −g ⊙ y / b
Tensor neg(const Tensor& x);                        ///< y = −x                 ∂x = −g
Tensor pow(const Tensor& a, const Tensor& b);       ///< y = a^b                ∂a = g ⊙ b·a^(b−1)  ∂b = g ⊙ y·ln a
Tensor pow(const Tensor& x, double p);              ///< y = x^p                ∂x = g ⊙ p·x^(p−1)
Tensor exp(const Tensor& x);                        ///< y = eˣ                 ∂x = g ⊙ y
Tensor log(const Tensor& x);                        ///< y = ln x               ∂x = g / x
Tensor sqrt(const Tensor& x);                       ///< y = √x                 ∂x = g / (2y)
Tensor abs(const Tensor& x);                        ///< y = |x|                ∂x = g ⊙ sign(x)   (sign(0) = 0)
Tensor square(const Tensor& x);                     ///< y = x²                 ∂x = g ⊙ 2x
Tensor sin(const Tensor& x);                        ///< y = sin x              ∂x = g ⊙ cos x
Tensor cos(const Tensor& x);                        ///< y = cos x              ∂x = −g ⊙ sin x
Tensor maximum(const Tensor& a, const Tensor& b);   ///< y = max(a, b)          ∂a = g·[a>b] + ½g·[a=b]   (∂b alike)
Tensor minimum(const Tensor& a, const Tensor& b);   ///< y = min(a, b)          ∂a = g·[a<b] + ½g·[a=b]   (∂b alike)
Tensor clamp(const Tensor& x, double lo, double hi);///< y = min(max(x,lo),hi)  ∂x = g·[lo ≤ x ≤ hi]
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  ///< y = c ? a : b   ∂a = g·[c]  ∂b = g·[¬c]
Tensor clone(const Tensor& x);                      ///< y = x (a copy)         ∂x = g

/// Twice differentiable: every op above and below records its backward with Tensor ops under create_graph, so
/// any order works. Where a derivative is piecewise constant (the masks [x>0], [lo ≤ x ≤ hi], [a>b], the step,
/// max's [x=y]), the mask is a constant of the recorded backward: the next derivative is 0 almost everywhere,
/// the true value (undefined at the kinks).
/// Comparisons: 1 where true, 0 elsewhere, same dtype; not differentiable (never recorded).
///@{
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
///@}

// ---- reductions (ops/reduce.cpp) ------------------------------------------------------------------------------
// axes may be negative (counted from the end); keepdims keeps reduced axes with size 1.
Tensor sum(const Tensor& x);                                                  ///< y = Σx       ∂x = g (broadcast)
Tensor sum(const Tensor& x, std::vector<long> axes, bool keepdims = false);   ///< y = Σ_axes x ∂x = g (broadcast)
Tensor mean(const Tensor& x);                                                 ///< y = Σx / n   ∂x = g / n
Tensor mean(const Tensor& x, std::vector<long> axes, bool keepdims = false);  ///< y = Σx / n   ∂x = g / n
Tensor max(const Tensor& x);                                                  ///< y = max x    ∂x = g·[x=y] / \#ties
Tensor max(const Tensor& x, std::vector<long> axes, bool keepdims = false);   ///< y = max x    ∂x = g·[x=y] / \#ties

// ---- shape (ops/shape.cpp) -----------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, std::vector<long> shape);    ///< one entry may be −1        ∂x = reshape(g, x.shape)
Tensor transpose(const Tensor& x);                          ///< 2-D: y = xᵀ                ∂x = gᵀ
Tensor permute(const Tensor& x, std::vector<std::size_t> axes);  ///< y = x.permute(p)      ∂x = g.permute(p⁻¹)
Tensor broadcast_to(const Tensor& x, const Shape& shape);   ///< y = x broadcast            ∂x = sum_to(g, x.shape)
Tensor concat(const std::vector<Tensor>& xs, long axis = 0);///< y = [x₀ x₁ …] along axis   ∂xᵢ = g[slice i]
/// y = x[…, start : start+length, …] along axis (torch's narrow).      ∂x = g padded with zeros (concat)
Tensor narrow(const Tensor& x, long axis, std::size_t start, std::size_t length);
/// y[i] = x[i, index[i]] for x:[N,C] (class scores) and N class indices.   ∂x[i, index[i]] = g[i], 0 elsewhere
Tensor gather(const Tensor& x, const std::vector<std::size_t>& index);

// ---- linear algebra (ops/linalg.cpp, OpenBLAS) ----------------------------------------------------------------
/// a:[..., K] · b:[K, M] → [..., M] (leading axes of a are rows), or batched a:[B,N,K] · b:[B,K,M] → [B,N,M].
/// y = a·b      ∂a = g·bᵀ      ∂b = aᵀ·g      (BLAS transpose flags: no transposed copies)
Tensor matmul(const Tensor& a, const Tensor& b);
/// op(a)·op(b) of 2-D a, b, op = transpose where the flag is set, by BLAS's transpose flags (no copy); the
/// recorded (create_graph) backward of matmul and affine is written with it, and so is its own:
/// y = op(a)·op(b)   ∂op(a) = g·op(b)ᵀ   ∂op(b) = op(a)ᵀ·g   (transposed back where the flag is set)
Tensor matmul_t(const Tensor& a, const Tensor& b, bool ta, bool tb);
/// x:[..., K] · W:[K, M] + b:[M], fused in one node (Linear's forward).
/// y = x·W + b  ∂x = g·Wᵀ   ∂W = xᵀ·g   ∂b = Σ_rows g
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b);

// ---- activations of the course (ops/activations.cpp) ----------------------------------------------------------
Tensor linear(const Tensor& x, double a = 1, double b = 0);  ///< y = a·x + b         ∂x = a·g
/// Binary step: y = 1 if x ≥ 0 else 0. Its derivative is 0 wherever it exists (and undefined at 0), so
/// no gradient flows through it: ∂x = 0 (and so every higher derivative: 0). That is why the course replaces it by
/// smooth activations.
Tensor step(const Tensor& x);
/// Piecewise linear: y = clamp((x − x_min)/(x_max − x_min), 0, 1).    ∂x = g/(x_max − x_min)·[x_min ≤ x ≤ x_max]
/// (a composite of clamp, so at the two kinks it takes clamp's convention: the gradient passes)
Tensor piecewise_linear(const Tensor& x, double x_min = -1, double x_max = 1);
Tensor sigmoid(const Tensor& x);                       ///< y = 1/(1+e⁻ˣ)           ∂x = g ⊙ y(1−y)
Tensor gaussian(const Tensor& x);                      ///< y = e^(−x²)             ∂x = −2x·y ⊙ g
Tensor tanh(const Tensor& x);                          ///< y = tanh x              ∂x = g ⊙ (1−y²)
Tensor relu(const Tensor& x);                          ///< y = max(x, 0)           ∂x = g·[x>0]  (0 at x = 0)
Tensor leaky_relu(const Tensor& x, double slope = 0.01);  ///< y = x>0 ? x : s·x    ∂x = g·(x>0 ? 1 : s)
/// y = eˣ/Σeˣ along axis (max subtracted first: stable).  ∂x = y ⊙ (g − Σ(g ⊙ y))
Tensor softmax(const Tensor& x, long axis = -1);
/// y = x − log Σeˣ along axis (stable).                 ∂x = g − softmax(x) ⊙ Σg
Tensor log_softmax(const Tensor& x, long axis = -1);

// ---- operators ------------------------------------------------------------------------------------------------
/// A constant of x's dtype holding v (0-D, not recorded): lets scalars mix with tensors.
Tensor scalar_like(const Tensor& x, double v);
/// Arithmetic and comparison operators: the ops above, a double taken as a constant of the tensor's dtype.
///@{
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
inline Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
inline Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
inline Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
inline Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
inline Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
inline Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
inline Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
inline Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(a, b)); }
inline Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(a, b)); }
inline Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(a, b)); }
inline Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(a, b)); }
///@}

}  // namespace chainrule
