// Smallest use of chainrule from another project: y = x*x at x = 3 must give dy/dx = 6; the version the program
// was compiled against must be the library's.
#include <chainrule/chainrule.hpp>

#include <cstring>
#include <iostream>

int main() {
  auto x = chainrule::tensor(3.0, chainrule::TensorOptions().requires_grad(true));
  auto y = x * x;
  y.backward();
  const double g = x.grad().item();
  std::cout << "chainrule " << chainrule::version() << ": dy/dx = " << g << " (expected 6)\n";
  const bool same_version = std::strcmp(chainrule::version(), CHAINRULE_VERSION_STRING) == 0;
  return g == 6.0 && same_version ? 0 : 1;
}
