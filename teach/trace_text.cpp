// The chain-rule trace's printers: its entries as text (str, operator<<) or as Markdown with LaTeX (markdown).
#include "trace.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ostream>
#include <sstream>

namespace chainrule {

namespace {
bool scalar(const Tensor& t) { return t.defined() && t.numel() == 1; }

// Both printers say the same things; a Style says how: plain text or Markdown with LaTeX.
struct Style {
  bool markdown;
  std::string name(const std::string& n) const {  // w1 → w_{1}, mul_2 → \mathrm{mul\_2}
    if (!markdown) return n;
    std::size_t d = n.find_first_of("0123456789");
    auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    const bool letters_then_digits = d != std::string::npos && d > 0 && std::all_of(n.begin(), n.begin() + long(d), alpha) &&
                                     std::all_of(n.begin() + long(d), n.end(), digit);
    if (letters_then_digits) return "$" + n.substr(0, d) + "_{" + n.substr(d) + "}$";
    if (n.size() == 1 && alpha(n[0])) return "$" + n + "$";
    std::string e;
    for (char c : n) e += std::strchr("_%#&${}", c) ? std::string("\\") + c : std::string(1, c);
    return "$\\mathrm{" + e + "}$";
  }
  std::string partial(const std::string& y, const std::string& x) const {
    auto simple = [](const std::string& n) {
      return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    };
    auto wrap = [&](const std::string& n) { return simple(n) ? n : "(" + n + ")"; };  // ∂(a*a)/∂a
    if (!markdown) return "∂" + wrap(y) + "/∂" + wrap(x);
    auto inner = [&](const std::string& n) { std::string s = name(n); return s.substr(1, s.size() - 2); };
    return "$\\frac{\\partial " + inner(y) + "}{\\partial " + inner(x) + "}$";
  }
  std::string value(const Tensor& t, const TraceOptions& o) const {
    std::string v = format_value(t, o);
    return markdown && !scalar(t) ? "`" + v + "`" : v;
  }
  // A Jacobian up to 4×4 (e.g. a 3-way softmax's) prints in full: a summary would hide the structure it shows.
  std::string jacobian(const Tensor& t, const TraceOptions& o) const {
    TraceOptions j = o;
    j.max_elements = std::max<std::size_t>(o.max_elements, 16);
    return value(t, j);
  }
};

// The heading of the pass that starts at entries[k]: "Chain-rule trace: backward from o (10 nodes, ...)".
void render_pass_heading(std::ostream& os, const std::vector<TraceEntry>& entries, std::size_t k, const Style& st) {
  const TraceEntry& e = entries[k];
  std::size_t count = 0;
  while (k + count < entries.size() && entries[k + count].pass == e.pass) ++count;
  if (k) os << "\n";
  if (st.markdown)
    os << "#### Chain-rule trace: backward from " << st.name(e.name) << " (" << count << " nodes)\n\n";
  else
    os << "Chain-rule trace: backward from " << e.name << " (" << count << " nodes, each before its inputs)\n";
}

// The node: its op on its inputs and its value ("3. x1w1 = mul(x1, w1) = -6").
void render_node(std::ostream& os, const TraceEntry& e, const TraceOptions& o, const Style& st) {
  if (!st.markdown) os << std::string(e.step < 10 ? 2 : e.step < 100 ? 1 : 0, ' ');
  os << e.step << ". " << st.name(e.name) << " = ";
  if (e.is_leaf()) {
    os << st.value(e.value, o) << "   (leaf)\n";
  } else {
    os << (st.markdown ? "`" : "") << e.op << "(";
    for (std::size_t i = 0; i < e.inputs.size(); ++i) os << (i ? ", " : "") << e.inputs[i].name;
    os << ")" << (st.markdown ? "`" : "") << " = " << st.value(e.value, o) << "\n";
  }
}

// Its gradient ∂root/∂node: the seed, one path, or a sum over several.
void render_gradient(std::ostream& os, const TraceEntry& e, const std::string& root, const std::string& indent,
                     const TraceOptions& o, const Style& st) {
  os << indent << st.partial(root, e.name) << " = ";
  if (!e.grad.defined()) {
    os << "(no gradient reached it)\n";
  } else if (e.paths.empty()) {
    os << st.value(e.grad, o) << (e.step == 1 ? "   (the seed)" : "") << "\n";
  } else if (!e.summed()) {
    os << st.value(e.grad, o) << "   (from " << e.paths[0].from << ")\n";
  } else {
    bool small = std::all_of(e.paths.begin(), e.paths.end(), [](const TracePath& p) { return scalar(p.contribution); });
    if (small)
      for (std::size_t i = 0; i < e.paths.size(); ++i) os << (i ? " + " : "") << st.value(e.paths[i].contribution, o);
    else
      os << "the sum of " << e.paths.size() << " contributions";
    os << " = " << st.value(e.grad, o) << (st.markdown ? "   **" : "   <- ") << "a sum over " << e.paths.size()
       << " paths" << (st.markdown ? "**" : "") << ": from ";
    for (std::size_t i = 0; i < e.paths.size(); ++i)
      os << (i ? ", " : "") << e.paths[i].from << " (input #" << e.paths[i].input << ")";
    os << "\n";
  }
}

// What the node sends to each input, one row each: the input's value, the local derivative, the contribution
// (upstream × local) and the input's gradient so far. A constant's row, or one nothing was sent along, has one cell.
std::vector<std::vector<std::string>> input_rows(const TraceEntry& e, const std::string& root, const TraceOptions& o,
                                                 const Style& st) {
  std::vector<std::vector<std::string>> rows;
  for (const TraceInput& in : e.inputs) {
    std::vector<std::string> r{st.name(in.name) + " = " + st.value(in.value, o)};
    rows.push_back(r);
    if (!in.requires_grad) {
      rows.back()[0] += ": a constant, no gradient";
      continue;
    }
    if (!in.contribution.defined()) {
      rows.back()[0] += ": nothing sent";
      continue;
    }
    const bool scalars = scalar(e.grad) && scalar(in.local);
    std::ostringstream local, sent, total;
    if (in.local_kind == LocalKind::None) {
      local << "(" << st.partial(e.name, in.name) << " not shown: " << e.value.numel() << "×" << in.value.numel()
            << " Jacobian)";
      sent << "contribution " << st.value(in.contribution, o);
    } else {
      local << (in.local_kind == LocalKind::Jacobian && !scalars ? "Jacobian " : "") << st.partial(e.name, in.name)
            << " = " << (in.local_kind == LocalKind::Jacobian ? st.jacobian(in.local, o) : st.value(in.local, o));
      sent << "contribution ";
      if (scalars) sent << st.value(e.grad, o) << " × " << st.value(in.local, o) << " = ";
      else if (in.local_kind == LocalKind::Elementwise) sent << "upstream ⊙ local = ";
      else sent << "upstream · Jacobian = ";
      sent << st.value(in.contribution, o);
    }
    total << "-> " << st.partial(root, in.name) << " = " << st.value(in.accumulated, o);
    if (in.paths_so_far > 1) total << " (sum of " << in.paths_so_far << " paths so far)";
    rows.back().insert(rows.back().end(), {local.str(), sent.str(), total.str()});
  }
  return rows;
}

// The rows in aligned columns (plain text), or separated by "; " (Markdown).
void render_rows(std::ostream& os, const std::vector<std::vector<std::string>>& rows, const std::string& indent,
                 const Style& st) {
  // Characters on screen, not bytes: ∂ and × take one column each.
  auto columns = [](const std::string& t) {
    return std::size_t(std::count_if(t.begin(), t.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::size_t width[3] = {0, 0, 0};
  for (const auto& r : rows)
    for (std::size_t k = 0; k + 1 < r.size(); ++k) width[k] = std::max(width[k], columns(r[k]));
  for (const auto& r : rows) {
    os << indent;
    for (std::size_t k = 0; k < r.size(); ++k) {
      os << r[k];
      if (k + 1 < r.size()) os << (st.markdown ? "; " : std::string(width[k] - columns(r[k]) + 3, ' '));
    }
    os << "\n";
  }
}

// Each entry in backward's order: the node, its gradient, what it sends to each input.
void render(std::ostream& os, const std::vector<TraceEntry>& entries, const TraceOptions& o, const Style& st) {
  const std::string indent = st.markdown ? "   - " : "      ";
  std::string root;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const TraceEntry& e = entries[k];
    if (e.step == 1) {
      root = e.name;
      render_pass_heading(os, entries, k, st);
    }
    render_node(os, e, o, st);
    render_gradient(os, e, root, indent, o, st);
    render_rows(os, input_rows(e, root, o, st), indent, st);
    if (st.markdown) os << "\n";
  }
}
}  // namespace

std::string ChainRuleTrace::str() const {
  std::ostringstream s;
  render(s, entries(), options_, Style{false});
  return s.str();
}
std::string ChainRuleTrace::markdown() const {
  std::ostringstream s;
  render(s, entries(), options_, Style{true});
  return s.str();
}
std::ostream& operator<<(std::ostream& os, const ChainRuleTrace& t) { return os << t.str(); }

}  // namespace chainrule
