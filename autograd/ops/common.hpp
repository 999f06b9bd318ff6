#pragma once
// Small helpers shared by the op implementations (not part of the public API).
#include <string>
#include <type_traits>
#include <vector>

#include "../tensor.hpp"

namespace chainrule::detail {

/// Element type of an xtensor expression or container: value_t<decltype(g)> inside generic backward lambdas.
template <class E> using value_t = typename std::decay_t<E>::value_type;

/// Axis in [−dim, dim) → [0, dim); throws naming the op and the shape.
inline std::size_t normalize_axis(const char* op, long axis, std::size_t dim, const Shape& shape) {
  const long d = static_cast<long>(dim);
  if (axis < -d || axis >= d)
    throw std::out_of_range(std::string(op) + ": axis " + std::to_string(axis) + " out of range for shape " +
                            shape_str(shape));
  return static_cast<std::size_t>(axis < 0 ? axis + d : axis);
}

}  // namespace chainrule::detail
