#pragma once
// The chain-rule trace as a web page: one self-contained HTML file (inline CSS, JS and SVG; no network) that draws
// the graph and steps through backward one chain-rule product at a time.
//
//   chainrule::ChainRuleTrace trace;
//   loss.backward();
//   chainrule::write_html("backward.html", trace);   // open it; ← → or the buttons move; backward.html#step=7
//
// Step 1 shows the forward values; then, in backward's order, each node's gradient as it completes (the seed, or
// the sum over the paths that reached it) and each edge it sends a contribution along: the upstream gradient, the
// local derivative, their product written out with the numbers, and the receiver's running sum; the last step is
// the table of gradients. Graphviz lays the graph out when `dot` is installed, a built-in layered layout otherwise.
#include <string>

#include "trace.hpp"

namespace chainrule {

/// How write_html lays out the page.
struct HtmlOptions {
  /// How the graph is drawn.
  enum class Layout { Auto, Graphviz, Builtin };
  std::string title;              ///< the page's heading; default "Backward from <root>"
  Layout layout = Layout::Auto;   ///< Auto: Graphviz when `dot` is on the PATH, else Builtin
  std::size_t pass = 0;           ///< which recorded backward run to show (1, 2, ...); 0: the last
  std::size_t preview = 3;        ///< values a tensor node shows in the graph; a click shows it in full
};

/// The page for one recorded backward run (see HtmlOptions::pass). Throws std::invalid_argument if the trace
/// recorded nothing or has no such pass.
std::string to_html(const ChainRuleTrace& trace, const HtmlOptions& o = {});
/// Writes to_html(trace, o) to path (through a temporary file renamed into place); throws naming the path.
void write_html(const std::string& path, const ChainRuleTrace& trace, const HtmlOptions& o = {});

/// True when Graphviz's `dot` is on the PATH.
bool graphviz_available();

}  // namespace chainrule
