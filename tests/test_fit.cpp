// fit: batch-level callbacks, the local process group, the stop on non-finite data or loss and what it says,
// errors naming the dataset's row, History's missing keys; the loss table's decisions; callable losses/metrics.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include "helpers.hpp"

using namespace chainrule;
using test::message;
using test::quiet;

namespace {
// x:[12,2] float64 with values k/10, targets y = x₀ − x₁ as [12].
std::pair<Tensor, Tensor> line_data() {
  std::vector<double> xs, ys;
  for (int i = 0; i < 12; ++i) {
    xs.push_back(0.1 * i), xs.push_back(0.05 * (11 - i));
    ys.push_back(0.1 * i - 0.05 * (11 - i));
  }
  return {from_vector(xs, {12, 2}, kFloat64), from_vector(ys, {12}, kFloat64)};
}

nn::Model linear_model(const std::string& loss = "mse", std::vector<nn::Metric> metrics = {}) {
  manual_seed(3);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(nn::make_dense(2, 1, "linear", lo));
  m.compile("sgd", loss, std::move(metrics), 0.1);
  return m;
}

// The 1-based batch of epoch 0 that holds dataset row `row` (shuffled with seed 0, batches of `bs`).
std::size_t batch_of(std::size_t row, std::size_t n, std::size_t bs) {
  const auto perm = nn::permutation(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    if (perm[i] == row) return i / bs + 1;
  return 0;
}

void set(Tensor& t, std::size_t flat, double v) { t.data<double>().data()[flat] = v; }
}  // namespace

TEST_CASE("fit: callbacks see every batch and epoch, in order, with running means") {
  struct Recorder : nn::Callback {
    std::string calls;
    std::vector<double> running;
    double epoch_loss = 0;
    void on_train_begin(nn::Model&) override { calls += "T"; }
    void on_epoch_begin(nn::Model&, std::size_t e) override { calls += "E" + std::to_string(e); }
    void on_batch_begin(nn::Model&, std::size_t b) override { calls += "b" + std::to_string(b); }
    void on_batch_end(nn::Model& m, std::size_t, const nn::Logs& logs) override {
      calls += "/";
      running.push_back(logs.at("loss"));
      CHECK(m.current_batch().rows.size() == m.current_batch().x.size(0));
    }
    void on_epoch_end(nn::Model&, std::size_t, nn::Logs& logs) override { calls += "e", epoch_loss = logs.at("loss"); }
    void on_train_end(nn::Model&) override { calls += "t"; }
  };
  auto [x, y] = line_data();
  nn::Model m = linear_model();
  auto rec = std::make_shared<Recorder>();
  auto o = quiet(2, 5);  // 12 rows: batches of 5, 5, 2
  o.callbacks = {rec};
  m.fit(x, y, o);
  CHECK(rec->calls == "TE0b0/b1/b2/eE1b0/b1/b2/et");
  REQUIRE(rec->running.size() == 6);
  CHECK(rec->running[5] == rec->epoch_loss);  // the last running mean is the epoch's mean
}

TEST_CASE("fit: an explicit local process group trains bit-identically to none") {
  auto [x, y] = line_data();
  nn::Model a = linear_model(), b = linear_model();
  auto o = quiet(3, 5);
  o.shuffle = true;
  a.fit(x, y, o);
  o.process_group = nn::local_group();
  b.fit(x, y, o);
  CHECK(a.parameters()[0].data<double>() == b.parameters()[0].data<double>());
  CHECK(a.parameters()[1].data<double>() == b.parameters()[1].data<double>());
  CHECK(nn::local_group()->size() == 1);
  CHECK(message([] { nn::local_group()->abort("stop"); }) == "stop");
}

TEST_CASE("fit: a NaN or inf in the input stops at its batch, naming the dataset row and the value") {
  auto [x, y] = line_data();
  auto o = quiet(3, 4);
  o.shuffle = true;
  const std::size_t b = batch_of(7, 12, 4);
  SUBCASE("nan in x") {
    set(x, 7 * 2 + 1, std::nan(""));
    nn::Model m = linear_model();
    const Tensor w0 = m.parameters()[0].detach().to(kFloat64);
    nn::History h = m.fit(x, y, o);
    CHECK(h.stop_reason == "epoch 1, batch " + std::to_string(b) +
                               ": the input x holds nan at dataset row 7, column 1; training stopped (clean the data)");
    CHECK(std::isfinite(m.parameters()[0].data<double>()(0, 0)));  // the bad batch took no step
    CHECK(h.epochs == (b > 1 ? 1u : 0u));                          // the batches before it make a partial epoch
  }
  SUBCASE("inf in x does not blame the learning rate") {
    set(x, 7 * 2, -INFINITY);
    nn::Model m = linear_model();
    nn::History h = m.fit(x, y, o);
    CHECK(h.stop_reason == "epoch 1, batch " + std::to_string(b) +
                               ": the input x holds -inf at dataset row 7, column 0; training stopped (clean the data)");
    CHECK(h.stop_reason.find("learning rate") == std::string::npos);
  }
  SUBCASE("nan in y") {
    set(y, 7, std::nan(""));
    nn::Model m = linear_model();
    nn::History h = m.fit(x, y, o);
    CHECK(h.stop_reason == "epoch 1, batch " + std::to_string(b) +
                               ": the target y holds nan at dataset row 7; training stopped (clean the data)");
  }
  SUBCASE("finite data, too large a step") {
    nn::Model m = linear_model();
    m.optimizer().set_lr(1e300);
    nn::History h = m.fit(x, y, o);
    CHECK(h.stop_reason.find(": loss is ") != std::string::npos);
    CHECK(h.stop_reason.find("training stopped (lower the learning rate?)") != std::string::npos);
  }
}

TEST_CASE("fit: an error inside fit names the dataset's row, not the row of the shuffled batch") {
  Tensor x = from_vector(std::vector<double>(24, 0.5), {12, 2}, kFloat64);
  std::vector<double> labels(12, 1.0);
  labels[9] = 2.5;  // not a class index
  const Tensor y = from_vector(labels, {12}, kFloat64);
  manual_seed(4);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(nn::make_dense(2, 3, "softmax", lo));
  m.compile("sgd", "sparse_categorical_crossentropy");
  auto o = quiet(1, 4);
  o.shuffle = true;
  const std::string e = message([&] { m.fit(x, y, o); });
  CHECK(e.find("target 2.5 at dataset row 9 ") != std::string::npos);
}

TEST_CASE("fit: History names the missing key and the keys it has") {
  auto [x, y] = line_data();
  nn::Model m = linear_model();
  nn::History h = m.fit(x, y, quiet(1, 12));
  CHECK(message([&] { h["accuracy"]; }) == "History: no quantity named 'accuracy' (logged: epoch, loss, lr)");
  CHECK_THROWS_AS(h["accuracy"], std::out_of_range);
  set(x, 0, std::nan(""));
  nn::Model n = linear_model();
  nn::History none = n.fit(x, y, quiet(1, 12));  // NaN in the only batch: no epoch completes
  CHECK(message([&] { none["loss"]; }) ==
        "History: no quantity named 'loss' (nothing was logged: fit ran no complete epoch)");
}

// ---- the loss table's decisions (Keras') --------------------------------------------------------------------------
TEST_CASE("losses: binary_crossentropy takes probabilities; from_logits takes logits; [N] targets meet [N,1]") {
  const Tensor p = tensor({{0.2}, {0.9}, {0.6}}, kFloat64), t = tensor(std::vector<double>{0, 1, 0}, kFloat64);
  const Tensor t2 = reshape(t, {3, 1});
  const double expected = -(std::log(0.8) + std::log(0.9) + std::log(0.4)) / 3;  // by hand
  CHECK(nn::loss_by_name("binary_crossentropy")(p, t).item() == doctest::Approx(expected).epsilon(1e-15));
  CHECK(nn::loss_by_name("binary_crossentropy")(p, t2).item() == nn::binary_cross_entropy(p, t2).item());
  const nn::Loss logits = nn::binary_crossentropy(true);
  CHECK(logits.takes_logits());
  CHECK(logits(p, t).item() == nn::binary_cross_entropy_with_logits(p, t2).item());
  CHECK(nn::loss_by_name("mse")(p, t).item() == nn::mse_loss(p, t2).item());
  CHECK(message([&] { nn::loss_by_name("binary_crossentropy")(p * 3.0, t); }) ==
        "binary_cross_entropy: probabilities must lie in [0, 1], got 2.7 at element 1");
}

TEST_CASE("model: binary_crossentropy on a model without a sigmoid reads its outputs as probabilities") {
  const Tensor x = tensor({{0.2}, {0.9}, {0.6}}, kFloat64), y = tensor(std::vector<double>{0, 1, 0}, kFloat64);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  auto identity = [&](const nn::Loss& loss) {  // Dense(1,1) with w = 1, b = 0: outputs = x
    nn::Model m;
    m.add(nn::make_dense(1, 1, "linear", lo));
    Tensor w = m.parameters()[0], b = m.parameters()[1];
    w.data<double>()(0, 0) = 1, b.data<double>()(0) = 0;
    m.compile("sgd", loss, {"accuracy"});
    return m;
  };
  nn::Model probs = identity("binary_crossentropy");
  auto s = probs.evaluate(x, y);
  CHECK(s["loss"] == nn::binary_cross_entropy(x, reshape(y, {3, 1})).item());
  CHECK(s["accuracy"] == doctest::Approx(2.0 / 3));  // 0.6 > ½ is wrong: 2 of 3 right
  nn::Model logits = identity(nn::binary_crossentropy(true));
  s = logits.evaluate(x, y);
  CHECK(s["loss"] == nn::binary_cross_entropy_with_logits(x, reshape(y, {3, 1})).item());
  CHECK(s["accuracy"] == doctest::Approx(1.0 / 3));  // logits > 0: every output says 1
}

TEST_CASE("model: binary_crossentropy through a final sigmoid equals the loss of the probabilities") {
  manual_seed(5);
  const Tensor x = rand({6, 2}, kFloat64, -1, 1), y = tensor(std::vector<double>{0, 1, 1, 0, 1, 0}, kFloat64);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(nn::make_dense(2, 1, "sigmoid", lo));
  m.compile("sgd", "binary_crossentropy");
  const double direct = nn::binary_cross_entropy(m.predict(x), reshape(y, {6, 1})).item();
  CHECK(m.evaluate(x, y)["loss"] == doctest::Approx(direct).epsilon(1e-12));
}

TEST_CASE("model: sparse_categorical_crossentropy accepts [N,1] targets, as Keras") {
  manual_seed(6);
  const Tensor x = rand({4, 2}, kFloat64, -1, 1), y = tensor(std::vector<double>{0, 2, 1, 2}, kFloat64);
  nn::Linear::Options lo;
  lo.dtype = kFloat64;
  nn::Model m;
  m.add(nn::make_dense(2, 3, "softmax", lo));
  m.compile("sgd", "sparse_categorical_crossentropy");
  CHECK(m.evaluate(x, reshape(y, {4, 1}))["loss"] == m.evaluate(x, y)["loss"]);
}

TEST_CASE("model: compile takes a callable loss and callable metrics, logged under their names") {
  auto [x, y] = line_data();
  const nn::LossFunction half_sse = [](const Tensor& o, const Tensor& t) {
    return nn::half_sse_loss(o, reshape(t, {-1, 1}), nn::Reduction::Mean);
  };
  const nn::MetricFunction max_error = [](const Tensor& o, const Tensor& t) {
    return max(abs(o - reshape(t, {-1, 1})));
  };
  nn::Model a = linear_model("mse"), b;
  {
    manual_seed(3);
    nn::Linear::Options lo;
    lo.dtype = kFloat64;
    b.add(nn::make_dense(2, 1, "linear", lo));
    b.compile("sgd", nn::Loss("half_mse", half_sse), {nn::Metric("max_error", max_error), "mae"}, 0.2);
  }
  auto ha = a.fit(x, y, quiet(3, 4));
  auto hb = b.fit(x, y, quiet(3, 4));
  // ½·mean(e²) with lr 0.2 takes the steps of mean(e²) with lr 0.1, bit for bit (halving is exact)
  CHECK(a.parameters()[0].data<double>() == b.parameters()[0].data<double>());
  CHECK(hb["loss"][0] == ha["loss"][0] / 2);
  REQUIRE(hb.history.count("max_error"));
  CHECK(hb["max_error"].size() == 3);
  CHECK(b.evaluate(x, y)["max_error"] == doctest::Approx(max(abs(b.predict(x) - reshape(y, {-1, 1}))).item()).epsilon(1e-15));
  CHECK(message([&] { b.compile("sgd", "mse", {"f1"}); }) ==
        "Model::compile: unknown metric 'f1'; valid names: accuracy, mse, mae");
}
