#pragma once
// The course's worked examples as runnable lessons (shared/reference/neural-networks-lecture.txt). Each lesson
// computes its example with chainrule, prints the quantities in the order the text gives them, points out the
// text's slips it meets (with the corrected value and why), and returns its key numbers by name so that
// tests/test_lecture.cpp can check every one.
//   build/examples/lecture --list | lecture backprop | lecture          (all, in the order of the text)
#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace chainrule {
class ChainRuleTrace;
}

namespace chainrule::lecture {

/// A lesson's key numbers by name, e.g. "grad.W6" → 12.
using Numbers = std::map<std::string, double>;

struct Lesson {
  const char* name;                 // "backprop"
  const char* title;                // "Backpropagation example: ReLU hidden layer, squared error"
  Numbers (*run)(std::ostream& os);
};

/// Print the chain-rule trace (teach/trace.hpp) of every backward pass the lessons run (`lecture --trace`).
void set_trace(bool on);
/// `lecture --html`: each backward pass's trace goes to sink, right after backward; what sink returns is printed at
/// that point of the lesson (the page writer puts a step-through page there). An empty function turns it off.
void set_trace_sink(std::function<std::string(const ChainRuleTrace&)> sink);

/// Every lesson, in the order of the text.
const std::vector<Lesson>& lessons();
/// The lesson called name; throws std::invalid_argument listing the valid names.
const Lesson& lesson(const std::string& name);

// The lessons (also reachable through lessons()).
Numbers perceptrons(std::ostream& os);     // AND and OR with a binary step; XOR is not linearly separable
Numbers parameters(std::ostream& os);      // "Computation explosion": 784-16-16-10 has 13,002 weights and biases
Numbers identity_error(std::ostream& os);  // identity activation, target 13, errors −4 and 0
Numbers mse(std::ostream& os);             // the MSE table: total 150, mean 50
Numbers gradient_step(std::ostream& os);   // slope −24, weight' = 2 − 0.01·(−24) = 2.24
Numbers newton_step(std::ostream& os);     // C'' = 18, Newton's w − C'/C'' = 2 + 24/18 = 10/3 (the minimum)
Numbers forward_reverse(std::ostream& os); // J of (x1x2·x3, (x1x2 + x3)²): tangent table (3 passes) vs adjoints (2)
Numbers backprop(std::ostream& os);        // gradients 6, 18 (output weights) and 0, 6, 0, 12 (W3..W6)
Numbers chain_rule(std::ostream& os);      // the bunny/dog/turtle analogy; ∂C/∂w, ∂C/∂b of one sigmoid neuron
Numbers xor_network(std::ostream& os);     // the XOR network: forward pass, deltas, weight update
Numbers optimizers(std::ostream& os);      // the seven optimizers the text lists, traced step by step

}  // namespace chainrule::lecture
