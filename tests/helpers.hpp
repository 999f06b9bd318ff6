#pragma once
// Small helpers shared by the test files.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "autograd/allocator.hpp"

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
  explicit TempDir(const std::string& prefix = "chainrule_test") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
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

}  // namespace test
