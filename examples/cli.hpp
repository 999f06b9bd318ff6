#pragma once
// The command line of the examples and tools, alike in every program: --help and --version ("<program> <library
// version>") print and exit 0; a bad option or value prints one line, "<program>: <what is wrong> (see <program>
// --help)", and exits 2.
//
// CLI11 parses, behind this small interface compiled once (examples/cli.cpp): CLI11 is header-only, and each
// program that included it compiled its parser again, ~4 s of a program's ~6 s.
//
//   examples::Cli cli("xor", "XOR: a perceptron cannot learn it, one hidden layer can");
//   cli.option("--epochs", epochs, "Adam epochs").range(1, 1000000).show_default();
//   if (const int code = cli.parse(argc, argv); code >= 0) return code;
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace examples {

/// One option of a Cli. Its checks run when the command line is parsed; the setters chain.
class Option {
 public:
  /// The value must lie in [lo, hi].
  Option& range(double lo, double hi);
  /// The value must be one of these words.
  Option& one_of(const std::vector<std::string>& choices);
  /// The value must be > 0 and finite (rates, counts).
  Option& positive();
  /// The value must be >= 0 and finite.
  Option& non_negative();
  /// The value must lie in [0, 1), such as a validation split.
  Option& fraction_below_one();
  /// A list written with this separator ("8,8"), of min to max items (0: an empty list is allowed).
  Option& list(char separator, int min, int max);
  /// The value may be left out: "--html" alone sets nothing but given().
  Option& optional_value();
  /// --help shows the variable's value when the option was declared as the default.
  Option& show_default();
  /// Refused together with `other`.
  Option& excludes(const Option& other);
  /// Whether the command line gave this option (after Cli::parse).
  bool given() const;

 private:
  friend class Cli;
  explicit Option(CLI::Option* o) : o_(o) {}
  CLI::Option* o_;
};

/// A program's command line, or one of its subcommands (`chainrule grad ...`).
class Cli {
 public:
  /// name: the program's name in error lines and in the usage; description: the first line of --help.
  Cli(std::string name, const std::string& description);
  ~Cli();
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  /// An option "--name" (or a positional argument "name") that parses into `value`, which holds its default.
  /// T: int, std::size_t, double, std::string, std::vector<std::string> or std::vector<std::size_t>.
  template <class T> Option option(const std::string& name, T& value, const std::string& help);
  /// A flag "--name": true when given.
  Option flag(const std::string& name, bool& value, const std::string& help);
  /// A subcommand with its own options (owned by this Cli); a program with subcommands requires one.
  Cli& subcommand(const std::string& name, const std::string& description);
  /// Whether the command line chose this subcommand (after parse).
  bool chosen() const;

  /// Parses argv: -1 when the program should run, else its exit code (0 after --help or --version, 2 with one
  /// line on stderr for a bad command line).
  int parse(int argc, char** argv);
  /// Reports a bad command line found after parse, as parse does: the line on stderr, and 2 to return.
  int fail(const std::string& what) const;

 private:
  Cli(std::string name, CLI::App* app);  // a subcommand
  std::string name_;
  std::unique_ptr<CLI::App> own_;  // null for a subcommand (its parent's App owns it)
  CLI::App* app_;
  std::vector<std::unique_ptr<Cli>> subcommands_;
};

extern template Option Cli::option(const std::string&, int&, const std::string&);
extern template Option Cli::option(const std::string&, std::size_t&, const std::string&);
extern template Option Cli::option(const std::string&, double&, const std::string&);
extern template Option Cli::option(const std::string&, std::string&, const std::string&);
extern template Option Cli::option(const std::string&, std::vector<std::string>&, const std::string&);
extern template Option Cli::option(const std::string&, std::vector<std::size_t>&, const std::string&);

}  // namespace examples
