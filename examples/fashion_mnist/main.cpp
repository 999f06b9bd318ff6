// Fashion-MNIST, the Keras way: 784-128-64-10 ReLU network, softmax output, sparse categorical cross-entropy,
// Adam (lr 1e-3), batches of 64 reshuffled every epoch, 10 epochs on the 60,000 training images, then accuracy
// on the 10,000 test images. Needs Debian's dataset-fashion-mnist (files in /usr/share/datasets/fashion-mnist).
//   build/examples/fashion_mnist                      # the full recipe
//   build/examples/fashion_mnist --limit 5000 --epochs 3 --threads 1 --validation-split 0.1 --standardize
//   mpirun -np 2 build/examples/fashion_mnist --distributed --threads 1   # data-parallel over MPI (README)
//   build/examples/fashion_mnist --dtype float64 --out run1    # float64; model and history saved in run1/
// The last line is machine-readable: result: test_accuracy=0.8812 seconds_per_epoch=0.84 epochs=10
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "../cli.hpp"
#include <chainrule/nn.hpp>
#ifdef CHAINRULE_HAVE_MPI
#include <chainrule/nn/distributed.hpp>
#endif

using namespace chainrule;

int main(int argc, char** argv) {
  examples::Cli cli("fashion_mnist", "Fashion-MNIST with a 784-128-64-10 ReLU network");
  std::size_t epochs = 10, batch_size = 64, limit = 0;
  double lr = 1e-3, validation_split = 0;
  std::uint64_t seed = 0;
  bool standardize = false, distributed = false;
  int threads = 0, verbose = 1;
  std::string save, out, dtype = "float32", dir = nn::kFashionMnistDir;
  cli.option("--epochs", epochs, "training epochs").range(1, 100000).show_default();
  cli.option("--batch-size", batch_size, "mini-batch size").range(1, 60000).show_default();
  cli.option("--lr", lr, "Adam's learning rate").positive().show_default();
  cli.option("--dtype", dtype, "float32 or float64 (weights, data and arithmetic)").one_of({"float32", "float64"})
      .show_default();
  cli.option("--seed", seed, "seed of the initial weights and of the shuffles").show_default();
  cli.flag("--standardize", standardize, "StandardScaler fit on the training pixels (after /255)");
  cli.option("--validation-split", validation_split, "hold out the last fraction of the training set")
      .fraction_below_one();
  cli.option("--save", save, "save the trained model (safetensors) to this path");
  cli.option("--out", out, "write model.safetensors and history.csv into this folder (created if absent)");
  cli.option("--threads", threads, "threads per op (default: the cores)").range(0, 1024);
  cli.option("--limit", limit, "train on the first N images only (0: all)");
  cli.option("--data-dir", dir, "directory of the IDX files").show_default();
  cli.option("--verbose", verbose, "fit's verbose: 0 silent, 1 progress bar, 2 one line per epoch").range(0, 2)
      .show_default();
  cli.flag("--distributed", distributed, "data-parallel over MPI: run as mpirun -np P fashion_mnist --distributed");
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  const Dtype dt = dtype == "float64" ? kFloat64 : kFloat32;

  // Data-parallel: every rank loads the data and builds the model; fit shards the batches, and only rank 0 prints.
  std::shared_ptr<nn::ProcessGroup> group;
  if (distributed) {
#ifdef CHAINRULE_HAVE_MPI
    group = nn::ProcessGroupMPI::world();
#else
    std::fprintf(stderr, "--distributed: this build has no MPI support (install libopenmpi-dev and openmpi-bin, then "
                 "configure and build chainrule again)\n");
    return 1;
#endif
  }
  const bool main_rank = !group || group->rank() == 0;

  if (!std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte")) {
    std::fprintf(stderr, "Fashion-MNIST not found in %s. Install it with\n  apt-get install dataset-fashion-mnist\n"
                 "or point --data-dir at a directory holding the four IDX files.\n", dir.c_str());
    return 1;
  }
  if (threads > 0) set_num_threads(threads);  // chainrule's intra-op threads (GEMMs included)

  nn::Dataset train = nn::load_fashion_mnist(dir, true), test = nn::load_fashion_mnist(dir, false);  // pixels /255
  if (limit > 0 && limit < train.size()) train = train.slice(0, limit);
  Tensor x_train = train.x().to(dt), x_test = test.x().to(dt);
  const Tensor y_train = train.y().to(dt), y_test = test.y().to(dt);
  if (standardize) {
    nn::StandardScaler scaler;
    x_train = scaler.fit_transform(x_train);  // statistics of the training images only
    x_test = scaler.transform(x_test);
  }
  if (main_rank) {
    std::printf("%zu training images, %zu test images, %zu pixels each\n", train.size(), test.size(), x_train.size(1));
    if (group)
      std::printf("data-parallel on %d ranks: each takes %zu-%zu images of every batch of %zu\n", group->size(),
                  batch_size / std::size_t(group->size()),
                  (batch_size + std::size_t(group->size()) - 1) / std::size_t(group->size()), batch_size);
    std::printf("\n");
  }

  manual_seed(seed);  // initial weights
  nn::Linear::Options lo;
  lo.dtype = dt;
  nn::Model model;
  model.add(nn::make_dense(784, 128, "relu", lo)).add(nn::make_dense(128, 64, "relu", lo))
      .add(nn::make_dense(64, 10, "softmax", lo));
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"}, lr);
  if (main_rank) model.summary();

  nn::FitOptions fo;
  fo.epochs = epochs, fo.batch_size = batch_size, fo.validation_split = validation_split, fo.seed = seed;
  fo.verbose = verbose;
  fo.process_group = group;  // null: one process
  const auto t0 = std::chrono::steady_clock::now();
  nn::History h = model.fit(x_train, y_train, fo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double per_epoch = h.epochs ? seconds / static_cast<double>(h.epochs) : 0;

  if (!main_rank) return 0;  // the replicas are identical: rank 0 tests and saves
  nn::Logs scores = model.evaluate(x_test, y_test);
  std::printf("\ntest loss %.4f, test accuracy %.4f (%zu epochs, %.2f s per epoch)\n", scores["loss"],
              scores["accuracy"], h.epochs, per_epoch);

  // Accuracy per class: which garments the network confuses.
  const auto pred = nn::argmax(model.predict(x_test)), truth = nn::to_labels(test.y());
  std::vector<std::size_t> right(10), total(10);
  for (std::size_t i = 0; i < truth.size(); ++i) ++total[truth[i]], right[truth[i]] += pred[i] == truth[i];
  for (std::size_t c = 0; c < 10; ++c)
    std::printf("  %-12s %.3f\n", nn::fashion_mnist_classes()[c].c_str(),
                static_cast<double>(right[c]) / static_cast<double>(total[c]));

  if (!save.empty()) {
    model.save(save);
    std::printf("saved to %s\n", save.c_str());
  }
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    model.save(out + "/model.safetensors");
    h.to_csv(out + "/history.csv");
    std::printf("wrote %s/model.safetensors and %s/history.csv\n", out.c_str(), out.c_str());
  }
  std::printf("result: test_accuracy=%.4f seconds_per_epoch=%.2f epochs=%zu\n", scores["accuracy"], per_epoch,
              h.epochs);
}
