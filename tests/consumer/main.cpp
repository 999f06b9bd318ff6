// Smallest use of the installed chainrule: y = x*x at x = 3 must give dy/dx = 6.
#include <iostream>

#include <chainrule/autograd.hpp>

int main() {
  auto x = chainrule::tensor(3.0, chainrule::TensorOptions().requires_grad(true));
  auto y = x * x;
  y.backward();
  const double g = x.grad().item();
  std::cout << "dy/dx = " << g << " (expected 6)\n";
  return g == 6.0 ? 0 : 1;
}
