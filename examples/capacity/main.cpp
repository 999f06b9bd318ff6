// The course's "workflow for optimizing model capacity": start with a small network, increase capacity while the
// validation score improves, and stop (or step back) when it no longer does. Each candidate trains on a slice
// of Fashion-MNIST with early stopping on val_loss (patience 2 as in the course, and the best weights restored).
//   build/examples/capacity          (needs Debian's dataset-fashion-mnist; 15-60 s depending on the load)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "../cli.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;

int main(int argc, char** argv) {
  examples::Cli cli("capacity", "Model capacity: grow the network while the validation loss improves");
  std::size_t limit = 6000, epochs = 30, batch_size = 64;
  int patience = 2;
  double validation_split = 0.3;
  std::string dir = nn::kFashionMnistDir;
  cli.option("--limit", limit, "use the first N training images").range(10, 60000).show_default();
  cli.option("--epochs", epochs, "most epochs per candidate").range(1, 10000).show_default();
  cli.option("--batch-size", batch_size, "mini-batch size").range(1, 60000).show_default();
  cli.option("--patience", patience, "EarlyStopping's patience").range(0, 1000).show_default();
  cli.option("--validation-split", validation_split, "held-out fraction of the N images").fraction_below_one()
      .show_default();
  cli.option("--data-dir", dir, "directory of the IDX files").show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(dir + "/train-images-idx3-ubyte")) {
    std::fprintf(stderr, "capacity: Fashion-MNIST not found in %s: apt-get install dataset-fashion-mnist\n",
                 dir.c_str());
    return 1;
  }
  const nn::Dataset data = nn::load_fashion_mnist(dir).slice(0, limit);  // the last fraction validates
  const nn::Dataset test = nn::load_fashion_mnist(dir, false);

  struct Candidate { std::size_t layers, nodes; };  // hidden layers, nodes per layer: smallest first
  const std::vector<Candidate> ladder = {{1, 16}, {1, 64}, {1, 256}, {2, 256}, {3, 256}};

  std::printf("Fashion-MNIST, %zu images, validation_split %g; Adam, batch %zu, up to %zu epochs, "
              "EarlyStopping(patience=%d)\n\n", limit, validation_split, batch_size, epochs, patience);
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
    eo.patience = patience, eo.restore_best_weights = true;  // monitor val_loss
    auto stopper = std::make_shared<nn::EarlyStopping>(eo);
    nn::FitOptions fo;
    fo.epochs = epochs, fo.batch_size = batch_size, fo.validation_split = validation_split, fo.verbose = 0;
    fo.callbacks = {stopper};
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
