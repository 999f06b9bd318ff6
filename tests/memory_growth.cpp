// No growth (issue 15): 10,000 Adam steps of a 784-128-64-10 ReLU classifier (bench case c's shape) on a fixed
// random batch; the resident set (VmRSS, as the kernel reports it: no trimming) at step 1,000 and at step 10,000
// must differ by less than 1 MiB. Its own program, run once by ctest (label "slow"): ~10 s on a quiet core.
//   build/tests/chainrule_memory_growth [steps] [batch]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;

namespace {
// VmRSS of this process in KiB, from /proc/self/status.
long vm_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = -1;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
    status.ignore(1 << 20, '\n');
  }
  return value;
}
}  // namespace

int main(int argc, char** argv) {
  const std::size_t steps = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  const std::size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 16;
  if (steps < 1000) {
    std::fprintf(stderr, "steps must be >= 1000\n");
    return 2;
  }
  manual_seed(0);
  nn::Model m;
  m.add(nn::make_dense(784, 128, "relu")).add(nn::make_dense(128, 64, "relu")).add(nn::make_dense(64, 10, "softmax"));
  m.compile("adam", "sparse_categorical_crossentropy", {}, 1e-3);
  const Tensor x = rand({batch, 784});
  std::vector<std::size_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) labels[i] = i % 10;
  auto& net = m.net();
  auto& opt = m.optimizer();
  long at_1000 = 0, at_end = 0;
  for (std::size_t s = 1; s <= steps; ++s) {
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(net(x), labels);
    loss.backward();
    opt.step();
    if (s == 1000) at_1000 = vm_rss_kib();
  }
  at_end = vm_rss_kib();
  const long growth = at_end - at_1000;
  std::printf("VmRSS after step 1000: %ld KiB; after step %zu: %ld KiB; growth %ld KiB (limit 1024)\n", at_1000, steps,
              at_end, growth);
  return at_1000 > 0 && growth < 1024 ? 0 : 1;
}
