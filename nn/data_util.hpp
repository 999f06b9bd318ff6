#pragma once
// Internal to nn/data*.cpp: the helpers the datasets and the file loaders share.
#include <charconv>
#include <cmath>
#include <string>

#include "../autograd/tensor.hpp"

namespace chainrule::nn::data_util {

inline std::string num(std::size_t v) { return std::to_string(v); }

/// Shortest text that reads back as v ("2.5", "1e+30"), for error messages.
inline std::string num(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

/// A leaf tensor of dtype d and the given shape, filled by f(T* out).
template <class F> Tensor make_tensor(Dtype d, const Shape& shape, F&& f) {
  return detail::dispatch(d, [&](auto tag) {
    using T = decltype(tag);
    Array<T> a = Array<T>::from_shape(shape);
    f(a.data());
    return Tensor(std::move(a));
  });
}

}  // namespace chainrule::nn::data_util
