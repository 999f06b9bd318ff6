#pragma once
// gradcheck: compares backward's gradients with central finite differences, in float64.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace chainrule {

/// Step and tolerances of gradcheck and gradgradcheck (torch's defaults).
struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< pass if |analytic − numeric| ≤ atol + rtol·|numeric|   (torch's defaults)
  double rtol = 1e-3;  ///< relative tolerance (see atol)
  std::uint64_t seed = 1234;  ///< for the fixed random weights w of L = Σ w ⊙ f(x)
};

/// What gradcheck found; converts to true when every element passed. Prints a one-line report.
struct GradcheckResult {
  bool ok = true;  ///< every element passed
  std::string op;              ///< op that produced f's output
  bool second_order = false;   ///< made by gradgradcheck (printed as such)
  std::size_t checked = 0;     ///< elements compared
  /// The worst element (largest excess over the tolerance):
  /// Input index and flat element index of the worst element.
  ///@{
  std::size_t input = 0, element = 0;
  ///@}
  /// Its analytic (backward) and numeric (finite-difference) derivatives.
  ///@{
  double analytic = 0, numeric = 0;
  ///@}
  /// True when every element passed.
  explicit operator bool() const { return ok; }
};
/// Prints the one-line report of the result.
std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

/// A function of several tensors, as gradcheck and the functional API take it.
using Function = std::function<Tensor(const std::vector<Tensor>&)>;

/// Checks f's gradient with respect to every input (float64 copies of them are made; the inputs that have
/// requires_grad set are checked, or all of them when none has). The output is reduced with a fixed random
/// weight, L = Σ w ⊙ f(x), so that a transposed or permuted gradient cannot pass behind an all-ones seed.
GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions o = {});

/// Checks f's second derivatives, as torch's gradgradcheck: with random grad_outputs v (fixed by o.seed), the
/// gradient G(x, v) = ∂⟨f(x), v⟩/∂x computed by backward with create_graph must match central differences of
/// itself, with respect to x and v. The checked inputs are chosen as by gradcheck; the result counts the
/// elements of x and of v.
GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions o = {});

}  // namespace chainrule
