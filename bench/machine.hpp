#pragma once
// The CPU a benchmark ran on, for its header and CSV: figures move with the CPU (SIMD width, BLAS kernels,
// subnormal penalties), so every table names it.
#include <fstream>
#include <string>

namespace bench {

/// "AMD EPYC (family 26 model 2)" from /proc/cpuinfo's first processor; "unknown CPU" where it cannot be read.
inline std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name, family, model;
  auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(in, line) && !line.empty()) {
    if (line.rfind("model name", 0) == 0) name = value();
    else if (line.rfind("cpu family", 0) == 0) family = value();
    else if (line.rfind("model\t", 0) == 0) model = value();
  }
  if (name.empty()) return "unknown CPU";
  return family.empty() ? name : name + " (family " + family + " model " + model + ")";
}

}  // namespace bench
