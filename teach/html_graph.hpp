#pragma once
// Internal to teach/html.cpp and teach/html_graph.cpp: the graph of one backward pass, rebuilt from the trace,
// drawn as SVG by Graphviz or by a built-in layered layout; and the text helpers both files use.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "trace.hpp"

namespace chainrule::page {

/// For HTML text and attribute values: & < > " escaped.
std::string escape(const std::string& s);
/// v with `precision` significant digits; -0 prints as 0.
std::string num(double v, int precision);
bool is_scalar(const Tensor& t);
/// A short form for a graph label: the scalar, or "[2,3] 0.1, -0.2, 0.3, …" (`count` values).
std::string preview(const Tensor& t, const TraceOptions& f, std::size_t count);

struct GraphNode {
  std::string name, op;
  Tensor value, grad;          ///< grad: final (undefined for constants and nodes no gradient reached)
  bool constant = false, leaf = true;
  std::vector<std::size_t> inputs;  ///< graph node indices
};
struct GraphEdge {
  std::size_t from, to;        ///< input → consumer, graph node indices
  std::string local;           ///< the local derivative as the edge label ("" for constants)
};
struct Graph {
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  std::map<std::size_t, std::size_t> index;  ///< trace node number → graph node index
  std::size_t root = 0;
};

/// The graph of one pass of the trace (its entries, in backward's order).
Graph build_graph(const std::vector<const TraceEntry*>& pass, const TraceOptions& f);

/// The built-in layered layout as SVG: inputs left, the root right; node ids n<k>, edge ids e<k>.
std::string builtin_svg(const Graph& g, const TraceOptions& f, std::size_t count);
/// `dot -Tsvg` on the graph, ids n<k> and e<k> as in the built-in layout; "" if dot fails.
std::string graphviz_svg(const Graph& g, const TraceOptions& f, std::size_t count);

}  // namespace chainrule::page
