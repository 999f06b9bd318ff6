#pragma once
// NameTable: the one way a name given by a user (an optimizer, loss, metric, layer, activation) is looked up:
// case-insensitively, through aliases, and with one error when it is unknown:
//   "Model::compile: unknown loss 'hinge'; valid names: mean_squared_error, mse, ..."
#include <algorithm>
#include <iterator>
#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace chainrule {

/// s in lower case (ASCII).
inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Values by case-insensitive name with aliases (the loss, metric, optimizer and layer tables).
template <class V> class NameTable {
 public:
  /// kind: what the names name, for the error ("loss", "optimizer").
  explicit NameTable(std::string kind) : kind_(std::move(kind)) {}
  /// A row, listed among the valid names in the order added (name in lower case). A name added again replaces
  /// the row's value (a user's registration overrides).
  NameTable& add(const std::string& name, V value) {
    const std::string key = lower(name);
    for (auto& row : rows_)
      if (row.first == key) return row.second = std::move(value), *this;
    rows_.emplace_back(key, std::move(value));
    return *this;
  }
  /// Removes a row (and the aliases of it); no-op if absent.
  NameTable& remove(const std::string& name) {
    const std::string key = lower(name);
    for (auto it = rows_.begin(); it != rows_.end(); ++it)
      if (it->first == key) {
        rows_.erase(it);
        break;
      }
    for (auto it = aliases_.begin(); it != aliases_.end();) it = it->second == key ? aliases_.erase(it) : std::next(it);
    return *this;
  }
  /// Another spelling of a row, accepted but not listed ("acc" for "accuracy").
  NameTable& alias(const std::string& spelling, const std::string& name) {
    aliases_[lower(spelling)] = lower(name);
    return *this;
  }
  /// The row's name for a spelling ("ACC" → "accuracy"), or "" if there is none.
  std::string canonical(const std::string& name) const {
    std::string key = lower(name);
    if (auto a = aliases_.find(key); a != aliases_.end()) key = a->second;
    for (const auto& row : rows_)
      if (row.first == key) return key;
    return "";
  }
  /// The value for name (or an alias), or null.
  const V* find(const std::string& name) const {
    const std::string key = canonical(name);
    for (const auto& row : rows_)
      if (!key.empty() && row.first == key) return &row.second;
    return nullptr;
  }
  /// The value for name; std::invalid_argument "<who>: unknown <kind> '<name>'; valid names: ..." if none (no
  /// "<who>: " when who is empty).
  const V& at(const std::string& who, const std::string& name) const {
    if (const V* v = find(name)) return *v;
    throw std::invalid_argument((who.empty() ? "" : who + ": ") + "unknown " + kind_ + " '" + name +
                                "'; valid names: " + names());
  }
  /// The listed names, comma-separated.
  std::string names() const {
    std::string s;
    for (const auto& row : rows_) s += (s.empty() ? "" : ", ") + row.first;
    return s;
  }

 private:
  std::string kind_;
  std::vector<std::pair<std::string, V>> rows_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace chainrule
