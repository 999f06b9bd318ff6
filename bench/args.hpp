#pragma once
// The benchmarks' command line, as every program's (STYLE.md): --help prints the usage and exits 0, --version prints
// "<program> <version>", and an unknown option or a bad value is one line "<program>: <what>" on stderr and exit 2.
// Files a benchmark writes go to out/ unless a path is given (out/ is ignored by git).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace bench {

class Args {
 public:
  Args(int argc, char** argv, const char* program, const char* usage)
      : argc_(argc), argv_(argv), program_(program), usage_(usage) {}

  /// Moves to the next option (false at the end), answering --help and --version itself.
  bool next() {
    if (++i_ >= argc_) return false;
    option_ = argv_[i_];
    if (option_ == "--help" || option_ == "-h") {
      std::printf("%s", usage_);
      std::exit(0);
    }
    if (option_ == "--version") {
      std::printf("%s %s\n", program_, CHAINRULE_BENCH_VERSION);
      std::exit(0);
    }
    return true;
  }
  const std::string& option() const { return option_; }
  bool is(const char* name) const { return option_ == name; }

  /// The current option's value (the next argument).
  std::string value() {
    if (i_ + 1 >= argc_) fail(option_ + " needs a value");
    return argv_[++i_];
  }
  /// The value as a whole number of at least `min`.
  long integer(long min) {
    const std::string v = value();
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE || n < min)
      fail(option_ + " expects a whole number >= " + std::to_string(min) + ", got '" + v + "'");
    return n;
  }
  /// The value as a positive number.
  double positive() {
    const std::string v = value();
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x > 0)) fail(option_ + " expects a positive number, got '" + v + "'");
    return x;
  }

  [[noreturn]] void unknown() const { fail("unknown option '" + option_ + "' (see --help)"); }
  [[noreturn]] void fail(const std::string& what) const {
    std::fprintf(stderr, "%s: %s\n", program_, what.c_str());
    std::exit(2);
  }

 private:
  int argc_;
  char** argv_;
  const char* program_;
  const char* usage_;
  int i_ = 0;
  std::string option_;
};

/// Creates the folder a result file goes to (out/ by default).
inline void make_parent(const std::string& file) {
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
}

}  // namespace bench
