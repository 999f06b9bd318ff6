// The program tests/kill_resume/kill_resume.sh kills: trains a 256-64-10 Adam classifier on fixed random data with
// a ModelCheckpoint every epoch, resuming from the checkpoint when there is one.
//   chainrule_kill_resume train DIR     train to kEpochs, resuming from DIR/ckpt.safetensors if present
//   chainrule_kill_resume check DIR     load DIR/ckpt.safetensors; print the epoch it holds; exit 1 if it fails
//   chainrule_kill_resume same A B      exit 0 if two model files hold bit-identical weights and optimizer state
//   chainrule_kill_resume epochs .      print the number of epochs of a whole run
// Each epoch is 8 Adam steps and a checkpoint: the run's time is mostly the checkpoints' fsync.
// The epoch a checkpoint holds is read from the checkpoint itself: Adam's step count / batches per epoch. (A
// separate "epoch" file could disagree with the checkpoint when the kill falls between the two writes.)
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {
constexpr std::size_t kRows = 512, kBatch = 64, kEpochs = 12, kBatchesPerEpoch = kRows / kBatch;

// The step count of the first parameter's Adam state: kBatchesPerEpoch per completed epoch.
std::size_t epochs_done(nn::Model& m) {
  for (const auto& [name, t] : m.optimizer().state())
    if (name == "step.0") return static_cast<std::size_t>(t.item()) / kBatchesPerEpoch;
  return 0;
}

bool same(const nn::NamedTensors& a, const nn::NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.dtype() != b[i].second.dtype() ||
        a[i].second.shape() != b[i].second.shape())
      return false;
    const bool equal = detail::dispatch(a[i].second.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const auto &x = a[i].second.data<T>(), &y = b[i].second.data<T>();
      return x.size() == 0 || std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
    });
    if (!equal) return false;
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s train DIR | check DIR | same A B\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  const std::string ckpt = dir + "/ckpt.safetensors";
  try {
    if (mode == "same" && argc == 4) {
      const bool equal = same(nn::load_safetensors(argv[2]), nn::load_safetensors(argv[3]));
      std::printf("%s\n", equal ? "bit-identical" : "DIFFERENT");
      return equal ? 0 : 1;
    }
    if (mode == "epochs") {  // how many epochs a finished run holds
      std::printf("%zu\n", kEpochs);
      return 0;
    }
    if (mode == "check") {
      nn::Model m = nn::Model::load(ckpt);
      std::printf("%zu\n", epochs_done(m));
      return 0;
    }
    if (mode != "train") return 2;
    manual_seed(1);  // the data: the same in every run
    const Tensor x = randn({kRows, 256});
    Tensor y = zeros({kRows});
    for (std::size_t i = 0; i < kRows; ++i) y.data<float>()(i) = static_cast<float>(i % 10);
    nn::FitOptions o;
    o.epochs = kEpochs, o.batch_size = kBatch, o.seed = 5, o.verbose = 0;
    o.callbacks = {std::make_shared<nn::ModelCheckpoint>(ckpt, "loss", /*save_best_only=*/false)};
    std::unique_ptr<nn::Model> m;
    if (std::filesystem::exists(ckpt)) {
      m = std::make_unique<nn::Model>(nn::Model::load(ckpt));
      o.initial_epoch = epochs_done(*m);
    } else {
      manual_seed(2);  // the initial weights
      m = std::make_unique<nn::Model>();
      m->add(nn::make_dense(256, 64, "relu")).add(nn::make_dense(64, 10, "softmax"));
      m->compile("adam", "sparse_categorical_crossentropy", {}, 1e-3);
    }
    std::printf("start at epoch %zu\n", o.initial_epoch);
    std::fflush(stdout);
    m->fit(x, y, o);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", mode.c_str(), e.what());
    return 1;
  }
}
