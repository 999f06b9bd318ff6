// A layer of your own, first class: a gated residual block, registered once, trained with fit, saved, loaded
// and predicting the same numbers bit for bit. Also a loss and a metric of your own, by callable.
//   build/examples/custom_model [--out DIR]     (writes DIR/model.safetensors; default out/custom_model)
#include "../cli.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {

/// y = x + (x·W + b) ⊙ σ(x·V + c): a residual block whose update each feature gates for itself.
/// Settings: "features"; parameters "update.weight", "update.bias", "gate.weight", "gate.bias".
class GatedResidual : public nn::Module {
 public:
  GatedResidual(std::size_t features, Dtype dtype) : features_(features) {
    nn::Linear::Options o;
    o.dtype = dtype;
    update_ = register_module("update", std::make_shared<nn::Linear>(features, features, o));
    gate_ = register_module("gate", std::make_shared<nn::Linear>(features, features, o));
  }
  Tensor forward(const Tensor& x) override { return x + update_->forward(x) * sigmoid(gate_->forward(x)); }
  std::string name() const override { return "GatedResidual"; }
  Config config() const override { return Config().set("features", std::uint64_t{features_}); }
  static std::shared_ptr<GatedResidual> from_config(const Config& c, Dtype dtype) {
    return std::make_shared<GatedResidual>(c.count("features"), dtype);
  }

 private:
  std::size_t features_;
  std::shared_ptr<nn::Linear> update_, gate_;
};

// Huber loss (δ = 1): ½e² for |e| ≤ 1, |e| − ½ beyond, as a composite of differentiable ops.
Tensor huber(const Tensor& pred, const Tensor& target) {
  const Tensor e = abs(pred - reshape(target, {-1, 1}));
  const Tensor small = minimum(e, ones_like(e));
  return mean(0.5 * square(small) + (e - small));
}

}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("custom_model", "A user-defined layer: build, fit, save, load, predict");
  std::string out = "out/custom_model";
  std::size_t epochs = 200;
  cli.option("--out", out, "directory for model.safetensors").show_default();
  cli.option("--epochs", epochs, "training epochs").range(1, 100000).show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  try {
    nn::register_layer<GatedResidual>("GatedResidual");  // once: Model::load can now rebuild it
    nn::register_loss("huber", huber);                    // likewise for the loss and the metric
    const nn::MetricFunction max_error = [](const Tensor& p, const Tensor& t) {
      return max(abs(p - reshape(t, {-1, 1})));
    };
    nn::register_metric("max_error", max_error);

    // y = sin(2x₀) + x₁² on [−1, 1]², 256 points.
    manual_seed(1);
    const Tensor x = rand({256, 2}, kFloat64, -1, 1);
    std::vector<double> ys;
    for (std::size_t i = 0; i < 256; ++i)
      ys.push_back(std::sin(2 * x.data<double>()(i, 0)) + std::pow(x.data<double>()(i, 1), 2));
    const Tensor y = from_vector(ys, {256}, kFloat64);
    nn::Linear::Options f64;
    f64.dtype = kFloat64;
    nn::Model model;
    model.add(nn::make_dense(2, 16, "tanh", f64))
        .add(std::make_shared<GatedResidual>(16, kFloat64))
        .add(std::make_shared<GatedResidual>(16, kFloat64))
        .add(nn::make_dense(16, 1, "linear", f64));
    model.compile("adam", nn::Loss("huber", huber), {"mae", nn::Metric("max_error", max_error)}, 0.01);
    nn::FitOptions fo;
    fo.epochs = epochs, fo.batch_size = 32, fo.verbose = 0;
    const nn::History h = model.fit(x, y, fo);
    std::printf("after %zu epochs: huber %.5f, mae %.5f, max error %.5f\n", h.epochs, h["loss"].back(),
                h["mae"].back(), h["max_error"].back());

    std::filesystem::create_directories(out);
    const std::string path = (std::filesystem::path(out) / "model.safetensors").string();
    model.save(path);
    nn::Model again = nn::Model::load(path);
    const Tensor a = model.predict(x), b = again.predict(x);
    const bool same = a.data<double>() == b.data<double>();
    std::printf("saved to %s and loaded: %s (%zu layers, loss '%s')\n", path.c_str(),
                same ? "predictions identical bit for bit" : "PREDICTIONS DIFFER", again.net().size(),
                again.loss().name().c_str());
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_model: %s\n", e.what());
    return 1;
  }
}
