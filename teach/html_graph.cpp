// The graph of one backward pass, rebuilt from the trace, and its two drawings as SVG: Graphviz's layout, or a
// built-in layered one (inputs left, the root right) when `dot` is not installed.
#include "html_graph.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace chainrule::page {

// ---- text --------------------------------------------------------------------------------------------------------
std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      default: r += c;
    }
  }
  return r;
}

namespace {
std::vector<double> flat_values(const Tensor& t) {
  if (!t.defined()) return {};
  if (t.dtype() == kFloat32) return {t.data<float>().begin(), t.data<float>().end()};
  return {t.data<double>().begin(), t.data<double>().end()};
}
}  // namespace

std::string num(double v, int precision) {
  if (v == 0) v = 0;  // -0 prints as 0
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

bool is_scalar(const Tensor& t) { return t.defined() && t.numel() == 1; }

std::string preview(const Tensor& t, const TraceOptions& f, std::size_t count) {
  if (!t.defined()) return "?";
  if (is_scalar(t)) return format_value(t, f);
  const std::vector<double> v = flat_values(t);
  std::string s = shape_str(t.shape()) + " ";
  for (std::size_t i = 0; i < std::min(count, v.size()); ++i) s += (i ? ", " : "") + num(v[i], 4);
  if (v.size() > count) s += ", …";
  return s;
}

// ---- the graph, rebuilt from one pass of the trace ------------------------------------------------------------
Graph build_graph(const std::vector<const TraceEntry*>& pass, const TraceOptions& f) {
  Graph g;
  auto node = [&](std::size_t id, const std::string& name, const std::string& op, const Tensor& value) {
    auto [it, fresh] = g.index.emplace(id, g.nodes.size());
    if (fresh) g.nodes.push_back({name, op, value, Tensor(), false, true, {}});
    return it->second;
  };
  for (const TraceEntry* e : pass) {
    const std::size_t k = node(e->node, e->name, e->op, e->value);
    g.nodes[k].grad = e->grad;
    g.nodes[k].leaf = e->is_leaf();
    for (const TraceInput& in : e->inputs) {
      const std::size_t i = node(in.node, in.name, in.op, in.value);
      if (!in.requires_grad) g.nodes[i].constant = true;
      g.nodes[k].inputs.push_back(i);
      std::string local;
      if (in.requires_grad) {
        if (in.local_kind == LocalKind::None) local = "(" + std::to_string(e->value.numel()) + "×" +
                                                       std::to_string(in.value.numel()) + " Jacobian)";
        else local = is_scalar(in.local) ? format_value(in.local, f) : preview(in.local, f, 2);
      }
      g.edges.push_back({i, k, local});
    }
  }
  g.root = g.index.at(pass.front()->node);
  return g;
}

namespace {
// The node's lines in the graph: name, op and shape, value, gradient (the last line is rewritten per step).
std::vector<std::string> node_lines(const GraphNode& n, const TraceOptions& f, std::size_t count) {
  std::string kind = n.constant ? "constant" : n.leaf ? "leaf" : n.op;
  if (!is_scalar(n.value)) kind += " " + shape_str(n.value.shape());
  std::vector<std::string> lines{n.name, kind, "value " + preview(n.value, f, count)};
  if (!n.constant) lines.push_back("grad " + preview(n.grad, f, count));
  return lines;
}

// ---- built-in layered layout: inputs left, the root right --------------------------------------------------
// Spacing in px: between columns, between boxes in a column, and above and below the drawing (room for edges
// routed around a column).
constexpr double kGapX = 100, kGapY = 26, kMargin = 40;

// Where everything goes: each node's column (rank), each column's nodes top to bottom, each node's text lines and
// box (x, y: top left corner; w, h), and the drawing's size.
struct Layered {
  std::vector<std::size_t> rank;
  std::vector<std::vector<std::size_t>> layer;
  std::vector<std::vector<std::string>> lines;
  std::vector<double> w, h, x, y;
  double width = 0, height = 0;
};

// Each node's column: the longest path to it from a leaf, but leaves and constants sit just left of their first
// user, not all in the first column.
std::vector<std::size_t> layer_ranks(const Graph& g) {
  const std::size_t n = g.nodes.size();
  // nodes were added consumers first, so resolve by repeated relaxation
  std::vector<std::size_t> rank(n, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t in : g.nodes[i].inputs)
        if (rank[i] < rank[in] + 1) rank[i] = rank[in] + 1, changed = true;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!g.nodes[i].inputs.empty()) continue;
    std::size_t r = SIZE_MAX;
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t in : g.nodes[j].inputs)
        if (in == i) r = std::min(r, rank[j]);
    if (r != SIZE_MAX && r > 0) rank[i] = r - 1;
  }
  return rank;
}

// Each column's nodes, ordered by the barycentre of their neighbours in the column before (then after), a few
// sweeps: fewer crossings.
std::vector<std::vector<std::size_t>> ordered_layers(const Graph& g, const std::vector<std::size_t>& rank) {
  const std::size_t n = g.nodes.size();
  const std::size_t layers = *std::max_element(rank.begin(), rank.end()) + 1;
  std::vector<std::vector<std::size_t>> layer(layers);
  for (std::size_t i = n; i-- > 0;) layer[rank[i]].push_back(i);  // leaves in order of first use, roughly
  std::vector<double> pos(n, 0);
  auto place = [&] {
    for (const auto& l : layer)
      for (std::size_t k = 0; k < l.size(); ++k) pos[l[k]] = double(k);
  };
  place();
  std::vector<std::vector<std::size_t>> users(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t in : g.nodes[i].inputs) users[in].push_back(i);
  for (int sweep = 0; sweep < 4; ++sweep) {
    const bool down = sweep % 2 == 0;
    for (std::size_t li = 1; li < layers; ++li) {
      auto& l = layer[down ? li : layers - 1 - li];
      std::vector<std::pair<double, std::size_t>> key;
      for (std::size_t v : l) {
        const auto& nb = down ? g.nodes[v].inputs : users[v];
        double s = 0;
        for (std::size_t u : nb) s += pos[u];
        key.push_back({nb.empty() ? pos[v] : s / double(nb.size()), v});
      }
      std::stable_sort(key.begin(), key.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::size_t k = 0; k < l.size(); ++k) l[k] = key[k].second;
      place();
    }
  }
  return layer;
}

// The boxes: sized to their text (~7 px a character at 12 px Helvetica, 15 px a line), stacked in their column,
// each column centred vertically; columns left to right.
void place_boxes(const Graph& g, const TraceOptions& f, std::size_t count, Layered& L) {
  const std::size_t n = g.nodes.size(), layers = L.layer.size();
  auto columns = [](const std::string& t) {
    return std::size_t(std::count_if(t.begin(), t.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  L.lines.assign(n, {});
  for (auto* v : {&L.w, &L.h, &L.x, &L.y}) v->assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    L.lines[i] = node_lines(g.nodes[i], f, count);
    std::size_t c = 0;
    for (const auto& s : L.lines[i]) c = std::max(c, columns(s));
    L.w[i] = 7.0 * double(c) + 16;
    L.h[i] = 15.0 * double(L.lines[i].size()) + 10;
  }
  double left = 12, height = 0;
  std::vector<double> col_h(layers, 0);
  for (std::size_t li = 0; li < layers; ++li) {
    for (std::size_t v : L.layer[li]) col_h[li] += L.h[v] + kGapY;
    height = std::max(height, col_h[li]);
  }
  for (std::size_t li = 0; li < layers; ++li) {
    double width = 0, top = kMargin + (height - col_h[li]) / 2;
    for (std::size_t v : L.layer[li]) width = std::max(width, L.w[v]);
    for (std::size_t v : L.layer[li]) {
      L.x[v] = left + (width - L.w[v]) / 2;
      L.y[v] = top;
      top += L.h[v] + kGapY;
    }
    left += width + kGapX;
  }
  L.width = left - kGapX + 12, L.height = height + 2 * kMargin;
}

// Ports: a node's incoming edges enter spread over its left side, outgoing ones leave spread over its right side,
// each in the order of the other end's height, so that parallel edges (a·a) and fans stay apart. Sets each edge's
// height where it leaves (y_out) and where it enters (y_in).
void edge_ports(const Graph& g, const Layered& L, std::vector<double>& y_out, std::vector<double>& y_in) {
  const std::size_t n = g.nodes.size();
  std::vector<std::vector<std::size_t>> in_edges(n), out_edges(n);
  for (std::size_t k = 0; k < g.edges.size(); ++k) {
    in_edges[g.edges[k].to].push_back(k);
    out_edges[g.edges[k].from].push_back(k);
  }
  y_out.assign(g.edges.size(), 0);
  y_in.assign(g.edges.size(), 0);
  auto spread = [&](std::vector<std::size_t>& es, std::size_t node, bool incoming) {
    std::stable_sort(es.begin(), es.end(), [&](std::size_t p, std::size_t q) {
      const std::size_t a = incoming ? g.edges[p].from : g.edges[p].to, b = incoming ? g.edges[q].from : g.edges[q].to;
      return L.y[a] + L.h[a] / 2 < L.y[b] + L.h[b] / 2;
    });
    for (std::size_t k = 0; k < es.size(); ++k)
      (incoming ? y_in : y_out)[es[k]] = L.y[node] + L.h[node] * double(k + 1) / double(es.size() + 1);
  };
  for (std::size_t i = 0; i < n; ++i) spread(in_edges[i], i, true), spread(out_edges[i], i, false);
}

// Edge k, from (its input's right side, y1) to (its consumer's left side, y2): a curve with an arrowhead, and its
// local derivative as a label.
void svg_edge(std::ostream& s, const Graph& g, const Layered& L, std::size_t k, double y1, double y2) {
  const GraphEdge& e = g.edges[k];
  const double x1 = L.x[e.from] + L.w[e.from], x2 = L.x[e.to] - 2;
  std::ostringstream d;
  double lx = (x1 + x2) / 2, ly = (y1 + y2) / 2;
  // An edge that skips columns would cross the nodes in between: route it above or below them instead.
  double top = 1e300, bottom = -1e300;
  for (std::size_t li = L.rank[e.from] + 1; li < L.rank[e.to]; ++li)
    for (std::size_t v : L.layer[li]) top = std::min(top, L.y[v]), bottom = std::max(bottom, L.y[v] + L.h[v]);
  const double mid = (y1 + y2) / 2;
  if (L.rank[e.to] > L.rank[e.from] + 1 && mid > top - 8 && mid < bottom + 8) {
    const double yd = mid - top < bottom - mid ? top - 16 : bottom + 16;
    const double xa = x1 + kGapX / 2, xb = x2 - kGapX / 2;
    d << "M" << num(x1, 6) << "," << num(y1, 6) << " C" << num(xa, 6) << "," << num(y1, 6) << " " << num(x1, 6) << ","
      << num(yd, 6) << " " << num(xa, 6) << "," << num(yd, 6) << " L" << num(xb, 6) << "," << num(yd, 6) << " C"
      << num(x2, 6) << "," << num(yd, 6) << " " << num(xb, 6) << "," << num(y2, 6) << " " << num(x2 - 8, 6) << ","
      << num(y2, 6);
    lx = (xa + xb) / 2, ly = yd;
  } else {
    const double mx = (x1 + x2) / 2;
    d << "M" << num(x1, 6) << "," << num(y1, 6) << " C" << num(mx, 6) << "," << num(y1, 6) << " " << num(mx, 6) << ","
      << num(y2, 6) << " " << num(x2 - 8, 6) << "," << num(y2, 6);
    lx = x1 + 0.384 * (x2 - x1), ly = y1 + 0.282 * (y2 - y1);  // the curve at t = 0.35, nearer the input
  }
  s << "<g id=\"e" << k << "\" class=\"edge" << (g.nodes[e.from].constant ? " constant" : "") << "\">"
    << "<path fill=\"none\" stroke=\"#555\" d=\"" << d.str() << "\"/>"
    << "<polygon fill=\"#555\" stroke=\"#555\" points=\"" << num(x2 - 8, 6) << "," << num(y2 - 4, 6) << " "
    << num(x2, 6) << "," << num(y2, 6) << " " << num(x2 - 8, 6) << "," << num(y2 + 4, 6) << "\"/>";
  if (!e.local.empty())
    s << "<text x=\"" << num(lx, 6) << "\" y=\"" << num(ly - 4, 6)
      << "\" text-anchor=\"middle\" font-size=\"11\" paint-order=\"stroke\" stroke=\"white\" stroke-width=\"4\">"
      << escape(e.local) << "</text>";
  s << "</g>\n";
}

// Node i: a rounded box (blue for leaves, grey for constants) with its lines, the first in bold.
void svg_node(std::ostream& s, const Graph& g, const Layered& L, std::size_t i) {
  const GraphNode& v = g.nodes[i];
  const char* fill = v.constant ? "#eeeeee" : v.leaf ? "#dbeafe" : "#ffffff";
  s << "<g id=\"n" << i << "\" class=\"node\"><rect x=\"" << num(L.x[i], 6) << "\" y=\"" << num(L.y[i], 6)
    << "\" width=\"" << num(L.w[i], 6) << "\" height=\"" << num(L.h[i], 6) << "\" rx=\"6\" fill=\"" << fill
    << "\" stroke=\"#333\"/>";
  for (std::size_t k = 0; k < L.lines[i].size(); ++k)
    s << "<text x=\"" << num(L.x[i] + L.w[i] / 2, 6) << "\" y=\"" << num(L.y[i] + 17 + 15.0 * double(k), 6)
      << "\" text-anchor=\"middle\"" << (k == 0 ? " font-weight=\"bold\"" : "") << ">" << escape(L.lines[i][k])
      << "</text>";
  s << "</g>\n";
}

}  // namespace

std::string builtin_svg(const Graph& g, const TraceOptions& f, std::size_t count) {
  Layered L;
  L.rank = layer_ranks(g);
  L.layer = ordered_layers(g, L.rank);
  place_boxes(g, f, count, L);
  std::vector<double> y_out, y_in;
  edge_ports(g, L, y_out, y_in);
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(L.width, 6) << "\" height=\"" << num(L.height, 6)
    << "\" viewBox=\"0 0 " << num(L.width, 6) << " " << num(L.height, 6)
    << "\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"12\">\n";
  for (std::size_t k = 0; k < g.edges.size(); ++k) svg_edge(s, g, L, k, y_out[k], y_in[k]);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) svg_node(s, g, L, i);
  s << "</svg>\n";
  return s.str();
}

namespace {
// ---- Graphviz's layout --------------------------------------------------------------------------------------
std::string dot_quote(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"";
}

}  // namespace

std::string graphviz_svg(const Graph& g, const TraceOptions& f, std::size_t count) {
  std::ostringstream d;
  d << "digraph chainrule {\n  rankdir=LR; nodesep=0.3; ranksep=0.9;\n"
    << "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=11];\n"
    << "  edge [fontname=\"Helvetica\", fontsize=10, color=\"#555555\"];\n";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& v = g.nodes[i];
    std::string label;
    for (const auto& l : node_lines(v, f, count)) label += (label.empty() ? "" : "\n") + l;
    d << "  n" << i << " [id=\"n" << i << "\", class=\"node\", label=" << dot_quote(label)
      << ", fillcolor=\"" << (v.constant ? "#eeeeee" : v.leaf ? "#dbeafe" : "#ffffff") << "\"];\n";
  }
  for (std::size_t k = 0; k < g.edges.size(); ++k) {
    const GraphEdge& e = g.edges[k];
    d << "  n" << e.from << " -> n" << e.to << " [id=\"e" << k << "\", class=\"edge"
      << (g.nodes[e.from].constant ? " constant" : "") << "\"";
    if (!e.local.empty()) d << ", label=" << dot_quote(e.local);
    d << "];\n";
  }
  d << "}\n";
  char path[] = "/tmp/chainrule_graph_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "";
  const std::string text = d.str();
  const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ::close(fd);
  std::string svg;
  if (written) {
    const std::string cmd = std::string("dot -Tsvg '") + path + "' 2>/dev/null";
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[4096];
      for (std::size_t k; (k = std::fread(buf, 1, sizeof buf, p)) > 0;) svg.append(buf, k);
      if (pclose(p) != 0) svg.clear();
    }
  }
  std::remove(path);
  const std::size_t at = svg.find("<svg");
  return at == std::string::npos ? "" : svg.substr(at);
}

}  // namespace chainrule::page
