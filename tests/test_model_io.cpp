// Model files: a file saved by an earlier version still loads and resumes exactly; state dicts; PyTorch weights.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/autograd.hpp"
#include "nn/nn.hpp"
#include "optim/optim.hpp"
#include "tests/helpers.hpp"

using namespace chainrule;

namespace {
std::vector<double> flat_values(const Tensor& t) {
  std::vector<double> v;
  const Tensor d = t.to(kFloat64);
  for (double x : d.data<double>()) v.push_back(x);
  return v;
}
}  // namespace

// tests/reference/model_v1.safetensors was saved by the code of commit 89a565e (tests/reference/make_model_v1.cpp):
// Dense(3,4,tanh) → BatchNorm1d(4) → Dense(4,2,softmax), AMSGrad Adam with weight decay, an L2 penalty, after
// three epochs. Its predictions, and those after one more epoch (which needs the optimizer state), are in
// model_v1.json, bit for bit.
TEST_CASE("model io: a file of format_version 1 saved by the old code loads and resumes bit for bit") {
  std::ifstream in(CHAINRULE_TEST_DATA "/model_v1.json");
  REQUIRE(in);
  const auto j = nlohmann::json::parse(in);
  const auto xs = j["x"].get<std::vector<double>>(), ys = j["y"].get<std::vector<double>>();
  const Tensor x = from_vector(xs, {6, 3}), y = from_vector(ys, {6});
  nn::Model m = nn::Model::load(CHAINRULE_TEST_DATA "/model_v1.safetensors");
  CHECK(m.net().size() == 3);
  CHECK(m.net()[1]->name() == "BatchNorm1d");
  CHECK(m.optimizer().name() == std::string("Adam"));
  CHECK(m.optimizer().lr() == 0.05);
  CHECK(flat_values(m.predict(x)) == j["predict"].get<std::vector<double>>());
  nn::FitOptions fo;
  fo.initial_epoch = 3, fo.epochs = 4, fo.batch_size = 4, fo.shuffle = false, fo.verbose = 0;
  m.fit(x, y, fo);
  CHECK(flat_values(m.predict(x)) == j["predict_after_one_more_epoch"].get<std::vector<double>>());
}
