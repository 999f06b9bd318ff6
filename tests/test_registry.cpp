// The registries: every built-in layer and optimizer rebuilds from its config; a user's own layer, loss and
// optimizer are first class (save, load, compile by name); names go through one lookup with one error.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>
#include "helpers.hpp"
#include <chainrule/util/names.hpp>

using namespace chainrule;
using test::message;

namespace {

// y = (x·W + b) ⊙ σ(x·V + c): a gated linear unit of the test's own.
class GatedUnit : public nn::Module {
 public:
  GatedUnit(std::size_t in, std::size_t out, Dtype dtype) : in_(in), out_(out) {
    nn::Linear::Options o;
    o.dtype = dtype;
    lin_ = register_module("linear", std::make_shared<nn::Linear>(in, out, o));
    gate_ = register_module("gate", std::make_shared<nn::Linear>(in, out, o));
  }
  Tensor forward(const Tensor& x) override { return lin_->forward(x) * sigmoid(gate_->forward(x)); }
  std::string name() const override { return "GatedUnit"; }
  Config config() const override { return Config().set("in", std::uint64_t{in_}).set("out", std::uint64_t{out_}); }
  static std::shared_ptr<GatedUnit> from_config(const Config& c, Dtype dtype) {
    return std::make_shared<GatedUnit>(c.count("in"), c.count("out"), dtype);
  }

 private:
  std::size_t in_, out_;
  std::shared_ptr<nn::Linear> lin_, gate_;
};

class Unregistered : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string name() const override { return "Unregistered"; }
};

std::string config_text(const Config& c) {
  std::string s;
  for (const auto& [k, v] : c.items())
    s += k + "=" + std::visit([](const auto& x) {
           if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) return x;
           else return std::to_string(x);
         }, v) + ";";
  return s;
}

}  // namespace

TEST_CASE("registry: every built-in layer rebuilds from its config") {
  nn::BatchNorm1d::Options bo;
  bo.eps = 1e-3, bo.momentum = 0.25, bo.affine = false;
  nn::Linear::Options lo;
  lo.bias = false;
  const std::vector<std::shared_ptr<nn::Module>> layers = {
      std::make_shared<nn::Linear>(3, 5, lo), nn::make_dense(4, 2, "tanh"), std::make_shared<nn::BatchNorm1d>(6, bo),
      std::make_shared<nn::Dropout>(0.25), std::make_shared<nn::LeakyReLU>(0.2),
      std::make_shared<nn::PiecewiseLinear>(-2, 3), std::make_shared<nn::LinearActivation>(2, -1),
      std::make_shared<nn::Sigmoid>(), std::make_shared<nn::Tanh>(), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Softmax>(), std::make_shared<nn::LogSoftmax>(), std::make_shared<nn::Step>(),
      std::make_shared<nn::Gaussian>()};
  for (const auto& l : layers) {
    CAPTURE(l->name());
    REQUIRE(nn::is_registered_layer(l->name()));
    auto again = nn::layer_from_config(l->name(), l->config(), kFloat64);
    CHECK(again->name() == l->name());
    CHECK(config_text(again->config()) == config_text(l->config()));
    CHECK(again->parameter_count() == l->parameter_count());
  }
  CHECK(config_text(layers[1]->config()) == "in=4;out=2;bias=1;activation=tanh;");
  CHECK(message([] { nn::layer_from_config("Conv9d", {}, kFloat32); }).rfind(
            "unknown layer type 'Conv9d'; valid names: linear, dense, batchnorm1d, dropout,", 0) == 0);
  CHECK(message([] { nn::layer_from_config("Dense", Config().set("in", std::uint64_t{2}), kFloat32); }) ==
        "missing boolean 'bias'");
}

TEST_CASE("registry: every optimizer rebuilds from its config, bit for bit") {
  for (const char* name : {"sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"}) {
    CAPTURE(name);
    Tensor w = tensor({1.0, -2.0}, kFloat64).requires_grad_(true);
    auto opt = optim::make_optimizer(name, {w}, 0.125);
    auto again = optim::optimizer_from_config(opt->name(), {w}, opt->config());
    CHECK(std::string(again->name()) == opt->name());
    CHECK(config_text(again->config()) == config_text(opt->config()));
    CHECK(again->lr() == 0.125);
  }
  Tensor w = tensor({1.0}, kFloat64).requires_grad_(true);
  CHECK(config_text(optim::make_optimizer("nag", {w})->config()) ==
        "lr=" + std::to_string(0.01) + ";momentum=" + std::to_string(0.9) + ";dampening=" + std::to_string(0.0) +
            ";nesterov=1;weight_decay=" + std::to_string(0.0) + ";");
  CHECK(message([&] { optim::make_optimizer("lion", {w}); }) ==
        "make_optimizer: unknown optimizer 'lion'; valid names: sgd, momentum, nag, nesterov, adagrad, adadelta, "
        "rmsprop, adam");
}

TEST_CASE("registry: a registered optimizer name is one row, usable by compile") {
  optim::register_optimizer("heavy_ball", [](std::vector<Tensor> p, const Config& c) -> std::unique_ptr<optim::Optimizer> {
    return optim::SGD::from_config(std::move(p), c);
  }, Config().set("momentum", 0.99));
  nn::Model m;
  m.add(nn::make_dense(2, 1));
  m.compile("Heavy_Ball", "mse", {}, 0.5);
  auto& sgd = dynamic_cast<optim::SGD&>(m.optimizer());
  CHECK(sgd.options().momentum == 0.99);
  CHECK(sgd.lr() == 0.5);
  optim::unregister_optimizer("heavy_ball");
  CHECK(test::message([&] { optim::make_optimizer("heavy_ball", {}); }).find("valid names: sgd,") != std::string::npos);
}

TEST_CASE("registry: a user's own layer and loss save and load bit for bit") {
  nn::register_layer<GatedUnit>("GatedUnit");
  const nn::LossFunction half_mse = [](const Tensor& o, const Tensor& t) {
    return 0.5 * nn::mse_loss(o, reshape(t, {-1, 1}));
  };
  nn::register_loss("half_mse", half_mse);
  manual_seed(11);
  const Tensor x = rand({10, 3}, kFloat64, -1, 1), y = rand({10}, kFloat64, -1, 1);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(std::make_shared<GatedUnit>(3, 4, kFloat64)).add(nn::make_dense(4, 1, "linear", lo));
  m.compile("adam", nn::Loss("half_mse", half_mse), {"mae"}, 0.05);
  nn::FitOptions fo;
  fo.epochs = 3, fo.batch_size = 4, fo.verbose = 0;
  m.fit(x, y, fo);
  const test::TempDir dir;
  m.save(dir / "gated.safetensors");
  nn::Model again = nn::Model::load(dir / "gated.safetensors");
  CHECK(again.net()[0]->name() == "GatedUnit");
  CHECK(again.loss().name() == "half_mse");
  CHECK(again.predict(x).data<double>() == m.predict(x).data<double>());
  fo.initial_epoch = 3, fo.epochs = 4;  // the optimizer state came along: one more epoch agrees bit for bit
  m.fit(x, y, fo);
  again.fit(x, y, fo);
  CHECK(again.predict(x).data<double>() == m.predict(x).data<double>());

  nn::unregister_layer("GatedUnit");
  nn::unregister_loss("half_mse");
  CHECK(!nn::is_registered_layer("GatedUnit"));
  nn::Model bad;
  bad.add(std::make_shared<Unregistered>()).add(nn::make_dense(3, 1));
  CHECK(message([&] { bad.save(dir / "bad.safetensors"); }) ==
        "Model::save: layer type 'Unregistered' is not registered (nn::register_layer<Unregistered>(\"Unregistered\") "
        "lets Model::load rebuild it)");
}

TEST_CASE("registry: names are looked up case-insensitively, with aliases, and one error") {
  NameTable<int> t("colour");
  t.add("Red", 1).add("green", 2).alias("verde", "green");
  CHECK(*t.find("RED") == 1);
  CHECK(t.at("paint", "Verde") == 2);
  CHECK(t.canonical("VERDE") == "green");
  CHECK(message([&] { t.at("paint", "blue"); }) == "paint: unknown colour 'blue'; valid names: red, green");
  CHECK(message([] { nn::make_activation("swish"); }) ==
        "make_activation: unknown activation 'swish'; valid names: linear, step, piecewise_linear, sigmoid, "
        "gaussian, tanh, relu, leaky_relu, softmax, log_softmax");
}
