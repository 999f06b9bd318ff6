#include "init.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace chainrule::nn::init {
namespace {

// Copies the values of `src` (same shape, any dtype) into t's storage: t stays the same tensor (same node).
Tensor assign(Tensor t, const Tensor& src) {
  detail::dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    t.data<T>() = src.to(t.dtype()).template data<T>();
  });
  return t;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::pair<double, double> fans(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double rf = 1;  // receptive field: product of the leading axes
  for (std::size_t i = 0; i + 2 < shape.size(); ++i) rf *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * rf, double(shape.back()) * rf};
}

Tensor constant_(Tensor t, double v) {
  detail::dispatch(t.dtype(), [&](auto tag) { t.data<decltype(tag)>().fill(static_cast<decltype(tag)>(v)); });
  return t;
}
Tensor zeros_(Tensor t) { return constant_(std::move(t), 0); }
Tensor ones_(Tensor t) { return constant_(std::move(t), 1); }

Tensor uniform_(Tensor t, double a, double b) {
  if (!(a < b))
    throw std::invalid_argument("init::uniform_: need a < b, got a = " + std::to_string(a) + ", b = " +
                                std::to_string(b));
  return assign(t, rand(t.shape(), t.dtype(), a, b));
}

Tensor normal_(Tensor t, double mean, double std) {
  if (!(std >= 0)) throw std::invalid_argument("init::normal_: std must be >= 0, got " + std::to_string(std));
  return assign(t, randn(t.shape(), t.dtype(), mean, std));
}

namespace {
// NOTE: a zero fan only comes with an empty tensor (nothing to fill); its bound is taken as 0.
Tensor symmetric_uniform(Tensor t, double bound) {
  return bound > 0 ? uniform_(std::move(t), -bound, bound) : zeros_(std::move(t));
}
}  // namespace

// U(±√(6/(fan_in+fan_out)))
Tensor xavier_uniform_(Tensor t) {
  auto [in, out] = fans(t.shape());
  return symmetric_uniform(std::move(t), in + out > 0 ? std::sqrt(6 / (in + out)) : 0);
}
// N(0, 2/(fan_in+fan_out))
Tensor xavier_normal_(Tensor t) {
  auto [in, out] = fans(t.shape());
  return normal_(std::move(t), 0, in + out > 0 ? std::sqrt(2 / (in + out)) : 0);
}
// U(±√(6/fan_in))
Tensor kaiming_uniform_(Tensor t) {
  const double in = fans(t.shape()).first;
  return symmetric_uniform(std::move(t), in > 0 ? std::sqrt(6 / in) : 0);
}
// N(0, 2/fan_in)
Tensor kaiming_normal_(Tensor t) {
  const double in = fans(t.shape()).first;
  return normal_(std::move(t), 0, in > 0 ? std::sqrt(2 / in) : 0);
}

// ---- Initializer -----------------------------------------------------------------------------------------------
namespace {
struct Named {
  const char* name;
  Init kind;
  double a, b;
};
const Named kNames[] = {
    {"zeros", Init::Zeros, 0, 0},
    {"ones", Init::Ones, 0, 0},
    {"random_uniform", Init::Uniform, -0.05, 0.05},
    {"random_normal", Init::Normal, 0, 0.05},
    {"glorot_uniform", Init::XavierUniform, 0, 0},
    {"glorot_normal", Init::XavierNormal, 0, 0},
    {"he_uniform", Init::KaimingUniform, 0, 0},
    {"he_normal", Init::KaimingNormal, 0, 0},
    {"xavier_uniform", Init::XavierUniform, 0, 0},
    {"xavier_normal", Init::XavierNormal, 0, 0},
    {"kaiming_uniform", Init::KaimingUniform, 0, 0},
    {"kaiming_normal", Init::KaimingNormal, 0, 0},
};
}  // namespace

Initializer::Initializer(Init kind, double a, double b) : kind_(kind), a_(a), b_(b) {
  if (kind == Init::Uniform && !(a < b))
    throw std::invalid_argument("Initializer: uniform needs a < b, got " + std::to_string(a) + ", " + std::to_string(b));
  if (kind == Init::Normal && !(b >= 0))
    throw std::invalid_argument("Initializer: normal needs std >= 0, got " + std::to_string(b));
}

Initializer::Initializer(const std::string& name) : kind_(Init::Zeros), a_(0), b_(0) {
  const std::string key = lower(name);
  for (const auto& n : kNames)
    if (key == n.name) {
      kind_ = n.kind, a_ = n.a, b_ = n.b;
      return;
    }
  std::string valid;
  for (const auto& n : kNames) valid += std::string(valid.empty() ? "" : ", ") + n.name;
  throw std::invalid_argument("Initializer: unknown initializer '" + name + "'; valid names: " + valid);
}

Tensor Initializer::operator()(Tensor t) const {
  switch (kind_) {
    case Init::Zeros: return zeros_(std::move(t));
    case Init::Ones: return ones_(std::move(t));
    case Init::Constant: return constant_(std::move(t), a_);
    case Init::Uniform: return uniform_(std::move(t), a_, b_);
    case Init::Normal: return normal_(std::move(t), a_, b_);
    case Init::XavierUniform: return xavier_uniform_(std::move(t));
    case Init::XavierNormal: return xavier_normal_(std::move(t));
    case Init::KaimingUniform: return kaiming_uniform_(std::move(t));
    case Init::KaimingNormal: return kaiming_normal_(std::move(t));
  }
  return t;
}

std::string Initializer::name() const {
  std::ostringstream s;
  switch (kind_) {
    case Init::Zeros: return "zeros";
    case Init::Ones: return "ones";
    case Init::Constant: s << "constant(" << a_ << ")"; return s.str();
    case Init::Uniform: s << "uniform(" << a_ << ", " << b_ << ")"; return s.str();
    case Init::Normal: s << "normal(" << a_ << ", " << b_ << ")"; return s.str();
    case Init::XavierUniform: return "glorot_uniform";
    case Init::XavierNormal: return "glorot_normal";
    case Init::KaimingUniform: return "he_uniform";
    case Init::KaimingNormal: return "he_normal";
  }
  return "?";
}

}  // namespace chainrule::nn::init
