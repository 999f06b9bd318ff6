// The chain-rule trace as a self-contained web page: the graph (Graphviz's layout, or a built-in layered one) and
// the backward pass as a list of steps that a small script walks through.
#include "html.hpp"

#include "../autograd/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace chainrule {
namespace page {  // named, so that a unity batch with trace.cpp's file-local helpers does not clash
namespace {

// ---- text --------------------------------------------------------------------------------------------------------
std::string escape(const std::string& s) {  // for HTML text and attribute values
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

std::vector<double> flat(const Tensor& t) {
  if (!t.defined()) return {};
  if (t.dtype() == kFloat32) return {t.data<float>().begin(), t.data<float>().end()};
  return {t.data<double>().begin(), t.data<double>().end()};
}

std::string num(double v, int precision) {
  if (v == 0) v = 0;  // -0 prints as 0
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

bool is_scalar(const Tensor& t) { return t.defined() && t.numel() == 1; }

// A short form for a graph label: the scalar, or "[2,3] 0.1, -0.2, 0.3, …".
std::string preview(const Tensor& t, const TraceOptions& f, std::size_t count) {
  if (!t.defined()) return "?";
  if (is_scalar(t)) return format_value(t, f);
  const std::vector<double> v = flat(t);
  std::string s = shape_str(t.shape()) + " ";
  for (std::size_t i = 0; i < std::min(count, v.size()); ++i) s += (i ? ", " : "") + num(v[i], 4);
  if (v.size() > count) s += ", …";
  return s;
}

// The full value for the detail view (a summary past 400 elements).
std::string full(const Tensor& t, const TraceOptions& f) {
  TraceOptions o = f;
  o.full = t.defined() && t.numel() <= 400;
  return format_value(t, o);
}

std::string partial(const std::string& y, const std::string& x) {
  auto simple = [](const std::string& n) {
    return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  };
  auto wrap = [&](const std::string& n) { return simple(n) ? n : "(" + n + ")"; };
  return "∂" + wrap(y) + "/∂" + wrap(x);
}

// ---- the graph, rebuilt from one pass of the trace ------------------------------------------------------------
struct GraphNode {
  std::string name, op;
  Tensor value, grad;          // grad: final (undefined for constants and nodes no gradient reached)
  bool constant = false, leaf = true;
  std::vector<std::size_t> inputs;  // graph node indices
};
struct GraphEdge {
  std::size_t from, to;        // input → consumer, graph node indices
  std::string local;           // the local derivative as the edge label ("" for constants)
};
struct Graph {
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  std::map<std::size_t, std::size_t> index;  // trace node number → graph node index
  std::size_t root = 0;
};

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

// The node's lines in the graph: name, op and shape, value, gradient (the last line is rewritten per step).
std::vector<std::string> node_lines(const GraphNode& n, const TraceOptions& f, std::size_t count) {
  std::string kind = n.constant ? "constant" : n.leaf ? "leaf" : n.op;
  if (!is_scalar(n.value)) kind += " " + shape_str(n.value.shape());
  std::vector<std::string> lines{n.name, kind, "value " + preview(n.value, f, count)};
  if (!n.constant) lines.push_back("grad " + preview(n.grad, f, count));
  return lines;
}

// ---- built-in layered layout: inputs left, the root right --------------------------------------------------
std::string builtin_svg(const Graph& g, const TraceOptions& f, std::size_t count) {
  const std::size_t n = g.nodes.size();
  // rank = longest path from a leaf; nodes were added consumers first, so resolve by repeated relaxation
  std::vector<std::size_t> rank(n, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t in : g.nodes[i].inputs)
        if (rank[i] < rank[in] + 1) rank[i] = rank[in] + 1, changed = true;
  }
  // Leaves and constants sit just left of their first user, not all in the first column.
  for (std::size_t i = 0; i < n; ++i) {
    if (!g.nodes[i].inputs.empty()) continue;
    std::size_t r = SIZE_MAX;
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t in : g.nodes[j].inputs)
        if (in == i) r = std::min(r, rank[j]);
    if (r != SIZE_MAX && r > 0) rank[i] = r - 1;
  }
  const std::size_t layers = *std::max_element(rank.begin(), rank.end()) + 1;
  std::vector<std::vector<std::size_t>> layer(layers);
  for (std::size_t i = n; i-- > 0;) layer[rank[i]].push_back(i);  // leaves in order of first use, roughly
  // Order within layers by the barycentre of the neighbours in the layer before (then after), a few sweeps.
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
  // Boxes: ~7 px a character at 12 px Helvetica, 15 px a line.
  auto columns = [](const std::string& t) {
    return std::size_t(std::count_if(t.begin(), t.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::vector<std::vector<std::string>> lines(n);
  std::vector<double> w(n), h(n), x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    lines[i] = node_lines(g.nodes[i], f, count);
    std::size_t c = 0;
    for (const auto& s : lines[i]) c = std::max(c, columns(s));
    w[i] = 7.0 * double(c) + 16;
    h[i] = 15.0 * double(lines[i].size()) + 10;
  }
  const double gap_x = 100, gap_y = 26, margin = 40;  // the margin leaves room for edges routed around a column
  double left = 12, height = 0;
  std::vector<double> col_h(layers, 0);
  for (std::size_t li = 0; li < layers; ++li) {
    for (std::size_t v : layer[li]) col_h[li] += h[v] + gap_y;
    height = std::max(height, col_h[li]);
  }
  for (std::size_t li = 0; li < layers; ++li) {
    double width = 0, top = margin + (height - col_h[li]) / 2;
    for (std::size_t v : layer[li]) width = std::max(width, w[v]);
    for (std::size_t v : layer[li]) {
      x[v] = left + (width - w[v]) / 2;
      y[v] = top;
      top += h[v] + gap_y;
    }
    left += width + gap_x;
  }
  const double total_w = left - gap_x + 12, total_h = height + 2 * margin;
  // Ports: a node's incoming edges enter spread over its left side, outgoing ones leave spread over its right
  // side, each in the order of the other end's height, so that parallel edges (a·a) and fans stay apart.
  std::vector<std::vector<std::size_t>> in_edges(n), out_edges(n);
  for (std::size_t k = 0; k < g.edges.size(); ++k) {
    in_edges[g.edges[k].to].push_back(k);
    out_edges[g.edges[k].from].push_back(k);
  }
  std::vector<double> y_out(g.edges.size()), y_in(g.edges.size());
  auto spread = [&](std::vector<std::size_t>& es, std::size_t node, bool incoming) {
    std::stable_sort(es.begin(), es.end(), [&](std::size_t p, std::size_t q) {
      const std::size_t a = incoming ? g.edges[p].from : g.edges[p].to, b = incoming ? g.edges[q].from : g.edges[q].to;
      return y[a] + h[a] / 2 < y[b] + h[b] / 2;
    });
    for (std::size_t k = 0; k < es.size(); ++k)
      (incoming ? y_in : y_out)[es[k]] = y[node] + h[node] * double(k + 1) / double(es.size() + 1);
  };
  for (std::size_t i = 0; i < n; ++i) spread(in_edges[i], i, true), spread(out_edges[i], i, false);
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(total_w, 6) << "\" height=\"" << num(total_h, 6)
    << "\" viewBox=\"0 0 " << num(total_w, 6) << " " << num(total_h, 6) << "\" font-family=\"Helvetica,Arial,sans-serif\" "
    << "font-size=\"12\">\n";
  for (std::size_t k = 0; k < g.edges.size(); ++k) {
    const GraphEdge& e = g.edges[k];
    const double x1 = x[e.from] + w[e.from], y1 = y_out[k], x2 = x[e.to] - 2, y2 = y_in[k];
    std::ostringstream d;
    double lx = (x1 + x2) / 2, ly = (y1 + y2) / 2;
    // An edge that skips columns would cross the nodes in between: route it above or below them instead.
    double top = 1e300, bottom = -1e300;
    for (std::size_t li = rank[e.from] + 1; li < rank[e.to]; ++li)
      for (std::size_t v : layer[li]) top = std::min(top, y[v]), bottom = std::max(bottom, y[v] + h[v]);
    const double mid = (y1 + y2) / 2;
    if (rank[e.to] > rank[e.from] + 1 && mid > top - 8 && mid < bottom + 8) {
      const double yd = mid - top < bottom - mid ? top - 16 : bottom + 16;
      const double xa = x1 + gap_x / 2, xb = x2 - gap_x / 2;
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
  for (std::size_t i = 0; i < n; ++i) {
    const GraphNode& v = g.nodes[i];
    const char* fill = v.constant ? "#eeeeee" : v.leaf ? "#dbeafe" : "#ffffff";
    s << "<g id=\"n" << i << "\" class=\"node\"><rect x=\"" << num(x[i], 6) << "\" y=\"" << num(y[i], 6)
      << "\" width=\"" << num(w[i], 6) << "\" height=\"" << num(h[i], 6) << "\" rx=\"6\" fill=\"" << fill
      << "\" stroke=\"#333\"/>";
    for (std::size_t k = 0; k < lines[i].size(); ++k)
      s << "<text x=\"" << num(x[i] + w[i] / 2, 6) << "\" y=\"" << num(y[i] + 17 + 15.0 * double(k), 6)
        << "\" text-anchor=\"middle\"" << (k == 0 ? " font-weight=\"bold\"" : "") << ">" << escape(lines[i][k])
        << "</text>";
    s << "</g>\n";
  }
  s << "</svg>\n";
  return s.str();
}

// ---- Graphviz's layout --------------------------------------------------------------------------------------
std::string dot_quote(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"";
}

// `dot -Tsvg` on the graph, ids n<k> and e<k> as in the built-in layout; "" if dot fails.
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

// ---- the steps ---------------------------------------------------------------------------------------------
struct Step {
  std::string title, html;
  std::vector<std::size_t> nodes, edges;  // highlighted: the node backward is at, the edge it walks
  std::vector<std::size_t> to;            // the node that edge sends a contribution to
  std::vector<std::string> grads;         // each node's gradient line at this step
  std::vector<int> done;                  // 1: the node's gradient is complete
};

std::string forward_table(const Graph& g, const std::vector<const TraceEntry*>& pass, const TraceOptions& f) {
  std::ostringstream s;
  s << "<p>First the forward pass computes every node's value, inputs before the nodes that use them. Backward "
       "then runs in the opposite order.</p>\n<table class=\"values\"><tr><th>node</th><th>computed as</th>"
       "<th>value</th></tr>\n";
  std::vector<int> shown(g.nodes.size(), 0);
  auto row = [&](std::size_t i) {
    const GraphNode& v = g.nodes[i];
    std::string how = v.constant ? "constant" : v.leaf ? "input (leaf)" : v.op + "(";
    if (!v.leaf && !v.constant) {
      bool scalars = true;
      for (std::size_t k = 0; k < v.inputs.size(); ++k) {
        how += (k ? ", " : "") + g.nodes[v.inputs[k]].name;
        scalars = scalars && is_scalar(g.nodes[v.inputs[k]].value);
      }
      how += ")";
      if (scalars) {
        how += " = " + v.op + "(";
        for (std::size_t k = 0; k < v.inputs.size(); ++k)
          how += (k ? ", " : "") + format_value(g.nodes[v.inputs[k]].value, f);
        how += ")";
      }
    }
    s << "<tr><td>" << escape(v.name) << "</td><td>" << escape(how) << "</td><td>"
      << escape(preview(v.value, f, 4)) << "</td></tr>\n";
  };
  // backward's order reversed is a forward order; constants and leaves right before their first user
  for (auto it = pass.rbegin(); it != pass.rend(); ++it) {
    const std::size_t k = g.index.at((*it)->node);
    for (std::size_t in : g.nodes[k].inputs)
      if (!shown[in] && g.nodes[in].leaf) shown[in] = 1, row(in);
    if (!shown[k]) shown[k] = 1, row(k);
  }
  s << "</table>\n";
  return s.str();
}

std::vector<Step> build_steps(const Graph& g, const std::vector<const TraceEntry*>& pass, const TraceOptions& f,
                              std::size_t count) {
  const std::size_t n = g.nodes.size();
  const std::string root = g.nodes[g.root].name;
  std::vector<std::string> grads(n);
  for (std::size_t i = 0; i < n; ++i) grads[i] = g.nodes[i].constant ? "" : "grad ?";
  std::vector<int> done(n, 0);
  std::vector<std::vector<Tensor>> received(n);  // contributions so far, per node
  TraceOptions jf = f;                            // Jacobians up to 4×4 print in full
  jf.max_elements = std::max<std::size_t>(f.max_elements, 16);
  std::vector<Step> steps;
  steps.push_back({"Forward pass: the values", forward_table(g, pass, f), {}, {}, {}, grads, done});
  std::size_t edge = 0;
  for (const TraceEntry* e : pass) {
    const std::size_t k = g.index.at(e->node);
    const std::string grad = format_value(e->grad, f);
    // the node completes: the seed, or the sum of its paths
    done[k] = 1;
    grads[k] = "grad " + preview(e->grad, f, count);
    std::ostringstream node_html;
    bool node_step = false;
    if (e->step == 1) {
      node_step = true;
      node_html << "<p>Backward starts at the output with the seed</p><p class=\"formula\">" << escape(partial(root, root))
                << " = <b>" << escape(grad) << "</b></p>";
    } else if (e->summed()) {
      node_step = true;
      const bool scalars = std::all_of(e->paths.begin(), e->paths.end(),
                                       [](const TracePath& p) { return is_scalar(p.contribution); });
      node_html << "<p>" << escape(e->name) << " was reached by " << e->paths.size()
                << " paths, so its gradient is the <b>sum</b> of what each sent:</p><p class=\"formula\">"
                << escape(partial(root, e->name)) << " = ";
      if (scalars)
        for (std::size_t p = 0; p < e->paths.size(); ++p)
          node_html << (p ? " + " : "") << escape(format_value(e->paths[p].contribution, f));
      else
        node_html << "the sum of " << e->paths.size() << " contributions";
      node_html << " = <b>" << escape(grad) << "</b></p><p>from ";
      for (std::size_t p = 0; p < e->paths.size(); ++p) node_html << (p ? ", " : "") << escape(e->paths[p].from);
      node_html << ".</p>";
    }
    if (node_step)
      steps.push_back({e->step == 1 ? "The seed: " + root : "Sum over paths at " + e->name, node_html.str(), {k}, {},
                       {}, grads, done});
    // each edge it sends a contribution along
    for (std::size_t i = 0; i < e->inputs.size(); ++i, ++edge) {
      const TraceInput& in = e->inputs[i];
      if (!in.requires_grad || !in.contribution.defined()) continue;
      const std::size_t t = g.index.at(in.node);
      received[t].push_back(in.contribution);
      grads[t] = "grad " + preview(in.accumulated, f, count);
      const bool scalars = is_scalar(e->grad) && is_scalar(in.local);
      std::ostringstream h;
      h << "<table class=\"chain\">\n<tr><th>upstream</th><td>" << escape(partial(root, e->name)) << "</td><td>= "
        << escape(grad) << "</td></tr>\n<tr><th>local</th><td>" << escape(partial(e->name, in.name)) << "</td><td>= ";
      if (in.local_kind == LocalKind::None)
        h << "(a " << e->value.numel() << "×" << in.value.numel() << " Jacobian, not shown)";
      else
        h << (in.local_kind == LocalKind::Jacobian && !scalars ? "Jacobian " : "") << escape(format_value(in.local, jf));
      h << "</td></tr>\n<tr class=\"product\"><th>chain rule</th><td>upstream × local</td><td>= ";
      if (scalars)
        h << escape(grad) << " × " << escape(format_value(in.local, f)) << " = ";
      else if (in.local_kind == LocalKind::Elementwise)
        h << "upstream ⊙ local = ";
      else
        h << "upstream · Jacobian = ";
      h << escape(format_value(in.contribution, f)) << "</td></tr>\n<tr class=\"running\"><th>"
        << escape(partial(root, in.name)) << "</th><td>";
      const auto& got = received[t];
      if (got.size() > 1) {
        h << "running sum over " << got.size() << " paths</td><td>= ";
        if (std::all_of(got.begin(), got.end(), is_scalar))
          for (std::size_t p = 0; p < got.size(); ++p) h << (p ? " + " : "") << escape(format_value(got[p], f));
        else
          h << "previous + contribution";
        h << " = <b>" << escape(format_value(in.accumulated, f)) << "</b>";
      } else {
        h << "so far</td><td>= <b>" << escape(format_value(in.accumulated, f)) << "</b>";
      }
      h << "</td></tr>\n</table>\n";
      if (g.nodes[t].leaf && !g.nodes[t].constant) {
        bool more = false;  // does a later edge still send to this leaf?
        for (const TraceEntry* later : pass)
          if (later->step > e->step)
            for (const TraceInput& li : later->inputs) more = more || (li.node == in.node && li.requires_grad);
        for (std::size_t j = i + 1; j < e->inputs.size(); ++j) more = more || e->inputs[j].node == in.node;
        if (!more) {
          done[t] = 1;
          grads[t] = "grad " + preview(in.accumulated, f, count);
          h << "<p>" << escape(in.name) << " is a leaf and nothing else sends to it: its gradient is final.</p>\n";
        }
      }
      steps.push_back({"Backward from " + e->name + " to " + in.name, h.str(), {k}, {edge}, {t}, grads, done});
    }
  }
  // the gradient table
  std::ostringstream t;
  t << "<p>Backward is done. Every gradient, ∂" << escape(root) << "/∂node:</p>\n<table class=\"grads\"><tr><th>node"
    << "</th><th>kind</th><th>value</th><th>gradient</th></tr>\n";
  for (int pass_leaves = 1; pass_leaves >= 0; --pass_leaves)
    for (std::size_t i = n; i-- > 0;) {
      const GraphNode& v = g.nodes[i];
      if (v.constant || v.leaf != bool(pass_leaves)) continue;
      t << "<tr" << (v.leaf ? " class=\"leaf\"" : "") << "><td>" << escape(v.name) << "</td><td>"
        << (v.leaf ? "leaf" : escape(v.op)) << "</td><td>" << escape(format_value(v.value, f)) << "</td><td><b>"
        << escape(v.grad.defined() ? format_value(v.grad, f) : "(none reached it)") << "</b></td></tr>\n";
    }
  t << "</table>\n";
  for (std::size_t i = 0; i < n; ++i)
    if (!g.nodes[i].constant) done[i] = 1, grads[i] = "grad " + preview(g.nodes[i].grad, f, count);
  steps.push_back({"The gradients", t.str(), {}, {}, {}, grads, done});
  return steps;
}

const char* kStyle = R"(
body { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #1f2328; background: #fafafa; }
header { padding: 10px 18px; background: #24292f; color: white; display: flex; align-items: center; gap: 16px; }
header h1 { font-size: 18px; margin: 0; flex: 1; }
header button { font-size: 15px; padding: 4px 14px; cursor: pointer; }
#counter { font-variant-numeric: tabular-nums; }
main { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; align-items: flex-start; }
#graph { background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; overflow: auto;
         max-width: calc(100% - 18px); max-height: 75vh; }
#side { flex: 1; min-width: 340px; }
#panel { background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px; }
#panel h2 { font-size: 17px; margin: 6px 0 10px; }
#detail { margin-top: 12px; background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px; }
#detail pre { white-space: pre-wrap; word-break: break-all; font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 9px; text-align: left; font-variant-numeric: tabular-nums; }
th { background: #f6f8fa; font-weight: 600; }
tr.product td, tr.running td { background: #fff8e5; }
tr.product td:last-child { font-weight: bold; }
.formula { font-size: 17px; }
.hint { color: #57606a; font-size: 13px; }
.node { cursor: pointer; }
.node.done polygon, .node.done rect, .node.done path { fill: #e6f4ea; }
.node.current polygon, .node.current rect, .node.current path { stroke: #d1242f; stroke-width: 3px; }
.node.receiver polygon, .node.receiver rect, .node.receiver path { stroke: #bc4c00; stroke-width: 3px; stroke-dasharray: 6 3; }
.edge.current path { stroke: #d1242f; stroke-width: 3px; }
.edge.current polygon { fill: #d1242f; stroke: #d1242f; }
.edge.current text { fill: #d1242f; font-weight: bold; }
.edge.constant path { stroke-dasharray: 4 3; }
)";

const char* kScript = R"(
(function () {
  var steps = DATA.steps, nodes = DATA.nodes, k = 0;
  function el(id) { return document.getElementById(id); }
  function show(i) {
    k = Math.max(0, Math.min(steps.length - 1, i));
    var s = steps[k];
    el('panel').innerHTML = '<h2>Step ' + (k + 1) + ' of ' + steps.length + ': ' + s.title + '</h2>' + s.html;
    el('counter').textContent = (k + 1) + ' / ' + steps.length;
    el('prev').disabled = k === 0;
    el('next').disabled = k === steps.length - 1;
    nodes.forEach(function (n, j) {
      var g = el('n' + j);
      if (!g) return;
      g.classList.toggle('current', s.nodes.indexOf(j) >= 0);
      g.classList.toggle('receiver', s.to.indexOf(j) >= 0);
      g.classList.toggle('done', s.done[j] === 1);
      var texts = g.getElementsByTagName('text');
      if (!n.constant && texts.length) texts[texts.length - 1].textContent = s.grads[j];
    });
    for (var e = 0; e < DATA.edges; ++e) {
      var ge = el('e' + e);
      if (ge) ge.classList.toggle('current', s.edges.indexOf(e) >= 0);
    }
    var focus = el('n' + (s.to.length ? s.to[0] : s.nodes.length ? s.nodes[0] : DATA.rootIndex));
    if (focus && focus.scrollIntoView) focus.scrollIntoView({block: 'nearest', inline: 'center'});
    if (location.hash !== '#step=' + (k + 1)) history.replaceState(null, '', '#step=' + (k + 1));
  }
  function fromHash() {
    var m = /step=(\d+)/.exec(location.hash);
    show(m ? parseInt(m[1], 10) - 1 : 0);
  }
  el('prev').onclick = function () { show(k - 1); };
  el('next').onclick = function () { show(k + 1); };
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { show(k + 1); ev.preventDefault(); }
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { show(k - 1); ev.preventDefault(); }
  });
  window.addEventListener('hashchange', fromHash);
  nodes.forEach(function (n, j) {
    var g = el('n' + j);
    if (g) g.addEventListener('click', function () {
      el('detail').innerHTML = '<h3>' + n.name + '</h3><p>' + n.kind + '</p><p>value</p><pre>' + n.value +
        '</pre>' + (n.constant ? '' : '<p>gradient ∂' + DATA.root + '/∂' + n.name + '</p><pre>' + n.grad + '</pre>');
    });
  });
  fromHash();
})();
)";

std::string json_for_script(const nlohmann::json& j) {
  std::string s = j.dump();
  for (std::size_t p = 0; (p = s.find("</", p)) != std::string::npos; p += 3) s.replace(p, 2, "<\\/");
  return s;
}

std::vector<const TraceEntry*> select_pass(const ChainRuleTrace& trace, std::size_t pass) {
  const auto& es = trace.entries();
  if (es.empty()) throw std::invalid_argument("to_html: the trace recorded nothing; run backward while it lives");
  if (pass == 0) pass = es.back().pass;
  std::vector<const TraceEntry*> r;
  for (const auto& e : es)
    if (e.pass == pass) r.push_back(&e);
  if (r.empty())
    throw std::invalid_argument("to_html: the trace has no pass " + std::to_string(pass) + " (it recorded " +
                                std::to_string(es.back().pass) + ")");
  return r;
}
}  // namespace
}  // namespace page

bool graphviz_available() { return std::system("command -v dot > /dev/null 2>&1") == 0; }

std::string to_html(const ChainRuleTrace& trace, const HtmlOptions& o) {
  const std::vector<const TraceEntry*> pass = page::select_pass(trace, o.pass);
  const TraceOptions& f = trace.options();
  const page::Graph g = page::build_graph(pass, f);
  const std::vector<page::Step> steps = page::build_steps(g, pass, f, o.preview);
  std::string svg;
  const bool want_dot = o.layout == HtmlOptions::Layout::Graphviz ||
                        (o.layout == HtmlOptions::Layout::Auto && graphviz_available());
  if (want_dot) svg = page::graphviz_svg(g, f, o.preview);
  if (svg.empty() && o.layout == HtmlOptions::Layout::Graphviz)
    throw std::runtime_error("to_html: Graphviz's `dot -Tsvg` failed or is not installed (apt-get install graphviz)");
  const std::string layout = svg.empty() ? "built-in layout" : "Graphviz layout";
  if (svg.empty()) svg = page::builtin_svg(g, f, o.preview);

  const std::string root = g.nodes[g.root].name;
  nlohmann::json data;
  data["root"] = root;
  data["rootIndex"] = g.root;
  data["edges"] = g.edges.size();
  data["nodes"] = nlohmann::json::array();
  for (const page::GraphNode& v : g.nodes) {
    std::string kind = v.constant ? "constant" : v.leaf ? "leaf" : "op " + v.op;
    kind += ", shape " + shape_str(v.value.shape());
    data["nodes"].push_back({{"name", page::escape(v.name)}, {"kind", page::escape(kind)}, {"constant", v.constant},
                             {"value", page::escape(page::full(v.value, f))},
                             {"grad", page::escape(v.grad.defined() ? page::full(v.grad, f) : "(none)")}});
  }
  data["steps"] = nlohmann::json::array();
  for (const page::Step& s : steps)
    data["steps"].push_back({{"title", page::escape(s.title)}, {"html", s.html}, {"nodes", s.nodes}, {"edges", s.edges}, {"to", s.to},
                             {"grads", s.grads}, {"done", s.done}});
  const std::string title = o.title.empty() ? "Backward from " + root : o.title;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << page::escape(title)
    << "</title>\n<style>" << page::kStyle << "</style>\n</head>\n<body>\n<header><h1>" << page::escape(title)
    << "</h1><button id=\"prev\" title=\"previous step (←)\">◀ Previous</button><span id=\"counter\"></span>"
    << "<button id=\"next\" title=\"next step (→)\">Next ▶</button></header>\n<main>\n<div id=\"graph\">\n" << svg
    << "</div>\n<div id=\"side\">\n<section id=\"panel\"></section>\n<div id=\"detail\"><p class=\"hint\">Arrow keys "
    << "or the buttons step through backward; link to a step with #step=N. Click a node to see its value and "
    << "gradient in full. Graph: " << layout << ".</p></div>\n</div>\n</main>\n<script>\nvar DATA = "
    << page::json_for_script(data) << ";\n" << page::kScript << "</script>\n</body>\n</html>\n";
  return h.str();
}

void write_html(const std::string& path, const ChainRuleTrace& trace, const HtmlOptions& o) {
  files::check_save_target(path, "write_html: ");  // before the work of rendering
  detail::write_text_file("write_html: ", path, to_html(trace, o));
}

}  // namespace chainrule
