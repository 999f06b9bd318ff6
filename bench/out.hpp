#pragma once
// Files a benchmark writes go to out/ unless a path is given (out/ is ignored by git).
#include <filesystem>
#include <string>

namespace bench {

/// Creates the folder a result file goes to.
inline void make_parent(const std::string& file) {
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
}

}  // namespace bench
