// bench_train's stand-ins when built without libtorch: the libtorch columns stay empty.
#include "train.hpp"

namespace bench {
bool have_torch() { return false; }
std::string torch_version() { return "without libtorch"; }
void set_torch_threads(int) {}
void set_torch_flush_denormal(bool) {}
double torch_step_ns(const TrainCase&, int) { return 0; }
double torch_hvp_ns(int, double* grad_ns) {
  *grad_ns = 0;
  return 0;
}
double torch_epoch_s(Data, int, double* loss) {
  *loss = 0;
  return 0;
}
}  // namespace bench
