// The step-through page (teach/html.hpp): the steps it holds, with the numbers of micrograd's neuron worked by
// hand, in both layouts. The browser tests (tests/browser/) open the same pages in Chromium.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "teach_helpers.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

using namespace chainrule;

namespace {
// The page's DATA object (the steps and the nodes), parsed back.
nlohmann::json page_data(const std::string& html) {
  const std::string start = "var DATA = ";
  const std::size_t a = html.find(start), b = html.find(";\n", a);
  REQUIRE(a != std::string::npos);
  std::string json = html.substr(a + start.size(), b - a - start.size());
  for (std::size_t p = 0; (p = json.find("<\\/", p)) != std::string::npos;) json.replace(p, 3, "</");
  return nlohmann::json::parse(json);
}
}  // namespace

TEST_CASE("html: micrograd's neuron, one step per chain-rule product, forward values first, gradients last") {
  for (auto layout : {HtmlOptions::Layout::Builtin, HtmlOptions::Layout::Graphviz}) {
    if (layout == HtmlOptions::Layout::Graphviz && !graphviz_available()) {
      MESSAGE("graphviz is not installed (apt-get install graphviz): only the built-in layout is checked");
      continue;
    }
    CAPTURE(int(layout));
    test::Neuron m;
    ChainRuleTrace trace;
    m.o.backward();
    HtmlOptions o;
    o.layout = layout;
    const std::string html = to_html(trace, o);
    // self-contained: no scripts, styles, images or fonts from elsewhere
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    for (const char* remote : {"src=", "<link", "@import", "url(", "https:", "//cdn"}) CHECK(html.find(remote) == std::string::npos);
    CHECK(html.find(layout == HtmlOptions::Layout::Builtin ? "Graph: built-in layout." : "Graph: Graphviz layout.") !=
          std::string::npos);
    // the graph: 10 nodes, 9 edges, each edge labelled with its local derivative
    for (int i = 0; i < 10; ++i) CHECK(html.find("id=\"n" + std::to_string(i) + "\"") != std::string::npos);
    for (int k = 0; k < 9; ++k) CHECK(html.find("id=\"e" + std::to_string(k) + "\"") != std::string::npos);
    CHECK(html.find("id=\"n10\"") == std::string::npos);

    const nlohmann::json d = page_data(html);
    const auto& steps = d["steps"];
    REQUIRE(steps.size() == 12);  // forward, the seed, 9 edges, the table
    CHECK(steps[0]["title"] == "Forward pass: the values");
    CHECK(steps[0]["html"].get<std::string>().find("<td>x1w1</td><td>mul(x1, w1) = mul(2, -3)</td><td>-6</td>") !=
          std::string::npos);
    CHECK(steps[1]["title"] == "The seed: o");
    CHECK(steps[1]["html"].get<std::string>().find("∂o/∂o = <b>1</b>") != std::string::npos);
    // find the step that walks x1w1 → x1: upstream 0.5 (= 1 − tanh²), local ∂(x1·w1)/∂x1 = w1 = -3
    std::size_t x1 = 0;
    for (std::size_t k = 0; k < steps.size(); ++k)
      if (steps[k]["title"] == "Backward from x1w1 to x1") x1 = k;
    REQUIRE(x1 > 0);
    const std::string h = steps[x1]["html"];
    CHECK(h.find("<tr><th>upstream</th><td>∂o/∂x1w1</td><td>= 0.5</td></tr>") != std::string::npos);
    CHECK(h.find("<tr><th>local</th><td>∂x1w1/∂x1</td><td>= -3</td></tr>") != std::string::npos);
    CHECK(h.find("<td>upstream × local</td><td>= 0.5 × -3 = -1.5</td>") != std::string::npos);
    CHECK(h.find("so far</td><td>= <b>-1.5</b>") != std::string::npos);
    CHECK(h.find("x1 is a leaf and nothing else sends to it: its gradient is final.") != std::string::npos);
    CHECK(steps[x1]["edges"].size() == 1);
    // the graph's gradient line of x1 at that step, and "?" before
    const std::size_t x1_node = steps[x1]["to"][0];
    CHECK(d["nodes"][x1_node]["name"] == "x1");
    CHECK(steps[x1]["grads"][x1_node] == "grad -1.5");
    CHECK(steps[x1 - 1]["grads"][x1_node] == "grad ?");
    CHECK(steps[x1]["done"][x1_node] == 1);
    // the gradient table
    CHECK(steps[11]["title"] == "The gradients");
    const std::string table = steps[11]["html"];
    for (const char* row : {"<td>x1</td><td>leaf</td><td>2</td><td><b>-1.5</b></td>",
                            "<td>w1</td><td>leaf</td><td>-3</td><td><b>1</b></td>",
                            "<td>x2</td><td>leaf</td><td>0</td><td><b>0.5</b></td>",
                            "<td>w2</td><td>leaf</td><td>1</td><td><b>0</b></td>",
                            "<td>b</td><td>leaf</td><td>6.88137</td><td><b>0.5</b></td>",
                            "<td>n</td><td>add</td><td>0.881374</td><td><b>0.5</b></td>"}) {
      CAPTURE(row);
      CHECK(table.find(row) != std::string::npos);
    }
  }
}

TEST_CASE("html: a node reached by several paths shows the running sum, then the sum over paths (b = a·a + a)") {
  Tensor a = test::scalar(3, "a");
  Tensor b = (a * a + a).label("b");
  ChainRuleTrace trace;
  b.backward();
  HtmlOptions o;
  o.layout = HtmlOptions::Layout::Builtin;
  const nlohmann::json d = page_data(to_html(trace, o));
  std::string all;
  for (const auto& s : d["steps"]) all += s["title"].get<std::string>() + "\n" + s["html"].get<std::string>() + "\n";
  CHECK(all.find("running sum over 2 paths</td><td>= 1 + 3 = <b>4</b>") != std::string::npos);
  CHECK(all.find("running sum over 3 paths</td><td>= 1 + 3 + 3 = <b>7</b>") != std::string::npos);
  CHECK(all.find("Sum over paths at a") != std::string::npos);
  CHECK(all.find("∂b/∂a = 1 + 3 + 3 = <b>7</b>") != std::string::npos);
}

TEST_CASE("html: tensors show their shape and a few values; a small MLP's page") {
  Tensor x = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64).label("x");
  Tensor w = tensor({{0.5, -1.0, 0.25}, {2.0, 0.0, -0.5}}, kFloat64).requires_grad_().label("W");
  Tensor y = softmax(matmul(x, w), 1).label("p");
  Tensor loss = mean(square(y)).label("loss");
  ChainRuleTrace trace;
  loss.backward();
  HtmlOptions o;
  o.layout = HtmlOptions::Layout::Builtin;
  const std::string html = to_html(trace, o);
  CHECK(html.find("value [2,3] ") != std::string::npos);  // a tensor node: shape and the first values
  CHECK(html.find(">W</text>") != std::string::npos);
  const nlohmann::json d = page_data(html);
  bool found = false;
  for (const auto& n : d["nodes"])
    if (n["name"] == "W") {
      found = true;
      CHECK(n["value"] == "[[0.5, -1, 0.25], [2, 0, -0.5]]");  // the full value, for the node's detail view
      CHECK(n["kind"] == "leaf, shape [2,3]");
    }
  CHECK(found);
}

TEST_CASE("html: errors name what is wrong") {
  ChainRuleTrace empty;
  CHECK(test::message([&] { to_html(empty); }) == "to_html: the trace recorded nothing; run backward while it lives");
  Tensor a = test::scalar(2, "a");
  ChainRuleTrace trace;
  (a * a).backward();
  HtmlOptions o;
  o.pass = 2;
  CHECK(test::message([&] { to_html(trace, o); }) == "to_html: the trace has no pass 2 (it recorded 1)");
  CHECK(test::message([&] { write_html("/nonexistent-dir/p.html", trace); }) ==
        "write_html: cannot create '/nonexistent-dir/p.html': No such file or directory");
}
