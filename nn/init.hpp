#pragma once
// Initializers: fill a parameter tensor in place (float32 or float64) from the engine's seeded generator
// (chainrule::manual_seed), so the same seed gives the same weights. Each returns the tensor it filled.
//
// Fans follow Keras (whose Dense kernel is [in, out], like our Linear): a 2-D tensor [in, out] has fan_in = in and
// fan_out = out; a 1-D tensor [n] has fan_in = fan_out = n; above 2-D the leading axes form a receptive field:
// fan_in = shape[-2]·rf, fan_out = shape[-1]·rf. (torch reads fan_in from axis 1 because its weights are [out, in].)
// NOTE: the *_normal initializers draw from a plain normal, as torch does; Keras truncates at 2σ.
#include <string>
#include <utility>

#include "../autograd/tensor.hpp"

namespace chainrule::nn::init {

/// (fan_in, fan_out) of a weight shape, by the rule above.
std::pair<double, double> fans(const Shape& shape);

Tensor zeros_(Tensor t);                                    ///< w = 0
Tensor ones_(Tensor t);                                     ///< w = 1
Tensor constant_(Tensor t, double v);                       ///< w = v
Tensor uniform_(Tensor t, double a = 0, double b = 1);      ///< w ~ U[a, b)
Tensor normal_(Tensor t, double mean = 0, double std = 1);  ///< w ~ N(mean, std²)
Tensor xavier_uniform_(Tensor t);   ///< Glorot: w ~ U(±√(6/(fan_in+fan_out)))
Tensor xavier_normal_(Tensor t);    ///< Glorot: w ~ N(0, std = √(2/(fan_in+fan_out)))
Tensor kaiming_uniform_(Tensor t);  ///< He:     w ~ U(±√(6/fan_in))
Tensor kaiming_normal_(Tensor t);   ///< He:     w ~ N(0, std = √(2/fan_in))

/// The initializers above as values, so a layer can take one as an option, or by name.
enum class Init { Zeros, Ones, Constant, Uniform, Normal, XavierUniform, XavierNormal, KaimingUniform, KaimingNormal };

/// An initializer as a value (kind and its parameters), e.g. a layer's weight_init option.
class Initializer {
 public:
  /// Constant: a = value. Uniform: U[a, b). Normal: N(a, b²). The others ignore a and b.
  Initializer(Init kind = Init::Zeros, double a = 0, double b = 0);  ///< NOLINT: implicit, Init::Zeros stands for one
  /// By Keras or torch name, case-insensitive: "zeros", "ones", "random_uniform" (U(±0.05), Keras),
  /// "random_normal" (N(0, 0.05²), Keras), "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
  /// "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal". Unknown: error listing these.
  Initializer(const std::string& name);  ///< NOLINT: implicit, so options read weight_init = "he_normal"
  Initializer(const char* name) : Initializer(std::string(name)) {}  ///< NOLINT
  /// Fills t in place and returns it.
  Tensor operator()(Tensor t) const;
  /// Which initializer.
  Init kind() const { return kind_; }
  /// Keras name ("glorot_uniform"; "constant(0.5)", "uniform(-1, 1)", "normal(0, 2)" for the parameterized ones).
  std::string name() const;

 private:
  Init kind_;
  double a_, b_;
};

}  // namespace chainrule::nn::init
