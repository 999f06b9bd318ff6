#pragma once
// A small expression language on top of the engine, for the `chainrule grad` calculator and for lessons:
//
//   Expression e = parse_expression("tanh(w1*x1 + w2*x2 + b)");
//   ExpressionResult r = evaluate(e, {{"x1", 2}, {"x2", 0}, {"w1", -3}, {"w2", 1}, {"b", 6.8813735870195432}});
//   r.value.item();          // 0.7071...
//   r.grad.at("w1").item();  // 1.0  (∂value/∂w1)
//
// Grammar, loosest binding first:
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary)*
//   unary   := ('-' | '+') unary | power
//   power   := primary (('^' | '**') unary)?              right-associative, above unary minus: -x^2 = -(x^2)
//   primary := number | constant | name | name '(' expr (',' expr)* ')' | '(' expr ')'
// Numbers are decimal or scientific (2, 0.5, .5, 1e-3); the constants are pi and e (so neither is a variable).
// Functions: exp log sqrt abs sin cos tan tanh sigmoid relu softplus gaussian step (one argument) and max min pow
// (two). tan = sin/cos and softplus = max(x, 0) + log(1 + e^(−|x|)) are composites of the engine's ops.
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../autograd/tensor.hpp"

namespace chainrule {

/// A parse or binding error. what() holds the message, the expression and a caret under the column.
class ExpressionError : public std::invalid_argument {
 public:
  /// message, at 0-based column of text.
  ExpressionError(const std::string& message, const std::string& text, std::size_t column);
  /// 1-based column the error points at.
  std::size_t column() const { return column_; }
  /// The message alone, without the caret lines.
  const std::string& message() const { return message_; }
 private:
  std::string message_;
  std::size_t column_;
};

/// An expression of the `chainrule grad` calculator, parsed once; evaluated on Tensors with the variables bound.
class Expression {
 public:
  /// Parses text; throws ExpressionError.
  explicit Expression(const std::string& text);
  ~Expression();
  /// A copy (the parsed tree is shared).
  Expression(const Expression&);
  /// Copies other's expression.
  Expression& operator=(const Expression&);

  /// The text as given.
  const std::string& text() const;
  /// The variables, in order of first appearance.
  const std::vector<std::string>& variables() const;
  /// Records the expression on the tape with the given variables (one tensor each; they broadcast as the ops do).
  /// Every op node is labelled with its source text ("w1*x1"), constants with theirs. Throws ExpressionError,
  /// pointing at the first use, when a variable is unbound.
  Tensor operator()(const std::map<std::string, Tensor>& variables) const;

  struct Node;  ///< the syntax tree (teach/expression.cpp)
 private:
  std::string text_;
  std::vector<std::string> variables_;
  std::vector<Node> nodes_;  ///< the root is the last
};

/// Parses text (same as the Expression constructor).
Expression parse_expression(const std::string& text);

/// An evaluated expression: its value and ∂value/∂variable for every variable, float64 scalars.
struct ExpressionResult {
  Tensor value;                          ///< the root of the graph, kept (retain_graph; op nodes retain_grad) so
                                         /// that it can be exported with to_dot after the fact
  std::map<std::string, Tensor> grad;    ///< by variable name
  std::vector<std::string> variables;    ///< names in order of first appearance in the expression
};

/// Evaluates in float64 and runs backward. Every variable of the expression must be bound (ExpressionError
/// otherwise); a binding that is not a variable of the expression throws std::invalid_argument.
ExpressionResult evaluate(const Expression& e, const std::map<std::string, double>& values);

}  // namespace chainrule
