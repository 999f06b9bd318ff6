#pragma once
// Teaching the chain rule: a trace of what backward did ("lecture mode") and Graphviz export of the tape.
//
//   chainrule::ChainRuleTrace trace;        // records every backward run on this thread while it lives
//   loss.backward();
//   std::cout << trace;                     // plain text; trace.markdown() for notes (LaTeX)
//   trace.entries()                         // the same, as data: one TraceEntry per node backward visited
//
//   chainrule::DotOptions o;
//   o.highlight = w;                              // the path from the loss to w drawn in red
//   chainrule::write_dot("graph.dot", loss, o);   // then: dot -Tsvg graph.dot -o graph.svg
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/tensor.hpp"

namespace chainrule {

/// How traces and graphs print tensors.
struct TraceOptions {
  std::size_t max_elements = 6;   ///< larger tensors print as a summary: shape, mean, min, max
  bool full = false;              ///< print every tensor in full, whatever its size
  int precision = 6;              ///< significant digits
  std::size_t jacobian_max = 36;  ///< show a non-elementwise op's ∂out/∂in as a Jacobian if it has ≤ this many entries
};

/// A value as the trace prints it: "0.5", "[1, 2, 3]", "[[1, 2], [3, 4]]", or for big tensors
/// "[32,784] mean 0.0123 min -1.5 max 2.25".
std::string format_value(const Tensor& t, const TraceOptions& o = {});

/// What the trace knows of ∂out/∂in for one input of a node.
enum class LocalKind {
  Elementwise,  ///< elementwise op, input of the output's shape: ∂outᵢ/∂inᵢ, in the input's shape
  Jacobian,     ///< every ∂outᵢ/∂inⱼ, shape out.shape ++ in.shape (as torch.autograd.functional.jacobian)
  None,         ///< too big to show: the contribution alone (what the op's backward computed)
};

/// One input of a traced node and what backward sent to it.
struct TraceInput {
  std::string name;             ///< the input's label, or a generated name (op_k, leaf_k, const_k)
  std::size_t node = 0;         ///< the input's number in its pass (TraceEntry::node)
  std::string op;               ///< op that made the input ("leaf" for inputs and parameters)
  Tensor value;                 ///< its value
  bool requires_grad = false;   ///< false: a constant, no gradient flows to it
  LocalKind local_kind = LocalKind::None;  ///< what local holds
  Tensor local;                 ///< ∂out/∂in (see LocalKind); undefined for None and constants
  Tensor contribution;          ///< upstream × local, summed to the input's shape: what this node sent
  Tensor accumulated;           ///< the input's gradient right after adding the contribution
  std::size_t paths_so_far = 0; ///< contributions the input had received by then (2+: a sum over paths)
};

/// One contribution that was summed into a node's gradient.
struct TracePath {
  std::string from;             ///< the consumer node that sent it
  std::size_t input = 0;        ///< as which of its inputs
  Tensor contribution;  ///< its value
};

/// One node, as backward visited it.
struct TraceEntry {
  std::size_t pass = 1;         ///< which backward run while the trace lived (1, 2, ...)
  std::size_t step = 1;         ///< 1, 2, ... in backward's visiting order; step 1 is the root
  /// The label or a generated name; the op that made the node ("leaf" for inputs).
  ///@{
  std::string name, op;
  ///@}
  std::size_t node = 0;         ///< 0, 1, ...: tells nodes of one pass apart, even when their labels repeat
  Tensor value;                 ///< the node's value
  Tensor grad;                  ///< ∂root/∂node, complete when backward reached it (the seed for the root);
                                /// undefined if no gradient reached the node
  std::vector<TracePath> paths; ///< the contributions summed into grad (empty for the root)
  std::vector<TraceInput> inputs;  ///< empty for leaves
  /// True for inputs and parameters.
  bool is_leaf() const { return inputs.empty(); }
  /// The node is reached from 2+ consumers (or twice from one, as a in a·a): its gradient is a sum over paths.
  bool summed() const { return paths.size() > 1; }
};

/// RAII: records each backward run on this thread while it lives (guards nest: the innermost records).
/// Values are copied as backward sees them, so the trace stays valid after the graph is freed.
class ChainRuleTrace {
 public:
  /// Starts recording; o sets how values print.
  explicit ChainRuleTrace(TraceOptions o = {});
  ~ChainRuleTrace();
  ChainRuleTrace(const ChainRuleTrace&) = delete;
  ChainRuleTrace& operator=(const ChainRuleTrace&) = delete;

  /// Every node of every recorded backward, in visiting order.
  const std::vector<TraceEntry>& entries() const;
  /// The last recorded entry named `name`; throws std::out_of_range listing the names if there is none.
  const TraceEntry& entry(const std::string& name) const;
  /// Plain text, one block per node (also what operator<< prints).
  std::string str() const;
  /// Markdown with LaTeX (∂ as `\partial`), for notes.
  std::string markdown() const;
  /// How values and gradients print.
  const TraceOptions& options() const { return options_; }
  /// Forgets what was recorded.
  void clear();

  class Recorder;  ///< the engine observer (teach/trace.cpp)
 private:
  TraceOptions options_;
  std::unique_ptr<Recorder> recorder_;
};
/// Prints str().
std::ostream& operator<<(std::ostream& os, const ChainRuleTrace& t);

// ---- Graphviz --------------------------------------------------------------------------------------------------

/// How write_dot draws the graph.
struct DotOptions {
  Tensor highlight;             ///< if defined: highlight the path(s) from the root to this tensor (a parameter)
  TraceOptions format;          ///< how values and gradients print
  std::string rankdir = "LR";   ///< Graphviz layout direction: LR (inputs left), TB, BT, RL
};

/// The recorded tape below root as a Graphviz digraph: one node per tensor (op, label, shape unless a scalar,
/// value, and the gradient when it exists: leaves after backward, non-leaves with retain_grad), edges from inputs
/// to the op that used them, labelled with the local derivative ∂out/∂in where the trace would show one.
/// The tape is freed by backward(): export before it, or after backward(retain_graph).
std::string to_dot(const Tensor& root, const DotOptions& o = {});
/// Writes to_dot(root, o) to path (through a temporary file renamed into place); throws naming the path.
void write_dot(const std::string& path, const Tensor& root, const DotOptions& o = {});

namespace detail {
/// Writes text to path atomically (a temporary renamed into place), refusing FIFOs, devices and directories;
/// errors read "<who>cannot create '<path>': <reason>". Shared by write_dot and write_html.
void write_text_file(const char* who, const std::string& path, const std::string& text);
}  // namespace detail

}  // namespace chainrule
