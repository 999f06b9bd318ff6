#pragma once
// Small helpers shared by the test files.
#include <exception>
#include <functional>
#include <string>

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

}  // namespace test
