// The Keras-like Model: compile / fit / evaluate / predict / summary / save / load, callbacks.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <chainrule/nn/data.hpp>
#include <chainrule/nn/model.hpp>
#include <chainrule/nn/serialize.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;
namespace fs = std::filesystem;

using test::quiet;
namespace {

// Two Gaussian blobs in 2-D, labels 0/1 (class indices as float), seeded.
std::pair<Tensor, Tensor> blobs(std::size_t n, std::uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn({n, 2});
  Tensor y = zeros({n});
  for (std::size_t i = 0; i < n; ++i) {
    const float c = i % 2 ? 1.5f : -1.5f;
    x.data<float>()(i, 0) += c;
    x.data<float>()(i, 1) += c;
    y.data<float>()(i) = static_cast<float>(i % 2);
  }
  return {x, y};
}

nn::Model classifier(std::uint64_t seed) {
  manual_seed(seed);
  nn::Model m;
  m.add(nn::make_dense(2, 8, "relu")).add(nn::make_dense(8, 2, "softmax"));
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"}, 0.05);
  return m;
}

using test::TempDir;


}  // namespace

TEST_CASE("model: fit learns two blobs; evaluate and predict agree with it") {
  auto [x, y] = blobs(200, 1);
  nn::Model m = classifier(3);
  nn::History h = m.fit(x, y, quiet(20, 16));
  CHECK(h.epochs == 20);
  CHECK(h["loss"].size() == 20);
  CHECK(h["loss"].back() < h["loss"].front());
  CHECK(h["accuracy"].back() > 0.95);
  auto scores = m.evaluate(x, y);
  CHECK(scores.at("accuracy") > 0.95);
  Tensor p = m.predict(x);
  CHECK(p.shape() == Shape{200, 2});
  CHECK_FALSE(p.requires_grad());
  // predict returns probabilities (rows sum to 1) and its argmax gives evaluate's accuracy.
  for (std::size_t i = 0; i < 200; ++i) CHECK(p.data<float>()(i, 0) + p.data<float>()(i, 1) == doctest::Approx(1));
  std::size_t hit = 0;
  for (std::size_t i = 0; i < 200; ++i)
    hit += (p.data<float>()(i, 1) > p.data<float>()(i, 0)) == (y.data<float>()(i) == 1);
  CHECK(static_cast<double>(hit) / 200 == doctest::Approx(scores.at("accuracy")));
}

TEST_CASE("model: online, mini-batch and full-batch training all run and log per epoch") {
  auto [x, y] = blobs(40, 2);
  for (std::size_t batch : {1, 8, 40, 1000}) {
    nn::Model m = classifier(4);
    auto o = quiet(3, batch);
    o.validation_split = 0.25;
    nn::History h = m.fit(x, y, o);
    CHECK(h.epochs == 3);
    for (const char* k : {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch"}) CHECK(h[k].size() == 3);
    CHECK(h["epoch"] == std::vector<double>{1, 2, 3});
  }
}

TEST_CASE("model: the same seed gives the same weights and history") {
  auto [x, y] = blobs(64, 5);
  auto run = [&, x = x, y = y] {
    nn::Model m = classifier(11);
    auto o = quiet(4, 8);
    o.seed = 99;
    nn::History h = m.fit(x, y, o);
    return std::make_pair(h["loss"], m.parameters()[0].data<float>());
  };
  auto a = run(), b = run();
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
}

TEST_CASE("model: regression with MSE and the mae metric") {
  manual_seed(8);
  Tensor x = rand({64, 1}, kFloat64, -1, 1);
  Tensor y = reshape(x * 3.0 + 0.5, {-1});  // y = 3x + ½, targets as [N]
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(nn::make_dense(1, 1, "linear", lo));
  m.compile("sgd", "mean_squared_error", {"mae"}, 0.5);
  m.fit(x, y, quiet(100, 64));
  auto& lin = m.net().at<nn::Dense>(0);
  CHECK(lin.weight().item() == doctest::Approx(3).epsilon(1e-6));
  CHECK(lin.bias().item() == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(m.evaluate(x, y).at("mae") < 1e-6);
}

TEST_CASE("model: early stopping stops after `patience` epochs without improvement and restores the best") {
  // A callback that records val_loss and the weights after each epoch, run after EarlyStopping has seen them.
  struct Recorder : nn::Callback {
    std::vector<double> val;
    std::vector<Array<float>> w;
    void on_epoch_end(nn::Model& m, std::size_t, nn::Logs& logs) override {
      val.push_back(logs.at("val_loss"));
      w.push_back(m.parameters()[0].data<float>());
    }
  };
  auto [x, y] = blobs(60, 6);
  auto [vx, vy] = blobs(20, 7);
  nn::Model m = classifier(12);
  m.optimizer().set_lr(0.5);  // large steps: val_loss soon stops improving
  nn::EarlyStopping::Options eo;
  eo.patience = 2, eo.restore_best_weights = true;
  auto stop = std::make_shared<nn::EarlyStopping>(eo);
  auto rec = std::make_shared<Recorder>();
  auto o = quiet(200, 4);
  o.validation_data = std::make_pair(vx, vy);
  o.callbacks = {stop, rec};
  nn::History h = m.fit(x, y, o);
  REQUIRE(stop->stopped_epoch() > 0);
  CHECK(h.epochs == stop->stopped_epoch());
  const std::size_t best = static_cast<std::size_t>(
      std::min_element(rec->val.begin(), rec->val.end()) - rec->val.begin());
  CHECK(stop->best_epoch() == best + 1);
  CHECK(stop->stopped_epoch() == best + 1 + 2);  // two epochs without improvement, then stop
  CHECK(m.parameters()[0].data<float>() == rec->w[best]);
  CHECK(h.stop_reason.rfind("early stopping at epoch", 0) == 0);
}

TEST_CASE("model: a NaN loss stops training with a message") {
  auto [x, y] = blobs(32, 9);
  nn::Model m = classifier(13);
  m.optimizer().set_lr(1e30);
  nn::History h = m.fit(x, y, quiet(5, 8));
  CHECK(h.stop_reason.find("loss is") != std::string::npos);
  CHECK(h.stop_reason.find("training stopped") != std::string::npos);
}

TEST_CASE("model: learning-rate schedules") {
  auto [x, y] = blobs(16, 10);
  nn::Model m = classifier(14);
  m.optimizer().set_lr(0.1);
  auto o = quiet(5, 16);
  o.callbacks = {nn::step_decay(0.5, 2)};
  nn::History h = m.fit(x, y, o);
  CHECK(h["lr"] == std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025});
}

TEST_CASE("model: ModelCheckpoint keeps the epoch with the best val_loss") {
  TempDir dir;
  struct Recorder : nn::Callback {
    std::vector<double> val;
    void on_epoch_end(nn::Model&, std::size_t, nn::Logs& logs) override { val.push_back(logs.at("val_loss")); }
  };
  auto [x, y] = blobs(60, 21);
  auto [vx, vy] = blobs(20, 22);
  nn::Model m = classifier(23);
  m.optimizer().set_lr(0.3);
  auto rec = std::make_shared<Recorder>();
  auto o = quiet(15, 4);
  o.validation_data = std::make_pair(vx, vy);
  o.callbacks = {std::make_shared<nn::ModelCheckpoint>(dir / "best.safetensors"), rec};
  m.fit(x, y, o);
  nn::Model best = nn::Model::load(dir / "best.safetensors");
  const double lowest = *std::min_element(rec->val.begin(), rec->val.end());
  CHECK(best.evaluate(vx, vy).at("loss") == doctest::Approx(lowest).epsilon(1e-6));
  CHECK_THROWS_WITH(nn::ModelCheckpoint("p", "val_loss", true, "up"),
                    "ModelCheckpoint: mode must be auto, min or max, got 'up'");
}

TEST_CASE("model: ReduceLROnPlateau divides the rate after `patience` epochs without improvement") {
  nn::Model m = classifier(24);
  m.optimizer().set_lr(0.1);
  nn::ReduceLROnPlateau::Options ro;
  ro.factor = 0.5, ro.patience = 2, ro.min_delta = 0;
  nn::ReduceLROnPlateau plateau(ro);
  std::vector<double> lrs;
  for (double v : {1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5}) {
    nn::Logs logs = {{"val_loss", v}};
    plateau.on_epoch_end(m, lrs.size(), logs);
    lrs.push_back(m.optimizer().lr());
  }
  // best 0.9 at epoch 2; epochs 3 and 4 do not improve → halve; 5 and 6 do not → halve again; 7 improves.
  CHECK(lrs == std::vector<double>{0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025});
}

TEST_CASE("model: summary of 784-16-16-10 prints the Keras table and 13,002 parameters") {
  nn::Model m;
  m.add(nn::make_dense(784, 16, "relu")).add(nn::make_dense(16, 16, "relu")).add(nn::make_dense(16, 10, "softmax"));
  std::ostringstream s;
  m.summary(s);
  const std::string t = s.str();
  CHECK(t.find(" dense (Dense)               (None, 16)                12560\n") != std::string::npos);
  CHECK(t.find(" dense_1 (Dense)             (None, 16)                272\n") != std::string::npos);
  CHECK(t.find(" dense_2 (Dense)             (None, 10)                170\n") != std::string::npos);
  CHECK(t.find("Total params: 13,002") != std::string::npos);
  CHECK(t.find("Non-trainable params: 0") != std::string::npos);
}

TEST_CASE("model: save and load give bit-identical predictions, and training resumes exactly") {
  TempDir dir;
  auto [x, y] = blobs(48, 15);
  nn::Model a = classifier(16);
  a.net().add(std::make_shared<nn::Dropout>(0.0));  // round-trips a layer without weights too
  auto o = quiet(2, 8);
  a.fit(x, y, o);
  a.save(dir / "m.safetensors");
  nn::Model b = nn::Model::load(dir / "m.safetensors");
  CHECK(a.predict(x).data<float>() == b.predict(x).data<float>());
  // Two more epochs on each: the optimizer state came along, so they stay identical.
  o.initial_epoch = 2, o.epochs = 4;
  a.fit(x, y, o);
  b.fit(x, y, o);
  for (std::size_t i = 0; i < a.parameters().size(); ++i)
    CHECK(a.parameters()[i].data<float>() == b.parameters()[i].data<float>());
  // ... and both equal four uninterrupted epochs.
  nn::Model c = classifier(16);
  c.net().add(std::make_shared<nn::Dropout>(0.0));
  c.fit(x, y, quiet(4, 8));
  CHECK(c.parameters()[0].data<float>() == a.parameters()[0].data<float>());
}

TEST_CASE("model: save keeps every option of an optimizer given as an object") {
  TempDir dir;
  manual_seed(20);
  nn::Model m;
  m.add(nn::make_dense(2, 3, "tanh")).add(nn::make_dense(3, 1));
  optim::SGD::Options so;
  so.lr = 0.05, so.momentum = 0.7, so.nesterov = true, so.weight_decay = 1e-3;
  m.compile(std::make_unique<optim::SGD>(m.parameters(), so), "mse");
  m.optimizer().set_lr(0.02);  // as a schedule would leave it
  m.save(dir / "m.safetensors");
  nn::Model b = nn::Model::load(dir / "m.safetensors");
  auto* sgd = dynamic_cast<optim::SGD*>(&b.optimizer());
  REQUIRE(sgd != nullptr);
  CHECK(sgd->lr() == 0.02);
  CHECK(sgd->options().momentum == 0.7);
  CHECK(sgd->options().nesterov);
  CHECK(sgd->options().weight_decay == 1e-3);
}

TEST_CASE("model: load rejects files that disagree with their architecture, naming the file") {
  TempDir dir;
  nn::Model m = classifier(17);
  const std::string path = dir / "m.safetensors";
  m.save(path);
  nn::Metadata md;
  nn::NamedTensors t = nn::load_safetensors(path, &md);
  auto rewrite = [&](nn::NamedTensors tensors, nn::Metadata meta) {
    const std::string p = dir / "bad.safetensors";
    nn::save_safetensors(p, tensors, meta);
    return p;
  };
  auto error = [](const std::string& p) { return test::message([&] { nn::Model::load(p); }); };
  {
    auto fewer = t;
    fewer.erase(fewer.begin());
    const std::string p = rewrite(fewer, md);
    CHECK(error(p) == p + ": tensor '0.weight' is missing");
  }
  {
    auto wrong = t;
    wrong[0].second = zeros({3, 8});
    const std::string p = rewrite(wrong, md);
    CHECK(error(p) == p + ": tensor '0.weight' is float32 [3,8], the architecture needs float32 [2,8]");
  }
  {
    auto extra = t;
    extra.emplace_back("9.weight", zeros({1}));
    const std::string p = rewrite(extra, md);
    CHECK(error(p) == p + ": unexpected tensor '9.weight' (not in the architecture)");
  }
  {
    const std::string p = rewrite(t, {});
    CHECK(error(p) == p + ": no chainrule model description in the metadata (a plain safetensors file?)");
  }
  {
    auto meta = md;
    const std::string key = "\"type\":\"Dense\"";
    meta["chainrule"].replace(meta["chainrule"].find(key), key.size(), "\"type\":\"Conv9d\"");
    const std::string p = rewrite(t, meta);
    CHECK(error(p).find(p + ": architecture: unknown layer type 'Conv9d'") == 0);
  }
}

TEST_CASE("model: bad settings are clear errors") {
  nn::Model m;
  CHECK_THROWS_WITH(m.compile("adam", "mse"), "Model::compile: the model has no layers");
  m.add(nn::make_dense(2, 1));
  CHECK_THROWS_WITH(m.compile("adam", "hinge"),
                    "Model::compile: unknown loss 'hinge'; valid names: mean_squared_error, mse, mean_absolute_error, "
                    "mae, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(m.compile("adam", "mse", {"f1"}),
                    "Model::compile: unknown metric 'f1'; valid names: accuracy, mse, mae");
  CHECK_THROWS_WITH(m.fit(zeros({4, 2}), zeros({4})), "Model::fit: not compiled; call compile() first");
  m.compile("sgd", "mse");
  auto o = quiet(1, 0);
  CHECK_THROWS_WITH(m.fit(zeros({4, 2}), zeros({4}), o), "Model::fit: batch_size must be >= 1, got 0");
  o.batch_size = 2, o.validation_split = 1.5;
  CHECK_THROWS_WITH(m.fit(zeros({4, 2}), zeros({4}), o), "Model::fit: validation_split must be in [0, 1), got 1.500000");
}

TEST_CASE("model: history exports to CSV") {
  TempDir dir;
  auto [x, y] = blobs(16, 18);
  nn::Model m = classifier(19);
  nn::History h = m.fit(x, y, quiet(2, 8));
  h.to_csv(dir / "h.csv");
  std::ifstream f(dir / "h.csv");
  std::string header, row1;
  std::getline(f, header);
  std::getline(f, row1);
  CHECK(header == "epoch,accuracy,loss,lr");
  CHECK(row1.rfind("1,", 0) == 0);
}

TEST_CASE("model: one epoch on a Fashion-MNIST slice learns (when the data is installed)") {
  if (!fs::is_directory(nn::kFashionMnistDir)) {
    MESSAGE("CHAINRULE_TEST_SKIPPED: " << nn::kFashionMnistDir << " is absent (Debian package dataset-fashion-mnist)");
    return;
  }
  const nn::Dataset test = nn::load_fashion_mnist(nn::kFashionMnistDir, false);  // 10,000 images: quick to load
  const nn::Dataset train = test.slice(0, 3000), held_out = test.slice(3000, 4000);
  manual_seed(25);
  nn::Model m;
  m.add(nn::make_dense(784, 64, "relu")).add(nn::make_dense(64, 10, "softmax"));
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  m.fit(train.x(), train.y(), quiet(1, 32));
  // One epoch of 3,000 images takes the 10-class accuracy from 0.1 (chance) to 0.732 here.
  CHECK(m.evaluate(held_out.x(), held_out.y()).at("accuracy") > 0.6);
}

TEST_CASE("model: steady-state training steps take every large buffer from the cache") {
  // 784-256-10, batch 128, Adam: activations, gradients and moments of 5 KiB to 784 KiB, above the cache's 4 KiB.
  manual_seed(3);
  const Tensor x = randn({128, 784}), y = full({128}, 3.0);
  auto net = nn::MLP({784, 256, 10}, "relu");
  optim::Adam opt(net->parameters(), optim::Adam::Options{});
  const auto step = [&] {
    opt.zero_grad(true);
    nn::cross_entropy(net->forward(x), y).backward();
    opt.step();
  };
  step();  // the first step fills the cache and allocates Adam's state
  const std::size_t first = cache_misses();
  CHECK(first > 0);
  for (int i = 0; i < 20; ++i) step();
  MESSAGE("blocks from the system: " << first << " in the first step, " << cache_misses() - first << " in 20 more");
#ifndef CHAINRULE_SANITIZER_BUILD
  CHECK(cache_misses() == first);  // (under ASan nothing is cached, so that use-after-free is caught)
#endif
}
