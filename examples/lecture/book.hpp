#pragma once
// `lecture --html DIR`: the course as a book. Each lesson becomes a page (its text, tables and numbers, the slips
// it points out set apart, and each backward pass it runs as an embedded step-through page), plus an index page,
// linked in the text's order. Plain HTML and Unicode (δ, σ, ∂, ·): readable offline, no network.
#include <string>

namespace chainrule::lecture {

/// Runs every lesson and writes DIR/index.html, DIR/<lesson>.html and DIR/<lesson>_backward<k>.html; returns the
/// number of pages written. Throws std::runtime_error naming a file it cannot write.
std::size_t write_book(const std::string& dir);

}  // namespace chainrule::lecture
