// XOR and early stopping.
//   1. A perceptron cannot learn XOR (no line separates its classes): Rosenblatt's rule never stops making
//      mistakes, and a sigmoid unit trained by gradient descent ends at 0.5 everywhere.
//   2. One hidden layer fixes it: a 2-4-1 network gets all four cases right.
//   3. Early stopping (the course's EarlyStopping(patience=...)) on a noisy problem: training stops once the
//      validation loss has not improved for a while, and the best epoch's weights are restored.
//   build/examples/xor
#include <cmath>
#include <cstdio>
#include <memory>

#include "../cli.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {
double at(const Tensor& t, std::size_t i) { return t.to(kFloat64).data<double>().data()[i]; }

// Two interleaving half circles ("two moons"), labels 0/1 as [n, 1]; a fraction `flip` of the labels is wrong.
std::pair<Tensor, Tensor> noisy_moons(std::size_t n, double noise, double flip) {
  Tensor t = rand({n, 1}, kFloat32, 0, M_PI);
  Tensor label = rand({n, 1}) > tensor(0.5);
  Tensor upper = concat({cos(t), sin(t)}, 1), lower = concat({1.0 - cos(t), 0.5 - sin(t)}, 1);
  Tensor x = label * lower + (1.0 - label) * upper + noise * randn({n, 2});
  Tensor wrong = rand({n, 1}) < tensor(flip);
  return {x, label + wrong - 2.0 * label * wrong};  // label XOR wrong
}
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("xor", "XOR: a perceptron cannot learn it, one hidden layer can; then early stopping");
  std::uint64_t seed = 7;
  std::size_t epochs = 1000, patience = 10;
  double lr = 0.05;
  cli.option("--seed", seed, "seed of the data and the initial weights").show_default();
  cli.option("--epochs", epochs, "Adam epochs on the four XOR cases").range(1, 1000000).show_default();
  cli.option("--lr", lr, "Adam's learning rate on XOR").positive().show_default();
  cli.option("--patience", patience, "EarlyStopping's patience in part 3").range(0, 300).show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  manual_seed(seed);
  const Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}}), t = tensor({0, 1, 1, 0});

  std::printf("1. A single perceptron on XOR (targets 0 1 1 0)\n");
  // Rosenblatt's rule: y = step(w·x + b); after each sample, w += (t − y)·x, b += t − y.
  double w1 = 0, w2 = 0, b = 0;
  std::printf("   perceptron rule, mistakes per epoch:");
  for (int epoch = 1; epoch <= 12; ++epoch) {
    int mistakes = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const double x1 = x.data<float>()(i, 0), x2 = x.data<float>()(i, 1), target = at(t, i);
      const double err = target - (w1 * x1 + w2 * x2 + b >= 0 ? 1 : 0);
      w1 += err * x1, w2 += err * x2, b += err, mistakes += err != 0;
    }
    std::printf(" %d", mistakes);
  }
  std::printf("  (never 0: it cycles forever)\n");
  nn::Model unit;
  unit.add(nn::make_dense(2, 1, "sigmoid"));
  unit.compile("adam", "binary_crossentropy", {"accuracy"}, lr);
  nn::FitOptions fo;
  fo.epochs = epochs, fo.batch_size = 4, fo.verbose = 0;
  unit.fit(x, t, fo);
  Tensor p = unit.predict(x);
  std::printf("   sigmoid unit, %zu epochs of Adam on cross-entropy: outputs %.3f %.3f %.3f %.3f, accuracy %.2f\n",
              epochs, at(p, 0), at(p, 1), at(p, 2), at(p, 3), unit.evaluate(x, t)["accuracy"]);
  std::printf("   (the best a line can do is 0.5 everywhere: any tilt that helps one case hurts another)\n\n");

  std::printf("2. A 2-4-1 network: one hidden layer of 4 tanh units, sigmoid output\n");
  nn::Model mlp;
  mlp.add(nn::make_dense(2, 4, "tanh")).add(nn::make_dense(4, 1, "sigmoid"));
  mlp.compile("adam", "binary_crossentropy", {"accuracy"}, lr);
  mlp.fit(x, t, fo);
  p = mlp.predict(x);
  for (std::size_t i = 0; i < 4; ++i)
    std::printf("   x = (%g, %g)  target %g  output %.4f\n", at(x, 2 * i), at(x, 2 * i + 1), at(t, i), at(p, i));
  std::printf("   accuracy %.2f\n\n", mlp.evaluate(x, t)["accuracy"]);

  std::printf("3. Early stopping: two moons with 20%% of the labels flipped, 200 training points, 2-64-64-1 ReLU\n");
  auto [x_train, y_train] = noisy_moons(200, 0.15, 0.2);
  auto [x_val, y_val] = noisy_moons(1000, 0.15, 0.2);
  auto make = [] {
    manual_seed(1);  // same initial weights for both runs
    nn::Model m;
    m.add(nn::make_dense(2, 64, "relu")).add(nn::make_dense(64, 64, "relu")).add(nn::make_dense(64, 1, "sigmoid"));
    m.compile("adam", "binary_crossentropy", {"accuracy"}, 0.01);
    return m;
  };
  fo.epochs = 300, fo.batch_size = 32, fo.validation_data = std::pair{x_val, y_val};
  nn::Model full = make();
  nn::History hf = full.fit(x_train, y_train, fo);
  nn::EarlyStopping::Options eo;
  eo.monitor = "val_loss", eo.patience = int(patience), eo.restore_best_weights = true;
  auto stopper = std::make_shared<nn::EarlyStopping>(eo);
  fo.callbacks = {stopper};
  nn::Model early = make();
  nn::History he = early.fit(x_train, y_train, fo);
  const std::size_t best = stopper->best_epoch();
  std::printf("   without early stopping: 300 epochs, train loss %.4f, val_loss %.4f, val_accuracy %.3f\n",
              hf["loss"].back(), hf["val_loss"].back(), hf["val_accuracy"].back());
  std::printf("   EarlyStopping(val_loss, patience %zu, restore_best_weights): stopped at epoch %zu, best epoch %zu "
              "(val_loss %.4f)\n", patience, stopper->stopped_epoch(), best, he["val_loss"][best - 1]);
  nn::Logs restored = early.evaluate(x_val, y_val);
  std::printf("   restored model: val_loss %.4f, val_accuracy %.3f  (%s)\n", restored["loss"], restored["accuracy"],
              he.stop_reason.c_str());
  std::printf("   with 20%% flipped labels no classifier can beat about 0.80 accuracy on new points; the long run\n"
              "   memorizes the flipped training labels, so its validation loss climbs back up.\n");
}
