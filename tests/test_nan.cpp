// NaN, ±inf and ±0 through every op of the op table, value and gradient of sum(y), float64 and float32, against
// torch 1.13 (reference/nan_table.json, from reference/generate_nan_table.py). A NaN must stay a NaN wherever torch
// keeps it; an infinity and the sign of an exact zero must be torch's; other values agree to a few ulps (libm vs
// torch's vectorized exp, sin, ...). 52 ops × 178 cases, 4,966 numbers over the two dtypes.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include <chainrule/autograd.hpp>

using namespace chainrule;

namespace {

using nan_json = nlohmann::json;

// The op table's functions, by the generator's names (its torch expressions are the same maths).
const std::map<std::string, Function>& nan_ops() {
  static const std::map<std::string, Function> ops = {
      {"neg", [](auto& x) { return neg(x[0]); }},
      {"pow_scalar", [](auto& x) { return pow(x[0], 2.5); }},
      {"exp", [](auto& x) { return exp(x[0]); }},
      {"log", [](auto& x) { return log(x[0]); }},
      {"sqrt", [](auto& x) { return sqrt(x[0]); }},
      {"abs", [](auto& x) { return abs(x[0]); }},
      {"square", [](auto& x) { return square(x[0]); }},
      {"sin", [](auto& x) { return sin(x[0]); }},
      {"cos", [](auto& x) { return cos(x[0]); }},
      {"clamp", [](auto& x) { return clamp(x[0], -1.1, 0.9); }},
      {"linear", [](auto& x) { return linear(x[0], 0.7, -0.3); }},
      {"piecewise_linear", [](auto& x) { return piecewise_linear(x[0], -1.5, 1.7); }},
      {"sigmoid", [](auto& x) { return sigmoid(x[0]); }},
      {"gaussian", [](auto& x) { return gaussian(x[0]); }},
      {"tanh", [](auto& x) { return tanh(x[0]); }},
      {"relu", [](auto& x) { return relu(x[0]); }},
      {"leaky_relu", [](auto& x) { return leaky_relu(x[0], 0.1); }},
      {"step", [](auto& x) { return step(x[0]); }},
      {"add", [](auto& x) { return add(x[0], x[1]); }},
      {"sub", [](auto& x) { return sub(x[0], x[1]); }},
      {"mul", [](auto& x) { return mul(x[0], x[1]); }},
      {"div", [](auto& x) { return div(x[0], x[1]); }},
      {"pow", [](auto& x) { return pow(x[0], x[1]); }},
      {"maximum", [](auto& x) { return maximum(x[0], x[1]); }},
      {"minimum", [](auto& x) { return minimum(x[0], x[1]); }},
      {"gt", [](auto& x) { return gt(x[0], x[1]); }},
      {"lt", [](auto& x) { return lt(x[0], x[1]); }},
      {"ge", [](auto& x) { return ge(x[0], x[1]); }},
      {"le", [](auto& x) { return le(x[0], x[1]); }},
      {"eq", [](auto& x) { return eq(x[0], x[1]); }},
      {"ne", [](auto& x) { return ne(x[0], x[1]); }},
      {"where", [](auto& x) { return where(gt(x[0], scalar_like(x[0], 0)), x[1], x[2]); }},
      {"sum", [](auto& x) { return sum(x[0]); }},
      {"mean", [](auto& x) { return mean(x[0]); }},
      {"max", [](auto& x) { return max(x[0]); }},
      {"softmax", [](auto& x) { return softmax(x[0]); }},
      {"log_softmax", [](auto& x) { return log_softmax(x[0]); }},
      {"sum_axes", [](auto& x) { return sum(x[0], {0, -1}); }},
      {"sum_keepdims", [](auto& x) { return sum(x[0], {-1}, true); }},
      {"mean_axes", [](auto& x) { return mean(x[0], {1}, true); }},
      {"max_axes", [](auto& x) { return max(x[0], {-1}); }},
      {"max_axis0", [](auto& x) { return max(x[0], {0}); }},
      {"softmax_axis0", [](auto& x) { return softmax(x[0], 0); }},
      {"log_softmax_axis0", [](auto& x) { return log_softmax(x[0], 0); }},
      {"reshape", [](auto& x) { return reshape(x[0], {-1, 2}) * 1.5; }},
      {"transpose", [](auto& x) { return transpose(x[0]); }},
      {"permute", [](auto& x) { return permute(reshape(x[0], {2, 3, 2}), {2, 0, 1}); }},
      {"broadcast_to", [](auto& x) { return broadcast_to(x[0], {3, 7}); }},
      {"concat", [](auto& x) { return concat({x[0], x[1], x[0]}, 0); }},
      {"gather", [](auto& x) { return gather(x[0], {1, 0, 2, 1, 0, 2, 1, 0}); }},
      {"matmul", [](auto& x) { return matmul(x[0], x[1]); }},
      {"affine", [](auto& x) { return affine(x[0], x[1], x[2]); }},
  };
  return ops;
}

Shape nan_shape_of(const nan_json& t) { return t["shape"].get<Shape>(); }

std::vector<double> nan_numbers(const nan_json& t) {
  std::vector<double> v;
  for (const auto& s : t["data"]) v.push_back(std::strtod(s.get<std::string>().c_str(), nullptr));
  return v;
}

/// torch's number and ours agree: both NaN; or both the same infinity; or both zero with the same sign; or else
/// within rel·max(1, |want|): the gradients here are of order 1 (upstream gradient 1), and a mathematical zero
/// such as softmax's gradient on a uniform row is rounding noise of either sign (5.6e-17 in torch, 0 here).
/// With signed_zero false the sign of a zero is not compared: softmax's gradient y·(g − Σg·y) at y = 0 is 0 times
/// rounding noise, +0 or −0 by chance.
bool nan_same(double want, double got, double rel, bool signed_zero = true) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return want == got;
  if (want == 0 && got == 0) return !signed_zero || std::signbit(want) == std::signbit(got);
  return std::abs(got - want) <= rel * std::max(1.0, std::abs(want));
}

std::string nan_show(const std::vector<double>& v) {
  std::ostringstream s;
  for (double x : v) s << x << ' ';
  return s.str();
}

/// Runs one case; returns a description of each disagreement ("" when none).
std::string nan_run_case(const std::string& op, const nan_json& c, Dtype dtype, double rel) {
  std::vector<Tensor> in;
  for (std::size_t i = 0; i < c["inputs"].size(); ++i) {
    Tensor t = from_vector(nan_numbers(c["inputs"][i]), nan_shape_of(c["inputs"][i]), dtype);
    if (!c["grads"][i].is_null()) t.requires_grad_();
    in.push_back(t);
  }
  Tensor y = nan_ops().at(op)(in);
  std::string out;
  auto compare = [&](const std::string& what, const nan_json& want_j, const Tensor& got_t, bool signed_zero) {
    const std::vector<double> want = nan_numbers(want_j), got = test::values(got_t);
    bool ok = got_t.shape() == nan_shape_of(want_j) && want.size() == got.size();
    for (std::size_t k = 0; ok && k < want.size(); ++k) ok = nan_same(want[k], got[k], rel, signed_zero);
    if (!ok) out += op + " " + what + ": torch " + nan_show(want) + "| chainrule " + nan_show(got) + "\n";
  };
  compare("value", c["value"], y, true);
  if (y.requires_grad()) sum(y).backward();
  const bool line_sum_gradient = op.find("softmax") != std::string::npos;
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!c["grads"][i].is_null())
      compare("grad #" + std::to_string(i), c["grads"][i],
              in[i].grad().defined() ? in[i].grad() : zeros(in[i].shape(), dtype), !line_sum_gradient);
  return out;
}

}  // namespace

TEST_CASE("nan: every op keeps torch's NaN, infinities and signed zeros, value and gradient (float64, float32)") {
  std::ifstream file(CHAINRULE_TEST_DATA "/nan_table.json");
  REQUIRE(file.good());
  const nan_json ref = nan_json::parse(file);
  std::size_t ops = 0, cases = 0, numbers_checked = 0;
  for (const auto& [name, dtype, rel] : {std::tuple{"float64", kFloat64, 1e-12}, {"float32", kFloat32, 1e-6}}) {
    for (const auto& [op, op_cases] : ref[name].items()) {
      REQUIRE_MESSAGE(nan_ops().count(op), "no function for op ", op);
      ++ops;
      for (const auto& c : op_cases) {
        ++cases;
        numbers_checked += c["value"]["data"].size();
        for (const auto& g : c["grads"])
          if (!g.is_null()) numbers_checked += g["data"].size();
        const std::string diff = nan_run_case(op, c, dtype, rel);
        INFO(name, ": ", diff);
        CHECK(diff.empty());
      }
    }
  }
  // Every row of the op table is here (the op table's 45 rows plus step, comparisons and axis-0 variants).
  CHECK(ops == 2 * nan_ops().size());
  MESSAGE("nan table: ", ops / 2, " ops, ", cases, " cases, ", numbers_checked, " numbers checked");
}
