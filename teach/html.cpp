// The chain-rule trace as a self-contained web page: the graph (teach/html_graph.cpp draws it) and the backward
// pass as a list of steps that a small script walks through.
#include "html.hpp"

#include "../autograd/files.hpp"
#include "html_graph.hpp"

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

// ---- text ------------------------------------------------------------------------------------------------------
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

// The html of the step where node e completes, when it is the seed or a sum over paths; "" otherwise (its gradient
// then shows on the edge that sent it).
std::string node_step_html(const TraceEntry& e, const std::string& root, const TraceOptions& f) {
  const std::string grad = format_value(e.grad, f);
  std::ostringstream node_html;
  if (e.step == 1) {
    node_html << "<p>Backward starts at the output with the seed</p><p class=\"formula\">" << escape(partial(root, root))
              << " = <b>" << escape(grad) << "</b></p>";
  } else if (e.summed()) {
    const bool scalars = std::all_of(e.paths.begin(), e.paths.end(),
                                     [](const TracePath& p) { return is_scalar(p.contribution); });
    node_html << "<p>" << escape(e.name) << " was reached by " << e.paths.size()
              << " paths, so its gradient is the <b>sum</b> of what each sent:</p><p class=\"formula\">"
              << escape(partial(root, e.name)) << " = ";
    if (scalars)
      for (std::size_t p = 0; p < e.paths.size(); ++p)
        node_html << (p ? " + " : "") << escape(format_value(e.paths[p].contribution, f));
    else
      node_html << "the sum of " << e.paths.size() << " contributions";
    node_html << " = <b>" << escape(grad) << "</b></p><p>from ";
    for (std::size_t p = 0; p < e.paths.size(); ++p) node_html << (p ? ", " : "") << escape(e.paths[p].from);
    node_html << ".</p>";
  }
  return node_html.str();
}

// The chain rule along the edge from node e to its input `in`, as a table: upstream, local derivative, their product
// (with the numbers when both are scalars), and the input's running sum over the contributions `got` so far.
std::string chain_table_html(const TraceEntry& e, const TraceInput& in, const std::vector<Tensor>& got,
                             const std::string& root, const TraceOptions& f) {
  TraceOptions jf = f;  // Jacobians up to 4×4 print in full
  jf.max_elements = std::max<std::size_t>(f.max_elements, 16);
  const std::string grad = format_value(e.grad, f);
  const bool scalars = is_scalar(e.grad) && is_scalar(in.local);
  std::ostringstream h;
  h << "<table class=\"chain\">\n<tr><th>upstream</th><td>" << escape(partial(root, e.name)) << "</td><td>= "
    << escape(grad) << "</td></tr>\n<tr><th>local</th><td>" << escape(partial(e.name, in.name)) << "</td><td>= ";
  if (in.local_kind == LocalKind::None)
    h << "(a " << e.value.numel() << "×" << in.value.numel() << " Jacobian, not shown)";
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
  return h.str();
}

// Does an edge after e's input #i still send to that input: a later input of e, or an input of a later node?
bool more_sent_to_input(const std::vector<const TraceEntry*>& pass, const TraceEntry& e, std::size_t i) {
  const std::size_t node = e.inputs[i].node;
  bool more = false;
  for (const TraceEntry* later : pass)
    if (later->step > e.step)
      for (const TraceInput& li : later->inputs) more = more || (li.node == node && li.requires_grad);
  for (std::size_t j = i + 1; j < e.inputs.size(); ++j) more = more || e.inputs[j].node == node;
  return more;
}

// The last step's table: every gradient ∂root/∂node, the leaves first.
std::string gradient_table_html(const Graph& g, const TraceOptions& f) {
  const std::string root = g.nodes[g.root].name;
  std::ostringstream t;
  t << "<p>Backward is done. Every gradient, ∂" << escape(root) << "/∂node:</p>\n<table class=\"grads\"><tr><th>node"
    << "</th><th>kind</th><th>value</th><th>gradient</th></tr>\n";
  for (int pass_leaves = 1; pass_leaves >= 0; --pass_leaves)
    for (std::size_t i = g.nodes.size(); i-- > 0;) {
      const GraphNode& v = g.nodes[i];
      if (v.constant || v.leaf != bool(pass_leaves)) continue;
      t << "<tr" << (v.leaf ? " class=\"leaf\"" : "") << "><td>" << escape(v.name) << "</td><td>"
        << (v.leaf ? "leaf" : escape(v.op)) << "</td><td>" << escape(format_value(v.value, f)) << "</td><td><b>"
        << escape(v.grad.defined() ? format_value(v.grad, f) : "(none reached it)") << "</b></td></tr>\n";
    }
  t << "</table>\n";
  return t.str();
}

// The steps: the forward values; then, in backward's order, each node as it completes (the seed, a sum over paths)
// and each edge it sends a contribution along; then the table of gradients. Each step carries every node's
// gradient line and whether it is complete at that point.
std::vector<Step> build_steps(const Graph& g, const std::vector<const TraceEntry*>& pass, const TraceOptions& f,
                              std::size_t count) {
  const std::size_t n = g.nodes.size();
  const std::string root = g.nodes[g.root].name;
  std::vector<std::string> grads(n);
  for (std::size_t i = 0; i < n; ++i) grads[i] = g.nodes[i].constant ? "" : "grad ?";
  std::vector<int> done(n, 0);
  std::vector<std::vector<Tensor>> received(n);  // contributions so far, per node
  std::vector<Step> steps;
  steps.push_back({"Forward pass: the values", forward_table(g, pass, f), {}, {}, {}, grads, done});
  std::size_t edge = 0;
  for (const TraceEntry* e : pass) {
    const std::size_t k = g.index.at(e->node);
    done[k] = 1;  // the node completes: the seed, or the sum of its paths
    grads[k] = "grad " + preview(e->grad, f, count);
    const std::string node_html = node_step_html(*e, root, f);
    if (!node_html.empty())
      steps.push_back({e->step == 1 ? "The seed: " + root : "Sum over paths at " + e->name, node_html, {k}, {}, {},
                       grads, done});
    for (std::size_t i = 0; i < e->inputs.size(); ++i, ++edge) {  // each edge it sends a contribution along
      const TraceInput& in = e->inputs[i];
      if (!in.requires_grad || !in.contribution.defined()) continue;
      const std::size_t t = g.index.at(in.node);
      received[t].push_back(in.contribution);
      grads[t] = "grad " + preview(in.accumulated, f, count);
      std::string h = chain_table_html(*e, in, received[t], root, f);
      if (g.nodes[t].leaf && !g.nodes[t].constant && !more_sent_to_input(pass, *e, i)) {
        done[t] = 1;
        grads[t] = "grad " + preview(in.accumulated, f, count);
        h += "<p>" + escape(in.name) + " is a leaf and nothing else sends to it: its gradient is final.</p>\n";
      }
      steps.push_back({"Backward from " + e->name + " to " + in.name, h, {k}, {edge}, {t}, grads, done});
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!g.nodes[i].constant) done[i] = 1, grads[i] = "grad " + preview(g.nodes[i].grad, f, count);
  steps.push_back({"The gradients", gradient_table_html(g, f), {}, {}, {}, grads, done});
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
