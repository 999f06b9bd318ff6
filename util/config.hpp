#pragma once
// Config: a layer's or an optimizer's settings as ordered key → value pairs (a flag, a count, a number or a text),
// what Module::config() / Optimizer::config() return and each class's from_config reads (Keras' get_config /
// from_config). Model::save writes it as JSON; JSON itself stays inside the serializer.
//   Config c;  c.set("in", std::size_t{784}).set("activation", "relu");   c.count("in") == 784
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace chainrule {

/// A layer's or optimizer's settings (Keras' get_config): ordered keys to flags, counts, numbers or strings.
class Config {
 public:
  /// One setting: a flag, a count, a number or a string.
  using Value = std::variant<bool, std::uint64_t, double, std::string>;

  /// Sets key (replacing an earlier value); returns *this so calls chain. One overload per kind, so that a
  /// double never turns into a flag or a count by accident.
  Config& set(const std::string& key, double v) { return put(key, v); }
  /// Sets a flag.
  Config& set(const std::string& key, bool v) { return put(key, v); }
  /// Sets a count.
  Config& set(const std::string& key, std::uint64_t v) { return put(key, v); }
  /// Sets a string.
  Config& set(const std::string& key, std::string v) { return put(key, std::move(v)); }
  /// Sets a string.
  Config& set(const std::string& key, const char* v) { return put(key, std::string(v)); }
  /// Sets a value of any kind.
  Config& set(const std::string& key, const Value& v) { return put(key, v); }
  /// The settings in the order set.
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  /// Whether key is set.
  bool has(const std::string& key) const { return get(key) != nullptr; }

  /// A number (a count reads as a number too); std::invalid_argument "missing number 'key'" otherwise.
  double number(const std::string& key) const {
    const Value* v = get(key);
    if (v && std::holds_alternative<double>(*v)) return std::get<double>(*v);
    if (v && std::holds_alternative<std::uint64_t>(*v)) return static_cast<double>(std::get<std::uint64_t>(*v));
    throw std::invalid_argument("missing number '" + key + "'");
  }
  /// A flag; std::invalid_argument "missing boolean 'key'" otherwise.
  bool flag(const std::string& key) const {
    const Value* v = get(key);
    if (!v || !std::holds_alternative<bool>(*v)) throw std::invalid_argument("missing boolean '" + key + "'");
    return std::get<bool>(*v);
  }
  /// A string; std::invalid_argument "missing 'key'" otherwise.
  const std::string& text(const std::string& key) const {
    const Value* v = get(key);
    if (!v || !std::holds_alternative<std::string>(*v)) throw std::invalid_argument("missing '" + key + "'");
    return std::get<std::string>(*v);
  }
  /// A size: an integer in [1, 2^30] (larger is refused, so a hostile file cannot ask for 2^60 weights).
  std::size_t count(const std::string& key) const {
    const Value* v = get(key);
    if (!v || !std::holds_alternative<std::uint64_t>(*v) || std::get<std::uint64_t>(*v) == 0 ||
        std::get<std::uint64_t>(*v) > (std::uint64_t{1} << 30))
      throw std::invalid_argument("'" + key + "' must be a positive integer");
    return static_cast<std::size_t>(std::get<std::uint64_t>(*v));
  }

 private:
  Config& put(const std::string& key, Value v) {
    for (auto& [k, old] : items_)
      if (k == key) return old = std::move(v), *this;
    items_.emplace_back(key, std::move(v));
    return *this;
  }
  const Value* get(const std::string& key) const {
    for (const auto& [k, v] : items_)
      if (k == key) return &v;
    return nullptr;
  }
  std::vector<std::pair<std::string, Value>> items_;
};

}  // namespace chainrule
