// The course's "workflow for optimizing model capacity": start with a small network, increase capacity while the
// validation score improves, and stop (or step back) when it no longer does. Each candidate trains on a slice
// of Fashion-MNIST with early stopping on val_loss (patience 2 as in the course, and the best weights restored).
//   build/examples/capacity          (needs Debian's dataset-fashion-mnist; 15-60 s depending on the load)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "nn/nn.hpp"

using namespace chainrule;

int main() {
  if (!std::filesystem::exists(std::string(nn::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    std::fprintf(stderr, "Fashion-MNIST not found in %s: apt-get install dataset-fashion-mnist\n",
                 nn::kFashionMnistDir);
    return 1;
  }
  const nn::Dataset data = nn::load_fashion_mnist().slice(0, 6000);  // 4200 to train, the last 1800 to validate
  const nn::Dataset test = nn::load_fashion_mnist(nn::kFashionMnistDir, false);

  struct Candidate { std::size_t layers, nodes; };  // hidden layers, nodes per layer: smallest first
  const std::vector<Candidate> ladder = {{1, 16}, {1, 64}, {1, 256}, {2, 256}, {3, 256}};

  std::printf("Fashion-MNIST, 6000 images, validation_split 0.3; Adam, batch 64, up to 30 epochs, "
              "EarlyStopping(patience=2)\n\n");
  std::printf("%6s %6s %9s %7s %5s %9s %8s   %s\n", "hidden", "nodes", "params", "epochs", "best", "val_loss",
              "val_acc", "next step");
  double best_loss = INFINITY;
  std::unique_ptr<nn::Model> best;
  std::string best_name;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& [layers, nodes] : ladder) {
    manual_seed(0);
    auto model = std::make_unique<nn::Model>();
    std::size_t in = 784;
    for (std::size_t i = 0; i < layers; ++i, in = nodes) model->add(nn::make_dense(in, nodes, "relu"));
    model->add(nn::make_dense(in, 10, "softmax"));
    model->compile("adam", "sparse_categorical_crossentropy", {"accuracy"});

    nn::EarlyStopping::Options eo;
    eo.patience = 2, eo.restore_best_weights = true;  // monitor val_loss
    auto stopper = std::make_shared<nn::EarlyStopping>(eo);
    nn::FitOptions fo;
    fo.epochs = 30, fo.batch_size = 64, fo.validation_split = 0.3, fo.verbose = 0, fo.callbacks = {stopper};
    nn::History h = model->fit(data.x(), data.y(), fo);
    const double val_loss = h["val_loss"][stopper->best_epoch() - 1];
    const double val_acc = h["val_accuracy"][stopper->best_epoch() - 1];

    const bool better = val_loss < best_loss;
    std::printf("%6zu %6zu %9zu %7zu %5zu %9.4f %8.4f   %s\n", layers, nodes, model->net().parameter_count(),
                h.epochs, stopper->best_epoch(), val_loss, val_acc,
                better ? "better: increase capacity" : "no better: back to the previous size");
    if (!better) break;
    best_loss = val_loss, best = std::move(model);
    best_name = std::to_string(layers) + " x " + std::to_string(nodes);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nchosen: %s hidden (val_loss %.4f); its accuracy on the 10,000 test images: %.4f  (%.0f s)\n",
              best_name.c_str(), best_loss, best->evaluate(test.x(), test.y())["accuracy"], seconds);
}
