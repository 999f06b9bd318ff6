// The examples' command line (examples/cli.hpp): CLI11 behind a small interface, compiled once.
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <utility>

#include <chainrule/version.hpp>

namespace examples {
namespace {

// A bound as written: 100000 and 0.05, not 1e+05 or 0.050000.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// A check that the value is a finite number v with ok(v); `what` (as --help shows it) completes "must be ...".
template <class Ok> CLI::Validator numeric(const std::string& what, Ok ok) {
  return CLI::Validator(
      [what, ok](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !std::isfinite(v) || !ok(v))
          return "must be a finite number " + what + ", got " + s;
        return "";
      },
      what);
}

}  // namespace

Option& Option::range(double lo, double hi) {
  o_->check(numeric("in [" + number(lo) + ", " + number(hi) + "]", [lo, hi](double v) { return lo <= v && v <= hi; }));
  return *this;
}
Option& Option::one_of(const std::vector<std::string>& choices) {
  o_->check(CLI::IsMember(choices));
  return *this;
}
Option& Option::positive() {
  o_->check(numeric("> 0", [](double v) { return v > 0; }));
  return *this;
}
Option& Option::non_negative() {
  o_->check(numeric(">= 0", [](double v) { return v >= 0; }));
  return *this;
}
Option& Option::fraction_below_one() {
  o_->check(numeric("in [0, 1)", [](double v) { return v >= 0 && v < 1; }));
  return *this;
}
Option& Option::list(char separator, int min, int max) {
  o_->delimiter(separator)->expected(min, max);
  return *this;
}
Option& Option::optional_value() {
  o_->expected(0, 1);
  return *this;
}
Option& Option::show_default() {
  o_->capture_default_str();
  return *this;
}
Option& Option::excludes(const Option& other) {
  o_->excludes(other.o_);
  return *this;
}
bool Option::given() const { return o_->count() > 0; }

Cli::Cli(std::string name, const std::string& description)
    : name_(std::move(name)), own_(std::make_unique<CLI::App>(description, name_)), app_(own_.get()) {
  app_->set_version_flag("--version", name_ + " " + chainrule::version());  // "xor 0.2.0", as GNU programs
}
Cli::Cli(std::string name, CLI::App* app) : name_(std::move(name)), app_(app) {}
Cli::~Cli() = default;

template <class T> Option Cli::option(const std::string& name, T& value, const std::string& help) {
  return Option(app_->add_option(name, value, help));
}
template Option Cli::option(const std::string&, int&, const std::string&);
template Option Cli::option(const std::string&, std::size_t&, const std::string&);
template Option Cli::option(const std::string&, double&, const std::string&);
template Option Cli::option(const std::string&, std::string&, const std::string&);
template Option Cli::option(const std::string&, std::vector<std::string>&, const std::string&);
template Option Cli::option(const std::string&, std::vector<std::size_t>&, const std::string&);

Option Cli::flag(const std::string& name, bool& value, const std::string& help) {
  return Option(app_->add_flag(name, value, help));
}

Cli& Cli::subcommand(const std::string& name, const std::string& description) {
  app_->require_subcommand(1);
  subcommands_.push_back(std::unique_ptr<Cli>(new Cli(name_, app_->add_subcommand(name, description))));
  return *subcommands_.back();
}
bool Cli::chosen() const { return app_->parsed(); }

int Cli::fail(const std::string& what) const {
  std::fprintf(stderr, "%s: %s (see %s --help)\n", name_.c_str(), what.c_str(), name_.c_str());
  return 2;
}

int Cli::parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app_->exit(e);  // --help, --version
    return fail(e.what());
  }
  return -1;
}

}  // namespace examples
