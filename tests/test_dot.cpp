// Graphviz export of the tape (teach/trace.hpp: to_dot, write_dot).
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "teach_helpers.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

using namespace chainrule;
using test::count;
using test::flat;
using test::Neuron;
using test::scalar;
using test::shell;

// ---- Graphviz --------------------------------------------------------------------------------------------------

TEST_CASE("dot: the tape as a digraph, edges labelled with their local derivative, one path highlighted") {
  Neuron m;
  DotOptions o;
  o.highlight = m.w1;
  const std::string dot = to_dot(m.o, o);
  CHECK(dot.rfind("digraph chainrule {\n  rankdir=LR;\n", 0) == 0);
  CHECK(count(dot, "[label=\"{") == 10);
  CHECK(count(dot, " -> ") == 9);
  CHECK(count(dot, "color=red, penwidth=2]") == 9);  // w1 → x1w1 → x1w1x2w2 → n → o: 4 edges, 5 nodes
  CHECK(dot.find("[label=\"{o | tanh | value 0.707107}\", color=red, penwidth=2];") != std::string::npos);
  CHECK(dot.find("{w1 | leaf | value -3}\", fillcolor=lightblue") != std::string::npos);  // scalars: no []
  // ∂(x1·w1)/∂x1 = w1 = -3 and ∂(x1·w1)/∂w1 = x1 = 2; ∂o/∂n = 1 − tanh²(n) = 0.5; the sums pass 1 on
  for (const char* edge : {" [label=\"-3\"];", " [label=\"2\", color=red, penwidth=2];", " [label=\"0\"];",
                           " [label=\"1\", color=red, penwidth=2];", " [label=\"0.5\", color=red, penwidth=2];"}) {
    CAPTURE(edge);
    CHECK(count(dot, edge) >= 1);
  }
  CHECK(count(dot, " [label=\"1\"") == 5);  // the two sums' four edges, and ∂(x2·w2)/∂x2 = w2 = 1
  CHECK(dot.find("grad") == std::string::npos);  // before backward: no gradients yet

  m.o.backward(retain_graph);
  const std::string after = to_dot(m.o);
  CHECK(after.find("{w1 | leaf | value -3 | grad 1}") != std::string::npos);
  CHECK(count(after, "color=red") == 0);

  Tensor other = scalar(1, "q");
  o.highlight = other;
  CHECK(test::message([&] { to_dot(m.o, o); }) == "to_dot: the tensor to highlight 'q' is not in the graph of 'o'");
  m.o.backward();  // frees the graph
  CHECK(test::message([&] { to_dot(m.o); }).rfind("to_dot: the graph through 'tanh' was freed by backward()", 0) == 0);
}

TEST_CASE("dot: write_dot writes a file Graphviz parses (when dot is installed)") {
  Tensor a = scalar(3, "a");
  Tensor b = (a * a + a + 2.0).label("b");
  const std::string path = "test_teach_graph.dot";
  write_dot(path, b);
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  CHECK(text.str() == to_dot(b));
  CHECK(count(text.str(), "{const_1 | constant | value 2}") == 1);
  CHECK(count(text.str(), "n1 [label=\"3\"];") == 2);  // a·a: ∂(a·a)/∂a = a along each of the two edges
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    MESSAGE("graphviz is not installed (apt-get install graphviz): skipping the dot -Tsvg check");
  } else {
    auto [status, out] = shell("dot -Tsvg " + path + " 2>&1");
    CHECK(status == 0);
    CHECK(out.find("<svg") != std::string::npos);
  }
  std::remove(path.c_str());
  CHECK(test::message([&] { write_dot("/nonexistent-dir/g.dot", b); }) ==
        "write_dot: cannot create '/nonexistent-dir/g.dot': No such file or directory");
}
