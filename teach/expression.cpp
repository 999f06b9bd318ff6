// The expression calculator's parser (recursive descent, one function per grammar rule) and its evaluation on
// the tape.
#include "expression.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "../autograd/ops.hpp"

namespace chainrule {

ExpressionError::ExpressionError(const std::string& message, const std::string& text, std::size_t column)
    : std::invalid_argument("column " + std::to_string(column) + ": " + message + "\n  " + text + "\n  " +
                            std::string(column - 1, ' ') + "^"),
      message_(message), column_(column) {}

struct Expression::Node {
  enum Kind { Number, Variable, Negate, Binary, Call } kind;
  std::string name;                  // variable or function name; the operator for Binary ("+", "^", ...)
  double number = 0;
  std::vector<std::size_t> args;     // indices into nodes_
  std::size_t begin = 0, end = 0;    // source span [begin, end), 0-based
};

namespace {
struct Builtin {
  const char* name;
  std::size_t arity;
  Tensor (*unary)(const Tensor&);
  Tensor (*binary)(const Tensor&, const Tensor&);
};
Tensor call_exp(const Tensor& x) { return exp(x); }
Tensor call_log(const Tensor& x) { return log(x); }
Tensor call_sqrt(const Tensor& x) { return sqrt(x); }
Tensor call_abs(const Tensor& x) { return abs(x); }
Tensor call_sin(const Tensor& x) { return sin(x); }
Tensor call_cos(const Tensor& x) { return cos(x); }
Tensor call_tanh(const Tensor& x) { return tanh(x); }
Tensor call_sigmoid(const Tensor& x) { return sigmoid(x); }
Tensor call_relu(const Tensor& x) { return relu(x); }
Tensor call_gaussian(const Tensor& x) { return gaussian(x); }
Tensor call_step(const Tensor& x) { return step(x); }
// Composites: their derivatives come from the ops they are made of.
// tan x = sin x / cos x                        ∂ = 1/cos² x = 1 + tan² x
Tensor call_tan(const Tensor& x) { return sin(x) / cos(x); }
// softplus x = max(x, 0) + log(1 + e^(−|x|))   ∂ = σ(x): ½ + 0 at the tie x = 0 (maximum's ½, sign(0) = 0), as σ(0)
// NOTE: never overflows; for x ≪ 0 the result's absolute error stays below 1.2e-16 (log(1 + tiny) rounds).
Tensor call_softplus(const Tensor& x) { return maximum(x, zeros_like(x)) + log(1.0 + exp(-abs(x))); }
Tensor call_max(const Tensor& a, const Tensor& b) { return maximum(a, b); }
Tensor call_pow(const Tensor& a, const Tensor& b) { return pow(a, b); }
Tensor call_min(const Tensor& a, const Tensor& b) { return minimum(a, b); }
const Builtin kFunctions[] = {
    {"exp", 1, call_exp, nullptr},   {"log", 1, call_log, nullptr},     {"sqrt", 1, call_sqrt, nullptr},
    {"abs", 1, call_abs, nullptr},   {"sin", 1, call_sin, nullptr},     {"cos", 1, call_cos, nullptr},
    {"tanh", 1, call_tanh, nullptr}, {"sigmoid", 1, call_sigmoid, nullptr}, {"relu", 1, call_relu, nullptr},
    {"gaussian", 1, call_gaussian, nullptr}, {"step", 1, call_step, nullptr},
    {"tan", 1, call_tan, nullptr},   {"softplus", 1, call_softplus, nullptr},
    {"max", 2, nullptr, call_max},   {"min", 2, nullptr, call_min},     {"pow", 2, nullptr, call_pow},
};
// Named constants, as in Python's math module.
const std::pair<const char*, double> kConstants[] = {{"pi", 3.14159265358979323846}, {"e", 2.71828182845904523536}};
const Builtin* find_function(const std::string& name) {
  for (const Builtin& f : kFunctions)
    if (name == f.name) return &f;
  return nullptr;
}

class Parser {
 public:
  Parser(const std::string& text, std::vector<Expression::Node>& nodes, std::vector<std::string>& vars)
      : s_(text), nodes_(nodes), vars_(vars) {}

  void parse() {
    expr();
    skip();
    if (pos_ < s_.size()) {
      if (s_[pos_] == ')') fail("unexpected ')' with no '(' to close", pos_);
      fail("unexpected " + token() + " after a complete expression (missing operator?)", pos_);
    }
  }

 private:
  using Node = Expression::Node;

  [[noreturn]] void fail(const std::string& what, std::size_t at) const { throw ExpressionError(what, s_, at + 1); }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) return ++pos_, true;
    return false;
  }
  bool accept_power() {  // '^', or '**' as in Python
    skip();
    if (s_.compare(pos_, 2, "**") == 0) return pos_ += 2, true;
    return accept('^');
  }
  std::string token() const {
    if (pos_ >= s_.size()) return "end of expression";
    return "'" + std::string(1, s_[pos_]) + "'";
  }
  std::size_t add(Node n) {
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
  }
  std::size_t binary(const std::string& op, std::size_t a, std::size_t b) {
    return add({Node::Binary, op, 0, {a, b}, nodes_[a].begin, nodes_[b].end});
  }

  // expr := term (('+' | '-') term)*
  std::size_t expr() {
    std::size_t a = term();
    for (;;) {
      if (accept('+')) a = binary("+", a, term());
      else if (accept('-')) a = binary("-", a, term());
      else return a;
    }
  }
  // term := unary (('*' | '/') unary)*
  std::size_t term() {
    std::size_t a = unary();
    for (;;) {
      if (accept('*')) a = binary("*", a, unary());
      else if (accept('/')) a = binary("/", a, unary());
      else return a;
    }
  }
  // unary := ('-' | '+') unary | power
  std::size_t unary() {
    skip();
    const std::size_t at = pos_;
    if (accept('-')) {
      std::size_t x = unary();
      return add({Node::Negate, "-", 0, {x}, at, nodes_[x].end});
    }
    if (accept('+')) return unary();
    return power();
  }
  // power := primary (('^' | '**') unary)?     the exponent is a unary, so a^b^c = a^(b^c) and 2^-1 parse
  std::size_t power() {
    std::size_t base = primary();
    if (accept_power()) return binary("^", base, unary());
    return base;
  }
  // primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
  std::size_t primary() {
    skip();
    const std::size_t at = pos_;
    if (pos_ >= s_.size()) fail("unexpected end of expression: expected a number, a name or '('", pos_);
    const char c = s_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      std::string name = s_.substr(at, pos_ - at);
      skip();
      if (pos_ < s_.size() && s_[pos_] == '(') return call(name, at);
      for (const auto& [constant, value] : kConstants)
        if (name == constant) return add({Node::Number, name, value, {}, at, at + name.size()});
      bool known = false;
      for (const auto& v : vars_) known = known || v == name;
      if (!known) vars_.push_back(name);
      return add({Node::Variable, name, 0, {}, at, at + name.size()});
    }
    if (accept('(')) {
      std::size_t x = expr();
      if (!accept(')')) missing_paren(at);
      nodes_[x].begin = at;  // the span of a parenthesised expression includes its parentheses
      nodes_[x].end = pos_;
      return x;
    }
    fail("unexpected " + token() + ": expected a number, a name or '('", pos_);
  }
  [[noreturn]] void missing_paren(std::size_t open) {
    skip();
    if (pos_ < s_.size())
      fail("expected ')' to close the '(' at column " + std::to_string(open + 1) + ", found " + token(), pos_);
    fail("missing ')' to close the '(' at column " + std::to_string(open + 1), pos_);
  }
  std::size_t number() {
    const std::size_t at = pos_;
    auto digits = [&] {
      std::size_t n = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_, ++n;
      return n;
    };
    std::size_t n = digits();
    if (pos_ < s_.size() && s_[pos_] == '.') ++pos_, n += digits();
    if (n == 0) fail("malformed number: '.' needs digits", at);
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) fail("malformed number: the exponent needs digits", at);
    }
    const std::string text = s_.substr(at, pos_ - at);
    return add({Node::Number, text, std::strtod(text.c_str(), nullptr), {}, at, pos_});
  }
  std::size_t call(const std::string& name, std::size_t at) {
    const Builtin* f = find_function(name);
    if (!f) {
      std::string known;
      for (const Builtin& k : kFunctions) known += (known.empty() ? "" : " ") + std::string(k.name);
      fail("unknown function '" + name + "' (functions: " + known + ")", at);
    }
    accept('(');
    const std::size_t open = pos_ - 1;
    std::vector<std::size_t> args{expr()};
    while (accept(',')) args.push_back(expr());
    if (!accept(')')) missing_paren(open);
    if (args.size() != f->arity)
      fail("'" + name + "' takes " + std::to_string(f->arity) + " argument" + (f->arity == 1 ? "" : "s") + ", got " +
               std::to_string(args.size()),
           at);
    return add({Node::Call, name, 0, std::move(args), at, pos_});
  }

  const std::string& s_;
  std::vector<Node>& nodes_;
  std::vector<std::string>& vars_;
  std::size_t pos_ = 0;
};
}  // namespace

Expression::Expression(const std::string& text) : text_(text) {
  Parser(text_, nodes_, variables_).parse();
}
Expression::~Expression() = default;
Expression::Expression(const Expression&) = default;
Expression& Expression::operator=(const Expression&) = default;
const std::string& Expression::text() const { return text_; }
const std::vector<std::string>& Expression::variables() const { return variables_; }
Expression parse_expression(const std::string& text) { return Expression(text); }

Tensor Expression::operator()(const std::map<std::string, Tensor>& variables) const {
  // Children come before their parents in nodes_, so one forward pass over it evaluates everything.
  std::vector<Tensor> v(nodes_.size());
  Dtype dtype = kFloat64;
  if (!variables.empty()) dtype = variables.begin()->second.dtype();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    auto arg = [&](std::size_t k) -> const Tensor& { return v[n.args[k]]; };
    switch (n.kind) {
      case Node::Number: v[i] = tensor(n.number, dtype); break;
      case Node::Variable: {
        auto it = variables.find(n.name);
        if (it == variables.end()) throw ExpressionError("unbound variable '" + n.name + "'", text_, n.begin + 1);
        v[i] = it->second;
        continue;  // keep the variable's own label
      }
      case Node::Negate: v[i] = -arg(0); break;
      case Node::Binary:
        switch (n.name[0]) {
          case '+': v[i] = arg(0) + arg(1); break;
          case '-': v[i] = arg(0) - arg(1); break;
          case '*': v[i] = arg(0) * arg(1); break;
          case '/': v[i] = arg(0) / arg(1); break;
          default:  // '^': a literal exponent makes the one-input pow, x^p
            v[i] = nodes_[n.args[1]].kind == Node::Number ? pow(arg(0), nodes_[n.args[1]].number) : pow(arg(0), arg(1));
        }
        break;
      case Node::Call: {
        const Builtin* f = find_function(n.name);
        v[i] = f->arity == 1 ? f->unary(arg(0)) : f->binary(arg(0), arg(1));
        break;
      }
    }
    std::string label = text_.substr(n.begin, n.end - n.begin);
    v[i].label(label);
  }
  return v.back();
}

ExpressionResult evaluate(const Expression& e, const std::map<std::string, double>& values) {
  for (const auto& [name, value] : values) {
    bool used = false;
    for (const auto& v : e.variables()) used = used || v == name;
    if (!used) {
      std::string vars;
      for (const auto& v : e.variables()) vars += (vars.empty() ? "" : ", ") + v;
      throw std::invalid_argument("evaluate: '" + name + "' is not a variable of \"" + e.text() +
                                  "\" (its variables: " + (vars.empty() ? "none" : vars) + ")");
    }
  }
  ExpressionResult r;
  r.variables = e.variables();
  std::map<std::string, Tensor> leaves;
  for (const auto& [name, value] : values) leaves[name] = tensor(value, kFloat64).requires_grad_().label(name);
  r.value = e(leaves);
  if (!r.value.requires_grad()) {  // no variables: a constant has no gradient
    return r;
  }
  // Keep the whole graph and every node's gradient, so that the caller can still export it (to_dot).
  std::vector<detail::Node*> stack{&r.value.node()};
  while (!stack.empty()) {
    detail::Node* n = stack.back();
    stack.pop_back();
    if (n->retains_grad) continue;
    n->retains_grad = true;
    for (const auto& in : n->inputs) stack.push_back(in.get());
  }
  r.value.backward(retain_graph);
  for (const auto& [name, leaf] : leaves) r.grad[name] = leaf.grad().defined() ? leaf.grad() : zeros_like(leaf);
  return r;
}

}  // namespace chainrule
