// Stand-ins when the benchmark is built without libtorch: the torch column is left empty.
#include "workloads.hpp"

namespace bench {
bool have_torch() { return false; }
double torch_chain_ns(int, int, int) { return 0; }
double torch_matmul_ns(int) { return 0; }
double torch_unary_us(const std::string&) { return 0; }
void set_torch_threads(int) {}
}  // namespace bench
