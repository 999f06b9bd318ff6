// libFuzzer entry point: the loaders of untrusted files must end in a model/table/tensor or a
// std::runtime_error; anything else (another exception, a crash, an ASan/UBSan report, a hang) is a finding.
// Byte 0 picks the loader (0: Model::load, 1: read_csv, 2: read_idx; others wrap around), bytes 1.. are the file.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <chainrule/nn/data.hpp>
#include <chainrule/nn/model.hpp>

namespace {
// One scratch file per fuzzing process; the loaders take paths.
const std::string& scratch(int kind) {
  static const std::string base = "/tmp/chainrule_fuzz_" + std::to_string(::getpid());
  static const std::string paths[] = {base + ".safetensors", base + ".csv", base + "-idx3-ubyte"};
  return paths[kind];
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int kind = data[0] % 3;
  const std::string& path = scratch(kind);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 1 && std::fwrite(data + 1, 1, size - 1, f) != size - 1) std::abort();
  std::fclose(f);
  try {
    if (kind == 0) {
      chainrule::nn::Model m = chainrule::nn::Model::load(path);
      (void)m;
    } else if (kind == 1) {
      (void)chainrule::nn::read_csv(path);
    } else {
      (void)chainrule::nn::read_idx(path);
    }
  } catch (const std::runtime_error&) {
    // the expected refusal
  }
  return 0;  // any other exception escapes and libFuzzer reports it
}
