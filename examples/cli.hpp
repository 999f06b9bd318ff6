#pragma once
// The examples' command line, alike in every program: --help and --version print and exit 0; a bad option or
// value prints one line, "<program>: <what is wrong>", and exits 2.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include <chainrule/autograd.hpp>  // chainrule::version()


namespace examples {

/// Parses argv; returns -1 when the program should run, else the exit code (0 after --help or --version, 2 on a
/// bad option).
inline int parse(CLI::App& app, int argc, char** argv) {
  app.set_version_flag("--version", std::string(chainrule::version()));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "%s: %s\n", app.get_name().empty() ? argv[0] : app.get_name().c_str(), e.what());
    return 2;
  }
  return -1;
}

/// A check for rates and other values that must be positive and finite.
inline CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !(v > 0 && v <= 1.7976931348623157e308))
          return "must be > 0 and finite, got " + s;
        return "";
      },
      "POSITIVE");
}

/// A check for fractions in [0, 1), such as a validation split.
inline CLI::Validator fraction_below_one() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !(v >= 0 && v < 1)) return "must be in [0, 1), got " + s;
        return "";
      },
      "in [0, 1)");
}

}  // namespace examples
