#pragma once
// Small helpers shared by the test files.
#include <exception>
#include <functional>
#include <string>

#include <malloc.h>
#include <unistd.h>

#include <fstream>

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

/// Resident memory of this process in MiB (/proc/self/statm), after glibc returns its free heap pages
/// (malloc_trim), so that memory given back by the program shows as given back.
inline double resident_mib() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace test
