#pragma once
// Small helpers shared by the test files.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <string>
#include <vector>

#include <chainrule/autograd.hpp>
#include <chainrule/nn/model.hpp>

namespace test {

/// What f throws, or "no error": lets a test assert an exact error message in one CHECK.
inline std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

/// A fresh directory under the system temp dir, removed with everything in it when the test ends. The name has
/// the process id and a counter: ctest runs test cases as parallel processes, which share the seeded generator.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "chainrule_test",
                   const std::filesystem::path& root = std::filesystem::temp_directory_path()) {
    static std::atomic<int> counter{0};
    path_ = root / (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// The full path of a file in the directory.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  /// Writes `bytes` to the file `name` and returns its full path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ / name, std::ios::binary) << bytes;
    return *this / name;
  }
  /// The names of the files in the directory, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::filesystem::path path_;
};

/// Resident memory of this process in MiB (/proc/self/statm), after glibc returns its free heap pages
/// (malloc_trim) and empties this thread's tensor buffer cache, so that memory given back by the program shows as
/// given back.
inline double resident_mib() {
  chainrule::empty_cache();
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// A file's bytes ("" when it cannot be read).
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Writes bytes to path, replacing what was there.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// v as 8 little-endian bytes (the safetensors header length).
inline std::string u64_le(std::uint64_t v) {
  std::string s(8, '\0');
  for (int b = 0; b < 8; ++b) s[b] = static_cast<char>(v >> (8 * b));
  return s;
}

/// Flips 1 to max_flips random bytes of `bytes`, each XOR a random nonzero value (a corrupted file).
template <class Rng> void flip_bytes(std::string& bytes, Rng& rng, unsigned max_flips) {
  const unsigned flips = 1 + static_cast<unsigned>(rng() % max_flips);
  for (unsigned k = 0; k < flips; ++k) {
    const std::size_t at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ static_cast<char>(1 + rng() % 255));
  }
}

/// A tensor's elements in row-major order, as doubles.
inline std::vector<double> values(const chainrule::Tensor& t) {
  std::vector<double> out;
  chainrule::detail::dispatch(t.dtype(), [&](auto tag) {
    const auto& a = t.data<decltype(tag)>();
    out.assign(a.begin(), a.end());
  });
  return out;
}

/// fit() options for a silent run.
inline chainrule::nn::FitOptions quiet(std::size_t epochs, std::size_t batch) {
  chainrule::nn::FitOptions o;
  o.epochs = epochs, o.batch_size = batch, o.verbose = 0;
  return o;
}

}  // namespace test
