#include "losses.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "../autograd/function.hpp"
#include "../autograd/ops.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {
namespace {

// Same shape and dtype, else "<loss>: prediction [3,1] and target [3] differ in shape".
void check_pair(const char* loss, const Tensor& pred, const Tensor& target, const char* what = "prediction") {
  if (pred.shape() != target.shape())
    throw std::invalid_argument(std::string(loss) + ": " + what + " " + shape_str(pred.shape()) + " and target " +
                                shape_str(target.shape()) + " differ in shape");
  if (pred.dtype() != target.dtype())
    throw std::invalid_argument(std::string(loss) + ": " + what + " is " + dtype_name(pred.dtype()) +
                                ", target is " + dtype_name(target.dtype()));
}

Tensor reduce(const Tensor& per, Reduction r) {
  switch (r) {
    case Reduction::None: return per;
    case Reduction::Sum: return sum(per);
    case Reduction::Mean: break;
  }
  return mean(per);
}

// max(ln v, −100): torch's clamp, finite at v = 0.
template <class T> T clamped_log(T v) { return std::max(std::log(v), T(-100)); }

// σ(z) without overflow for either sign of z.
template <class T> T stable_sigmoid(T z) {
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// The same three for Tensors, so that the derivative lambdas below also give the recorded backward
// (create_graph). The clamps are where the value is constant: their derivative there is 0, as recorded.
template <class T> T larger(T a, T b) { return std::max(a, b); }
Tensor larger(const Tensor& a, const Tensor& b) { return maximum(a, b); }
Tensor clamped_log(const Tensor& v) { return maximum(log(v), scalar_like(v, -100)); }
Tensor stable_sigmoid(const Tensor& z) { return sigmoid(z); }

}  // namespace

// L = (1/n)·Σ(o − t)²                 composite
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  check_pair("mse_loss", pred, target);
  return reduce(square(pred - target), r);
}

// L = ½·Σ(t − o)²                     composite
Tensor half_sse_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  check_pair("half_sse_loss", pred, target);
  return reduce(0.5 * square(target - pred), r);
}

// L = (1/n)·Σ|o − t|                  composite
Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  check_pair("l1_loss", pred, target);
  return reduce(abs(pred - target), r);
}

// ℓ = (t − 1)·max(ln(1 − p), −100) − t·max(ln p, −100)     (= −(t·ln p + (1 − t)·ln(1 − p)), clamped; in torch's
//   order, which fixes the sign of a zero loss: +0 at p = t = 0, −0 at p = t = 1, as torch gives)
//   ∂ℓ/∂p = (p − t)/max(p(1 − p), 1e-12)       ∂ℓ/∂t = max(ln(1 − p), −100) − max(ln p, −100)       (torch's)
Tensor binary_cross_entropy(const Tensor& prob, const Tensor& target, Reduction r) {
  check_pair("binary_cross_entropy", prob, target, "probabilities");
  detail::dispatch(prob.dtype(), [&](auto tag) {
    const auto& p = prob.data<decltype(tag)>();
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!(p.data()[i] >= 0 && p.data()[i] <= 1)) {
        std::ostringstream s;
        s << "binary_cross_entropy: probabilities must lie in [0, 1], got " << p.data()[i] << " at element " << i;
        throw std::invalid_argument(s.str());
      }
  });
  Tensor per = binary(
      "binary_cross_entropy", prob, target,
      [](auto p, auto t) { return (t - 1) * clamped_log(1 - p) - t * clamped_log(p); },
      [](auto g, auto p, auto t, auto) { return g * (p - t) / larger(p * (1 - p), math::constant(p, 1e-12)); },
      [](auto g, auto p, auto, auto) { return g * (clamped_log(1 - p) - clamped_log(p)); });
  return reduce(per, r);
}

// ℓ = max(z, 0) − z·t + ln(1 + e^(−|z|))       ∂ℓ/∂z = σ(z) − t       ∂ℓ/∂t = −z
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r) {
  check_pair("binary_cross_entropy_with_logits", logits, target, "logits");
  Tensor per = binary(
      "binary_cross_entropy_with_logits", logits, target,
      [](auto z, auto t) { return std::max(z, decltype(z)(0)) - z * t + std::log1p(std::exp(-std::abs(z))); },
      [](auto g, auto z, auto t, auto) { return g * (stable_sigmoid(z) - t); },
      [](auto g, auto z, auto, auto) { return -g * z; });
  return reduce(per, r);
}

// ℓᵢ = −log_softmax(zᵢ)[yᵢ]            composite of the stable log_softmax and gather
Tensor cross_entropy(const Tensor& logits, const std::vector<std::size_t>& labels, Reduction r) {
  if (logits.dim() != 2)
    throw std::invalid_argument("cross_entropy: logits must be [N,C], got " + shape_str(logits.shape()));
  const std::size_t n = logits.size(0), c = logits.size(1);
  if (labels.size() != n)
    throw std::invalid_argument("cross_entropy: " + std::to_string(labels.size()) + " labels for logits " +
                                shape_str(logits.shape()) + " (one per row expected)");
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] >= c)
      throw std::out_of_range("cross_entropy: label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                              " is out of range for C = " + std::to_string(c) + " classes");
  return reduce(-gather(log_softmax(logits, -1), labels), r);
}

// [N,C] targets: ℓᵢ = −Σ_c t_ic·log_softmax(zᵢ)_c   (composite);   [N] targets: the label form above
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction r) {
  if (logits.dim() != 2)
    throw std::invalid_argument("cross_entropy: logits must be [N,C], got " + shape_str(logits.shape()));
  if (targets.dtype() != logits.dtype())
    throw std::invalid_argument(std::string("cross_entropy: logits are ") + dtype_name(logits.dtype()) +
                                ", targets are " + dtype_name(targets.dtype()));
  const std::size_t n = logits.size(0), c = logits.size(1);
  if (targets.shape() == logits.shape()) return reduce(-sum(targets * log_softmax(logits, -1), {1}), r);
  if (targets.dim() != 1 || targets.size(0) != n)
    throw std::invalid_argument("cross_entropy: targets " + shape_str(targets.shape()) + " fit neither logits " +
                                shape_str(logits.shape()) + " (probabilities) nor [" + std::to_string(n) +
                                "] (class indices)");
  std::vector<std::size_t> labels(n);
  detail::dispatch(targets.dtype(), [&](auto tag) {
    const auto& t = targets.data<decltype(tag)>();
    for (std::size_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(t(i));
      if (!(v >= 0) || v != std::floor(v)) {
        std::ostringstream s;
        s << "cross_entropy: target " << v << " at row " << i << " is not a class index (an integer in [0, " << c
          << "))";
        throw std::invalid_argument(s.str());
      }
      if (v >= double(c)) {  // here, not in the label form: a size_t would have to cap 1e20, and name the cap
        std::ostringstream s;
        s << "cross_entropy: label " << v << " at row " << i << " is out of range for C = " << c << " classes";
        throw std::out_of_range(s.str());
      }
      labels[i] = static_cast<std::size_t>(v);
    }
  });
  return cross_entropy(logits, labels, r);
}

// ---- the loss table ---------------------------------------------------------------------------------------------
namespace {

// Targets of one output column ([N]) are compared with outputs [N,1] as [N,1].
Tensor align(const Tensor& y, const Tensor& pred) {
  if (y.dim() == 1 && pred.dim() == 2 && pred.size(1) == 1) return reshape(y, {-1, 1});
  return y;
}

Tensor categorical(const Tensor& z, const Tensor& t) {
  if (t.shape() != z.shape())
    throw std::invalid_argument("categorical_crossentropy: targets must be one-hot like the logits " +
                                shape_str(z.shape()) + ", got " + shape_str(t.shape()) +
                                " (use sparse_categorical_crossentropy for class indices)");
  return cross_entropy(z, t);
}

Tensor sparse_categorical(const Tensor& z, const Tensor& t) {
  const bool column = t.dim() == 2 && t.size(1) == 1;
  if (t.dim() != 1 && !column)
    throw std::invalid_argument("sparse_categorical_crossentropy: targets must be class indices [N] or [N,1], got " +
                                shape_str(t.shape()) + " (use categorical_crossentropy for one-hot targets)");
  return cross_entropy(z, column ? reshape(t, {-1}) : t);
}

Tensor bce(const Tensor& p, const Tensor& t) { return binary_cross_entropy(p, align(t, p)); }
Tensor bce_logits(const Tensor& z, const Tensor& t) { return binary_cross_entropy_with_logits(z, align(t, z)); }

struct LossRow {
  LossFunction fn;         // on the model's outputs
  std::string fuses;       // the final activation it can look through ("softmax", "sigmoid"), or ""
  LossFunction logits_fn;  // the loss of fuses(z), from the logits z
  bool takes_logits = false;
};

NameTable<LossRow>& loss_table() {
  static NameTable<LossRow> t = [] {
    NameTable<LossRow> t("loss");
    const LossFunction mse = [](const Tensor& o, const Tensor& y) { return mse_loss(o, align(y, o)); };
    const LossFunction mae = [](const Tensor& o, const Tensor& y) { return l1_loss(o, align(y, o)); };
    t.add("mean_squared_error", {mse, "", {}, false}).add("mse", {mse, "", {}, false});
    t.add("mean_absolute_error", {mae, "", {}, false}).add("mae", {mae, "", {}, false});
    t.add("binary_crossentropy", {bce, "sigmoid", bce_logits, false});
    t.add("categorical_crossentropy", {categorical, "softmax", categorical, true});
    t.add("sparse_categorical_crossentropy", {sparse_categorical, "softmax", sparse_categorical, true});
    return t;
  }();
  return t;
}

}  // namespace

Loss::Loss(std::string name, LossFunction fn) : name_(std::move(name)), fn_(std::move(fn)) {
  if (!fn_) throw std::invalid_argument("Loss '" + name_ + "': empty function");
}

Loss::Loss(std::string name, LossFunction fn, std::string fuses, LossFunction logits_fn, bool takes_logits)
    : name_(std::move(name)), fn_(std::move(fn)), fuses_(std::move(fuses)), logits_fn_(std::move(logits_fn)),
      takes_logits_(takes_logits) {}

Loss Loss::resolve(const std::string& who) const {
  if (fn_) return *this;
  const LossRow& row = loss_table().at(who, name_);
  return Loss(loss_table().canonical(name_), row.fn, row.fuses, row.logits_fn, row.takes_logits);
}

Loss binary_crossentropy(bool from_logits) {
  if (!from_logits) return Loss("binary_crossentropy").resolve("binary_crossentropy");
  return Loss("binary_crossentropy", bce_logits, "", {}, true);
}

void register_loss(const std::string& name, LossFunction fn) {
  if (!fn) throw std::invalid_argument("register_loss: empty function for '" + name + "'");
  loss_table().add(name, {std::move(fn), "", {}, false});
}

void unregister_loss(const std::string& name) { loss_table().remove(name); }

LossFunction loss_by_name(const std::string& name) { return loss_table().at("loss_by_name", name).fn; }

}  // namespace chainrule::nn
