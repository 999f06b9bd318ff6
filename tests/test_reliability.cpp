// Reliability: deep and wide graphs (no stack overflow, memory given back), numerical edges against torch 1.13
// (tests/reference/reliability_edges.py prints the numbers), float32 vs float64 training, huge and empty
// batches, saves interrupted at every stage during training, and training in two threads at once.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/nn/serialize.hpp>

using namespace chainrule;
namespace fs = std::filesystem;
using test::message;
using test::TempDir;

using test::quiet;
namespace {

// Under the sanitizers (CHAINRULE_SANITIZER_BUILD) the fan-in is 10^4 wide, and the resident-memory checks are
// off: ASan's quarantine keeps freed memory resident on purpose. (The 10^6-op chain is in test_engine.cpp.)
#ifdef CHAINRULE_SANITIZER_BUILD
constexpr std::size_t kFanIn = 10'000;
constexpr bool kMeasureRss = false;
#else
constexpr std::size_t kFanIn = 100'000;
constexpr bool kMeasureRss = true;
#endif

constexpr double kInf = std::numeric_limits<double>::infinity();

// Compares element by element, NaN equal to NaN and the sign of zero and infinity significant.
template <class T> void check_values(const Tensor& t, const std::vector<double>& expected, double rel = 0) {
  const auto& a = t.data<T>();
  REQUIRE(a.size() == expected.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    const double got = a.data()[i], want = expected[i];
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
    } else if (std::isinf(want) || want == 0) {
      CHECK(got == want);
      CHECK(std::signbit(got) == std::signbit(want));
    } else if (rel == 0) {
      CHECK(got == want);
    } else {
      CHECK(got == doctest::Approx(want).epsilon(rel));
    }
  }
}

std::pair<Tensor, Tensor> blobs_of(std::size_t n, std::uint64_t seed, Dtype dt = kFloat32) {
  manual_seed(seed);
  Tensor x = randn({n, 2}, kFloat64);
  Tensor y = zeros({n}, kFloat64);
  for (std::size_t i = 0; i < n; ++i) {
    const double c = i % 2 ? 1.5 : -1.5;
    x.data<double>()(i, 0) += c, x.data<double>()(i, 1) += c;
    y.data<double>()(i) = static_cast<double>(i % 2);
  }
  return {x.to(dt), y.to(dt)};
}


nn::Model tanh_classifier(std::uint64_t seed, Dtype dt = kFloat32, const std::string& optimizer = "adam") {
  manual_seed(seed);
  nn::Linear::Options lo;
  lo.dtype = dt;
  nn::Model m;
  m.add(nn::make_dense(2, 8, "tanh", lo)).add(nn::make_dense(8, 2, "softmax", lo));
  m.compile(optimizer, "sparse_categorical_crossentropy", {"accuracy"}, 0.05);
  return m;
}


}  // namespace

// ---- deep and wide graphs ------------------------------------------------------------------------------------------

TEST_CASE("reliability: a 10^5-way fan-in (concat) and fan-out (one leaf used 10^5 times) back-propagate") {
  const double before = test::resident_mib();
  double peak = 0;
  {
    // Fan-in: one node with 10^5 inputs. L = Σ_i c_i·x_i with c_i = i mod 7, so ∂L/∂x_i = c_i.
    std::vector<Tensor> xs;
    xs.reserve(kFanIn);
    for (std::size_t i = 0; i < kFanIn; ++i) xs.push_back(from_vector({double(i % 3)}, {1}, kFloat64).requires_grad_());
    std::vector<double> c(kFanIn);
    for (std::size_t i = 0; i < kFanIn; ++i) c[i] = double(i % 7);
    Tensor loss = sum(concat(xs) * from_vector(c, {kFanIn}, kFloat64));
    // Fan-out: w feeds 10^5 separate products, each summed on its own; ∂/∂w = Σ_i (i mod 5).
    Tensor w = tensor(2.0, kFloat64).requires_grad_();
    std::vector<Tensor> terms;
    terms.reserve(kFanIn);
    for (std::size_t i = 0; i < kFanIn; ++i) terms.push_back(reshape(w * double(i % 5), {1}));
    Tensor loss2 = sum(concat(terms));
    peak = test::resident_mib();
    (loss + loss2).backward();
    bool all = true;
    for (std::size_t i = 0; i < kFanIn; ++i) all = all && xs[i].grad().item() == c[i];
    CHECK(all);
    double expected = 0;
    for (std::size_t i = 0; i < kFanIn; ++i) expected += double(i % 5);
    CHECK(w.grad().item() == expected);
  }
  const double after = test::resident_mib();
  MESSAGE(kFanIn << "-way fan-in and fan-out: RSS " << before << " MiB before, " << peak << " MiB built, " << after
                 << " MiB after");
  if (kMeasureRss) {
    CHECK(peak - before > 10);
    CHECK(after - before < 10);
  }
}

// ---- numerical edges, against torch 1.13 (tests/reference/reliability_edges.py) ----------------------------------

TEST_CASE_TEMPLATE("reliability: log, sqrt and div at zero give torch's infinities and NaNs, values and gradients",
                   T, float, double) {
  const Dtype dt = std::is_same_v<T, float> ? kFloat32 : kFloat64;
  const double nan = std::nan("");
  {
    Tensor x = tensor({0.0, -0.0, -1.0, 4.0}, dt).requires_grad_();
    Tensor y = log(x);
    sum(y).backward();
    check_values<T>(y, {-kInf, -kInf, nan, std::log(4.0)}, 1e-6);
    check_values<T>(x.grad(), {kInf, -kInf, -1.0, 0.25});
  }
  {
    Tensor x = tensor({0.0, -0.0, -1.0, 4.0}, dt).requires_grad_();
    Tensor y = sqrt(x);
    sum(y).backward();
    check_values<T>(y, {0.0, -0.0, nan, 2.0});
    check_values<T>(x.grad(), {kInf, -kInf, nan, 0.25});
  }
  {
    Tensor a = tensor({1.0, -1.0, 0.0, 3.0}, dt).requires_grad_();
    Tensor b = tensor({0.0, 0.0, 0.0, 2.0}, dt).requires_grad_();
    Tensor y = a / b;
    sum(y).backward();
    check_values<T>(y, {kInf, -kInf, nan, 1.5});
    check_values<T>(a.grad(), {kInf, kInf, kInf, 0.5});
    check_values<T>(b.grad(), {-kInf, kInf, nan, -0.75});
  }
}

TEST_CASE("reliability: anomaly mode stops at the first op that makes a NaN or an infinity, forward or backward") {
  Tensor a = tensor({1.0, 0.0}, kFloat64).requires_grad_().label("a");
  Tensor b = tensor({2.0, 0.0}, kFloat64).requires_grad_().label("b");
  {
    AnomalyMode guard;
    const std::string forward = test::message([&] { (a / b).label("ratio"); });
    CHECK(forward.rfind("anomaly mode: forward of 'div' produced NaN", 0) == 0);
    Tensor r = sqrt(a);  // finite forward (sqrt 0 = 0), infinite derivative 1/(2·√0) at a = 0
    const std::string backward = test::message([&] { sum(r).backward(); });
    CHECK(backward.rfind("anomaly mode: backward of 'sqrt'", 0) == 0);
    CHECK(backward.find("inf") != std::string::npos);
  }
  Tensor r = a / b;  // outside the guard: torch's values, no error
  CHECK(std::isnan(r.data<double>()(1)));
}

TEST_CASE_TEMPLATE("reliability: softmax, log_softmax and cross-entropy at logits of ±1e4 stay finite, as torch",
                   T, float, double) {
  const Dtype dt = std::is_same_v<T, float> ? kFloat32 : kFloat64;
  Tensor z = tensor({1e4, -1e4, 0.0}, dt).requires_grad_();
  Tensor s = softmax(z, 0);
  check_values<T>(s, {1.0, 0.0, 0.0});
  check_values<T>(log_softmax(z, 0), {0.0, -2e4, -1e4});
  sum(s * tensor({1.0, 2.0, 3.0}, dt)).backward();
  check_values<T>(z.grad(), {0.0, 0.0, 0.0});

  Tensor logits = tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 1e4}}, dt).requires_grad_();
  Tensor ce = nn::cross_entropy(logits, std::vector<std::size_t>{1, 2}, nn::Reduction::Sum);
  CHECK(ce.item() == doctest::Approx(20000.69314718056).epsilon(std::is_same_v<T, float> ? 1e-7 : 1e-15));
  ce.backward();
  check_values<T>(logits.grad(), {1.0, -1.0, 0.0, 0.0, 0.5, -0.5}, 1e-7);
}

TEST_CASE_TEMPLATE("reliability: binary cross-entropy at probabilities 0 and 1 is torch's clamped value", T, float,
                   double) {
  const Dtype dt = std::is_same_v<T, float> ? kFloat32 : kFloat64;
  Tensor p = tensor({0.0, 1.0, 0.0, 1.0}, dt).requires_grad_();
  Tensor l = nn::binary_cross_entropy(p, tensor({0.0, 1.0, 1.0, 0.0}, dt), nn::Reduction::None);
  check_values<T>(l, {0.0, -0.0, 100.0, 100.0});  // torch 1.13, both dtypes: [0.0, -0.0, 100.0, 100.0]
  sum(l).backward();
  // torch gives ∓1.000000004e12 in float64: its 1e-12 floor is a float constant; ours is 1e-12 in each dtype.
  check_values<T>(p.grad(), {0.0, 0.0, -1e12, 1e12}, 1e-7);
}

TEST_CASE("reliability: float32 and float64 train to the same weights (same start, 10 epochs of SGD)") {
  auto [x, y] = blobs_of(64, 3, kFloat64);
  nn::Model m64 = tanh_classifier(5, kFloat64, "sgd");
  nn::Model m32 = tanh_classifier(5, kFloat32, "sgd");
  for (std::size_t i = 0; i < m64.parameters().size(); ++i)  // the same starting point, exactly
    m32.parameters()[i].data<float>() = xt::cast<float>(m64.parameters()[i].data<double>());
  nn::History h64 = m64.fit(x, y, quiet(10, 16));
  nn::History h32 = m32.fit(x.to(kFloat32), y.to(kFloat32), quiet(10, 16));
  for (std::size_t e = 0; e < 10; ++e) CHECK(h32["loss"][e] == doctest::Approx(h64["loss"][e]).epsilon(1e-5));
  double worst = 0;
  for (std::size_t i = 0; i < m64.parameters().size(); ++i) {
    const auto& a = m64.parameters()[i].data<double>();
    const auto& b = m32.parameters()[i].data<float>();
    for (std::size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(a.data()[k] - double(b.data()[k])));
  }
  MESSAGE("largest float32 - float64 weight difference after 10 epochs: " << worst);
  CHECK(worst < 1e-5);
}

TEST_CASE("reliability: a batch larger than the data is one full batch; empty data is a clear error") {
  auto [x, y] = blobs_of(20, 4);
  nn::Model a = tanh_classifier(6), b = tanh_classifier(6);
  a.fit(x, y, quiet(3, 20));
  b.fit(x, y, quiet(3, std::numeric_limits<std::size_t>::max()));
  for (std::size_t i = 0; i < a.parameters().size(); ++i)
    CHECK(a.parameters()[i].data<float>() == b.parameters()[i].data<float>());
  CHECK(b.evaluate(x, y, std::numeric_limits<std::size_t>::max()).at("loss") ==
        doctest::Approx(a.evaluate(x, y, 7).at("loss")).epsilon(1e-6));

  const Tensor none = zeros({0, 2}), no_labels = zeros({0});
  CHECK(message([&] { a.fit(none, no_labels, quiet(1, 4)); }) == "Model::fit: no training rows (x is [0,2])");
  CHECK(message([&] { a.evaluate(none, no_labels); }) == "Model::evaluate: no rows (x is [0,2])");
  CHECK(a.predict(none).shape() == Shape{0, 2});  // predicting nothing is fine, as in Keras and torch
}

TEST_CASE("reliability: a batch of 1 through BatchNorm1d in training is an error naming the layer, as in torch") {
  manual_seed(8);
  nn::Model m;
  m.add(nn::make_dense(2, 4, "relu")).add(std::make_shared<nn::BatchNorm1d>(4)).add(nn::make_dense(4, 2, "softmax"));
  m.compile("sgd", "sparse_categorical_crossentropy");
  auto [x, y] = blobs_of(9, 9);
  // 9 rows in batches of 4 leave a last batch of 1: torch's BatchNorm1d refuses it, so does ours.
  CHECK(message([&] { m.fit(x, y, quiet(1, 4)); }) ==
        "BatchNorm1d: expected more than 1 value per channel when training, got input [1,4]");
  CHECK_NOTHROW(m.fit(x, y, quiet(1, 3)));  // 3 batches of 3
  CHECK(m.predict(nn::take_rows(x, {0})).shape() == Shape{1, 2});  // in eval mode the running statistics serve
}

// ---- no data lost ----------------------------------------------------------------------------------------------------

namespace {
// Fails the save of one chosen epoch, at one chosen stage, then lets the next ones through.
class FailingSaveAt : public nn::Callback {
 public:
  FailingSaveAt(std::size_t epoch, nn::io_testing::WriteStage stage) : epoch_(epoch), stage_(stage) {}
  void on_epoch_end(nn::Model&, std::size_t epoch, nn::Logs&) override {
    nn::io_testing::set_write_failure(epoch + 1 == epoch_ ? stage_ : nn::io_testing::WriteStage::None);
  }
  void on_train_end(nn::Model&) override { nn::io_testing::set_write_failure(nn::io_testing::WriteStage::None); }

 private:
  std::size_t epoch_;
  nn::io_testing::WriteStage stage_;
};
}  // namespace

TEST_CASE("reliability: a checkpoint save failing at any stage keeps the previous checkpoint, and resuming from it "
          "gives the weights of uninterrupted training") {
  using nn::io_testing::WriteStage;
  auto [x, y] = blobs_of(32, 12);
  nn::Model full = tanh_classifier(13);
  full.fit(x, y, quiet(4, 8));  // the uninterrupted run

  for (WriteStage stage : {WriteStage::Open, WriteStage::Write, WriteStage::Flush, WriteStage::Fsync,
                           WriteStage::Close, WriteStage::Rename}) {
    CAPTURE(nn::io_testing::write_stage_name(stage));
    TempDir dir;
    const std::string ckpt = dir / "ckpt.safetensors";
    nn::Model m = tanh_classifier(13);
    auto o = quiet(4, 8);
    // Epoch 2 saves fine; epoch 3's save fails (the callback before the checkpoint arms the failure), which ends fit
    // with the save's error: as if the process had died there.
    o.callbacks = {std::make_shared<FailingSaveAt>(3, stage),
                   std::make_shared<nn::ModelCheckpoint>(ckpt, "loss", /*save_best_only=*/false)};
    const std::string err = message([&] { m.fit(x, y, o); });
    nn::io_testing::set_write_failure(WriteStage::None);  // fit ended by the exception: on_train_end never ran
    CHECK(err.find(ckpt + ": save failed at " + nn::io_testing::write_stage_name(stage)) == 0);
    CHECK(std::vector<fs::path>(fs::directory_iterator(dir.path()), {}) == std::vector<fs::path>{ckpt});  // no temp file

    nn::Model resumed = nn::Model::load(ckpt);  // the epoch-2 checkpoint, intact
    auto r = quiet(4, 8);
    r.initial_epoch = 2;
    resumed.fit(x, y, r);
    for (std::size_t i = 0; i < full.parameters().size(); ++i)
      CHECK(resumed.parameters()[i].data<float>() == full.parameters()[i].data<float>());
  }
}

// ---- threads -------------------------------------------------------------------------------------------------------
// What is thread-safe (README, "Reliability"): recording, grad mode and the random generator are per thread, so
// separate models may be built, trained, saved and loaded in separate threads at once. One model or tensor must
// not be used by two threads at the same time.

TEST_CASE("threads: two models trained in two threads end bit-identical to the same models trained in turn") {
  auto [x, y] = blobs_of(256, 21);
  auto [x2, y2] = blobs_of(192, 22);
  nn::Model a1 = tanh_classifier(23), b1 = tanh_classifier(24, kFloat32, "rmsprop");
  a1.fit(x, y, quiet(20, 8));
  b1.fit(x2, y2, quiet(20, 4));

  nn::Model a2 = tanh_classifier(23), b2 = tanh_classifier(24, kFloat32, "rmsprop");
  std::string error_a, error_b;
  std::thread ta([&] { error_a = message([&] { a2.fit(x, y, quiet(20, 8)); }); });
  std::thread tb([&] { error_b = message([&] { b2.fit(x2, y2, quiet(20, 4)); }); });
  ta.join();
  tb.join();
  CHECK(error_a == "no error");
  CHECK(error_b == "no error");
  for (std::size_t i = 0; i < a1.parameters().size(); ++i) {
    CHECK(a1.parameters()[i].data<float>() == a2.parameters()[i].data<float>());
    CHECK(b1.parameters()[i].data<float>() == b2.parameters()[i].data<float>());
  }
}

TEST_CASE("threads: grad mode and the random generator are per thread") {
  manual_seed(77);
  const Tensor here = randn({4});
  Tensor there, fresh;
  bool recorded = false;
  {
    NoGradGuard off;  // this thread stops recording; the other one still records
    std::thread t([&] {
      Tensor w = tensor(1.0).requires_grad_();
      recorded = (w * 2.0).requires_grad();
      fresh = randn({4});  // a new thread starts from the default seed, whatever this one did
      manual_seed(77);
      there = randn({4});
    });
    t.join();
  }
  CHECK(recorded);
  CHECK(there.data<float>() == here.data<float>());
  manual_seed(0x5eed);
  CHECK(fresh.data<float>() == randn({4}).data<float>());
}

TEST_CASE("threads: saving and loading different files from several threads at once") {
  TempDir dir;
  auto [x, y] = blobs_of(16, 31);
  std::vector<nn::Model> models;
  for (std::uint64_t s = 0; s < 4; ++s) models.push_back(tanh_classifier(40 + s));
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      errors[t] = message([&] {
        const std::string p = dir / ("m" + std::to_string(t) + ".safetensors");
        for (int k = 0; k < 5; ++k) {
          models[t].save(p);
          nn::Model back = nn::Model::load(p);
          if (!(back.predict(x).data<float>() == models[t].predict(x).data<float>()))
            throw std::runtime_error("thread " + std::to_string(t) + ": loaded model predicts differently");
        }
      });
    });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) CHECK(e == "no error");
}
