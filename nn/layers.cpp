#include "layers.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "activations.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {
namespace {
void check_dtype(const std::string& who, const Tensor& x, Dtype expected) {
  if (x.dtype() != expected)
    throw std::invalid_argument(who + ": input is " + dtype_name(x.dtype()) + ", parameters are " +
                                dtype_name(expected) + " (convert the input with .to())");
}
}  // namespace

// ---- Linear ----------------------------------------------------------------------------------------------------
Linear::Linear(std::size_t in, std::size_t out, Options o) : in_(in), out_(out) {
  if (in == 0 || out == 0)  // as Keras' Dense(units=0); a [0, out] weight would train nothing, silently
    throw std::invalid_argument("Linear: in and out must be >= 1, got in=" + std::to_string(in) +
                                ", out=" + std::to_string(out));
  weight_ = register_parameter("weight", o.weight_init(zeros({in, out}, o.dtype)));
  if (o.bias) bias_ = register_parameter("bias", o.bias_init(zeros({out}, o.dtype)));
}

std::string Linear::extra_repr() const {
  return "in=" + std::to_string(in_) + ", out=" + std::to_string(out_) + ", bias=" + (bias_.defined() ? "true" : "false");
}

Config Linear::config() const {
  return Config().set("in", std::uint64_t{in_}).set("out", std::uint64_t{out_}).set("bias", bias_.defined());
}
std::shared_ptr<Linear> Linear::from_config(const Config& c, Dtype dtype) {
  Options o;
  o.dtype = dtype, o.bias = c.flag("bias");
  return std::make_shared<Linear>(c.count("in"), c.count("out"), o);
}

// y = x·W + b        (the gradient comes from matmul and the broadcast add)
Tensor Linear::forward(const Tensor& x) {
  // The name is only built when there is an error to report: forward is on the hot path.
  auto who = [&] { return "Linear(in=" + std::to_string(in_) + ", out=" + std::to_string(out_) + ")"; };
  if (x.dim() == 0) throw std::invalid_argument(who() + ": input must be [N," + std::to_string(in_) + "] or [" +
                                                std::to_string(in_) + "], got a scalar");
  if (x.size(-1) != in_)
    throw std::invalid_argument(who() + ": input has " + std::to_string(x.size(-1)) + " features per row (" +
                                shape_str(x.shape()) + "), expected " + std::to_string(in_));
  if (x.dtype() != weight_.dtype()) check_dtype(who(), x, weight_.dtype());
  return bias_.defined() ? affine(x, weight_, bias_) : matmul(x, weight_);
}

// ---- Sequential ------------------------------------------------------------------------------------------------
Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) add(m);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  if (!m) throw std::invalid_argument("Sequential::add: module " + std::to_string(size()) + " is null");
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, m] : children()) y = (*m)(y);  // through operator(): the children's hooks run
  return y;
}

std::shared_ptr<Module> Sequential::operator[](std::size_t i) const {
  if (i >= size())
    throw std::out_of_range("Sequential: index " + std::to_string(i) + " out of range (size " +
                            std::to_string(size()) + ")");
  return children()[i].second;
}

std::shared_ptr<Sequential> MLP(const std::vector<std::size_t>& sizes, const std::string& activation,
                                Linear::Options o) {
  if (sizes.size() < 2)
    throw std::invalid_argument("MLP: need at least 2 sizes (inputs and outputs), got " + std::to_string(sizes.size()));
  make_activation(activation);  // an unknown name fails here, even for a single layer
  auto net = std::make_shared<Sequential>();
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    net->add(std::make_shared<Linear>(sizes[i], sizes[i + 1], o));
    if (i + 2 < sizes.size()) net->add(make_activation(activation));
  }
  return net;
}

// ---- BatchNorm1d -----------------------------------------------------------------------------------------------
Config BatchNorm1d::config() const {
  return Config().set("features", std::uint64_t{features_}).set("eps", opt_.eps).set("momentum", opt_.momentum)
      .set("affine", opt_.affine);
}
std::shared_ptr<BatchNorm1d> BatchNorm1d::from_config(const Config& c, Dtype dtype) {
  Options o;
  o.dtype = dtype, o.eps = c.number("eps"), o.momentum = c.number("momentum"), o.affine = c.flag("affine");
  return std::make_shared<BatchNorm1d>(c.count("features"), o);
}

BatchNorm1d::BatchNorm1d(std::size_t features, Options o) : features_(features), opt_(o) {
  if (features == 0) throw std::invalid_argument("BatchNorm1d: features must be >= 1, got 0");
  if (!(o.eps > 0)) throw std::invalid_argument("BatchNorm1d: eps must be > 0, got " + std::to_string(o.eps));
  if (!(o.momentum >= 0 && o.momentum <= 1))
    throw std::invalid_argument("BatchNorm1d: momentum must be in [0, 1], got " + std::to_string(o.momentum));
  if (o.affine) {
    weight_ = register_parameter("weight", ones({features}, o.dtype));
    bias_ = register_parameter("bias", zeros({features}, o.dtype));
  }
  running_mean_ = register_buffer("running_mean", zeros({features}, o.dtype));
  running_var_ = register_buffer("running_var", ones({features}, o.dtype));
}

std::string BatchNorm1d::extra_repr() const {
  std::ostringstream s;
  s << "features=" << features_ << ", eps=" << opt_.eps << ", momentum=" << opt_.momentum
    << ", affine=" << (opt_.affine ? "true" : "false");
  return s.str();
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  const std::string who = "BatchNorm1d(features=" + std::to_string(features_) + ")";
  if (x.dim() != 2 || x.size(1) != features_)
    throw std::invalid_argument(who + ": expected input [N," + std::to_string(features_) + "], got " +
                                shape_str(x.shape()));
  check_dtype(who, x, running_mean_.dtype());
  const std::size_t n = x.size(0);
  Tensor x_hat;
  if (is_training()) {
    if (n <= 1)
      throw std::invalid_argument("BatchNorm1d: expected more than 1 value per channel when training, got input " +
                                  shape_str(x.shape()));
    Tensor mu = mean(x, {0});              // μ_B:[F]
    Tensor xc = x - mu;                    // [N,F]
    Tensor var = mean(square(xc), {0});    // σ²_B:[F], biased (÷N) for the normalization
    x_hat = xc / sqrt(var + opt_.eps);
    // running ← (1 − m)·running + m·batch, the variance unbiased (÷(N−1)); in place, never recorded.
    detail::dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T m = static_cast<T>(opt_.momentum), unbias = static_cast<T>(double(n) / double(n - 1));
      Array<T>& rm = running_mean_.data<T>();
      Array<T>& rv = running_var_.data<T>();
      rm = (T(1) - m) * rm + m * std::as_const(mu).data<T>();  // reads of recorded values: const, so they
      rv = (T(1) - m) * rv + m * unbias * std::as_const(var).data<T>();  // do not count as in-place writes
    });
  } else {
    x_hat = (x - running_mean_) / sqrt(running_var_ + opt_.eps);
  }
  return opt_.affine ? x_hat * weight_ + bias_ : x_hat;
}

// ---- Dropout ---------------------------------------------------------------------------------------------------
Dropout::Dropout(double p) : p_(p) {
  if (!(p >= 0 && p <= 1)) {
    std::ostringstream s;
    s << "Dropout: p must be in [0, 1], got " << p;
    throw std::invalid_argument(s.str());
  }
}

std::string Dropout::extra_repr() const {
  std::ostringstream s;
  s << "p=" << p_;
  return s.str();
}

// y = x ⊙ m/(1 − p), m[i] = [u[i] ≥ p] with u ~ U[0, 1)  →  P(keep) = 1 − p
Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  if (p_ == 1) return x * 0.0;  // keeps the graph: the gradient is 0
  Tensor u = rand(x.shape(), x.dtype());
  Tensor mask = ge(u, scalar_like(u, p_)) * (1 / (1 - p_));  // a constant: u needs no gradient
  return x * mask;
}

// ---- Dense -----------------------------------------------------------------------------------------------------
Dense::Dense(std::size_t in, std::size_t out, std::string activation, Linear::Options o)
    : Linear(in, out, o), activation_(std::move(activation)) {
  activation_ = lower(activation_);
  if (activation_ != "linear") act_ = make_activation(activation_);  // identity needs no node
}
Tensor Dense::forward(const Tensor& x) { return act_ ? act_->forward(Linear::forward(x)) : Linear::forward(x); }
std::string Dense::extra_repr() const { return Linear::extra_repr() + ", activation=" + activation_; }
Config Dense::config() const { return Linear::config().set("activation", activation_); }
std::shared_ptr<Dense> Dense::from_config(const Config& c, Dtype dtype) {
  Options o;
  o.dtype = dtype, o.bias = c.flag("bias");
  return std::make_shared<Dense>(c.count("in"), c.count("out"), c.text("activation"), o);
}
std::string Dense::output_activation() const {
  return activation_ == "softmax" || activation_ == "sigmoid" ? activation_ : "";
}

}  // namespace chainrule::nn
