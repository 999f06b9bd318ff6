#include "optimizer.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace chainrule::optim {

std::string format_number(double v) {
  std::ostringstream os;
  if (!std::isfinite(v)) {
    os << v;
    return os.str();
  }
  for (int precision = 6;; ++precision) {
    os.str("");
    os.precision(precision);
    os << v;
    if (precision >= 17 || std::strtod(os.str().c_str(), nullptr) == v) return os.str();
  }
}

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name, std::vector<Slot> slots)
    : params_(std::move(params)), lr_(lr), name_(name), slots_(std::move(slots)), state_(params_.size()) {
  if (params_.empty()) throw std::invalid_argument(std::string(name) + ": given no parameters to optimize");
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].defined() || !params_[i].is_leaf() || !params_[i].requires_grad())
      throw std::invalid_argument(std::string(name) + ": parameter #" + std::to_string(i) +
                                  " is not a leaf tensor with requires_grad");
  set_lr(lr);
}

void Optimizer::check_option(bool ok, const char* option, const char* rule, double value) const {
  if (!ok)
    throw std::invalid_argument(std::string(name_) + ": " + option + " must be " + rule + ", got " +
                                format_number(value));
}

void Optimizer::set_lr(double lr) {
  check_option(lr >= 0 && std::isfinite(lr), "lr", ">= 0 and finite", lr);
  lr_ = lr;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& p : params_) p.zero_grad(set_to_none);
}

std::vector<Tensor> Optimizer::new_state(std::size_t i) const {
  std::vector<Tensor> s;
  for (const auto& slot : slots_) s.push_back(slot.counter ? tensor(0.0, kFloat64) : zeros_like(params_[i]));
  return s;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < params_.size(); ++i)
    for (std::size_t k = 0; k < state_[i].size(); ++k)
      out.emplace_back(slots_[k].name + "." + std::to_string(i), state_[i][k].detach());  // detach copies
  return out;
}

std::vector<Tensor> Optimizer::param_state(std::size_t i, bool create) {
  if (i >= params_.size())
    throw std::out_of_range(std::string(name_) + ": param_state: parameter " + std::to_string(i) + " of " +
                            std::to_string(params_.size()));
  if (create && state_[i].empty()) state_[i] = new_state(i);
  return state_[i];
}

namespace {

// "<slot>.<i>" → (slot index k, parameter index i); an unknown slot name or an index out of range is refused.
std::pair<std::size_t, std::size_t> parse_state_key(const std::string& where, const std::string& key,
                                                    const std::vector<Optimizer::Slot>& slots, std::size_t n_params) {
  const auto dot = key.rfind('.');
  const std::string slot = key.substr(0, dot), index = dot == std::string::npos ? "" : key.substr(dot + 1);
  std::size_t k = 0, i = 0;
  while (k < slots.size() && slots[k].name != slot) ++k;
  const bool numeric =
      !index.empty() && index.size() < 10 && index.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) i = std::stoul(index);
  if (k == slots.size() || !numeric || i >= n_params) {
    std::string expected;
    for (const auto& s : slots) expected += (expected.empty() ? "" : ", ") + s.name + ".<i>";
    throw std::invalid_argument(where + "unknown state name '" + key + "' (expected " +
                                (expected.empty() ? std::string("no state") : expected) + " for parameters 0.." +
                                std::to_string(n_params - 1) + ")");
  }
  return {k, i};
}

// One state tensor against its slot: the shape and dtype of parameter #i (a float64 scalar for a step count), and
// values some run can reach: any other would turn the next step's weights into NaN, silently.
void check_state_value(const std::string& where, const std::string& key, const Tensor& value,
                       const Optimizer::Slot& slot, const Tensor& param, std::size_t i) {
  if (!value.defined()) throw std::invalid_argument(where + "'" + key + "' is an undefined tensor");
  const Shape want_shape = slot.counter ? Shape{} : param.shape();
  const Dtype want_dtype = slot.counter ? kFloat64 : param.dtype();
  if (value.shape() != want_shape || value.dtype() != want_dtype)
    throw std::invalid_argument(where + "'" + key + "' is " + dtype_name(value.dtype()) + " " +
                                shape_str(value.shape()) + ", expected " + dtype_name(want_dtype) + " " +
                                shape_str(want_shape) + (slot.counter ? " (a step count)" : " (as parameter #" +
                                                         std::to_string(i) + ")"));
  if (slot.counter) {  // a step count of -3 or 0.5 would turn bias corrections into NaN
    const double steps = value.item();
    if (!(steps >= 0 && steps <= 9007199254740992.0 && steps == std::floor(steps)))
      throw std::invalid_argument(where + "'" + key + "' is a step count of " + format_number(steps) +
                                  ", not a whole number >= 0");
  }
  const std::vector<double> v = detail::dispatch(value.dtype(), [&](auto tag) {
    const auto& a = value.data<decltype(tag)>();
    return std::vector<double>(a.begin(), a.end());
  });
  for (std::size_t e = 0; e < v.size(); ++e)
    if (!std::isfinite(v[e]) || (slot.non_negative && v[e] < 0))
      throw std::invalid_argument(where + "'" + key + "' holds " + format_number(v[e]) + " at element " +
                                  std::to_string(e) + (std::isfinite(v[e]) ? ", but a sum of squares is >= 0"
                                                                           : ", not a finite number"));
}

// Each parameter has all of its slots or none (then it starts afresh at its next update: its list is cleared).
void check_state_complete(const std::string& where, std::vector<std::vector<Tensor>>& loaded,
                          const std::vector<Optimizer::Slot>& slots) {
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    std::size_t present = 0;
    for (const auto& t : loaded[i]) present += t.defined();
    if (present == 0) {
      loaded[i].clear();
    } else if (present < slots.size()) {
      for (std::size_t k = 0; k < slots.size(); ++k)
        if (!loaded[i][k].defined())
          throw std::invalid_argument(where + "parameter #" + std::to_string(i) + " has only part of its state: '" +
                                      slots[k].name + "." + std::to_string(i) + "' is missing");
    }
  }
}

}  // namespace

void Optimizer::load_state(const NamedTensors& state) {
  const std::string where = std::string(name_) + ": load_state: ";
  std::vector<std::vector<Tensor>> loaded(params_.size(), std::vector<Tensor>(slots_.size()));
  for (const auto& [key, value] : state) {
    const auto [k, i] = parse_state_key(where, key, slots_, params_.size());
    if (loaded[i][k].defined()) throw std::invalid_argument(where + "'" + key + "' is given twice");
    check_state_value(where, key, value, slots_[k], params_[i], i);
    loaded[i][k] = value.detach();  // a copy: later steps leave the caller's tensors alone
  }
  check_state_complete(where, loaded, slots_);
  state_ = std::move(loaded);
}

}  // namespace chainrule::optim
