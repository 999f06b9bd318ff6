// A second, independent check for behaviours that hung on one assertion each (issue 15, item 9): max's tie split,
// dropout's 1/(1 − p) scale, early stopping's patience. Each is asserted here by another route than the first test.
#include <doctest/doctest.h>

#include <utility>

#include "helpers.hpp"

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>

using namespace chainrule;

TEST_CASE("second check: max over two axes splits the gradient among ties, weighted by the upstream gradient") {
  // x [2,2,3]; max over axes 0 and 2 leaves one value per middle index j.
  //   j = 0: {1, 5, 5, 5, 2, 0} → 5, held three times: each 5 gets g₀/3
  //   j = 1: {7, 1, 1, 0, 0, 0} → 7, once: it gets g₁
  Tensor x = tensor({{{1.0, 5.0, 5.0}, {7.0, 1.0, 1.0}}, {{5.0, 2.0, 0.0}, {0.0, 0.0, 0.0}}}, kFloat32).requires_grad_();
  Tensor y = max(x, {0, 2});
  CHECK(std::as_const(y).data<float>() == Array<float>({5, 7}));  // a read: no version bump
  sum(y * tensor({3.0, 2.0}, kFloat32)).backward();  // g = (3, 2): each tied 5 gets exactly 1
  CHECK(x.grad().data<float>() == Array<float>({{{0, 1, 1}, {2, 0, 0}}, {{1, 0, 0}, {0, 0, 0}}}));
  // All axes, two ties among four: half each; a value equal to the max only after rounding is not a tie.
  Tensor z = tensor({0.1 + 0.2, 0.3, 0.30000000000000004, -1.0}, kFloat64).requires_grad_();
  max(z).backward();
  CHECK(z.grad().data<double>() == Array<double>({0.5, 0, 0.5, 0}));
}

TEST_CASE("second check: dropout's kept values are exactly x/(1 − p), and so is its gradient") {
  for (double p : {0.5, 0.75, 0.2}) {
    CAPTURE(p);
    nn::Dropout d(p);
    manual_seed(21);
    Tensor x = full({50, 40}, 3.0, kFloat64).requires_grad_();
    Tensor y = d(x);
    sum(y).backward();
    const double scale = 1 / (1 - p);
    std::size_t kept = 0;
    for (std::size_t k = 0; k < y.numel(); ++k) {
      const double v = y.data<double>().data()[k], g = x.grad().data<double>().data()[k];
      CHECK((v == 0 || v == 3 * scale));  // nothing in between: one mask, one scale
      CHECK(g == (v == 0 ? 0 : scale));   // ∂y/∂x = mask/(1 − p)
      kept += v != 0;
    }
    // 2,000 Bernoulli(1 − p) draws: within 5 standard deviations of the mean
    const double n = 2000, mean = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
    CHECK(std::abs(double(kept) - mean) < 5 * sd);
  }
}

TEST_CASE("second check: early stopping counts `patience` epochs without improvement on a scripted sequence") {
  // val_loss by epoch: 5, 4, 4.5, 3, 3.5, 3.2, 3.1: best at epoch 4, then 5 and 6 do not improve.
  const std::vector<double> val = {5, 4, 4.5, 3, 3.5, 3.2, 3.1};
  for (int patience : {1, 2, 3, 4}) {
    CAPTURE(patience);
    nn::EarlyStopping::Options o;
    o.monitor = "val_loss", o.patience = patience;
    nn::EarlyStopping stop(o);
    nn::Model m;
    stop.on_train_begin(m);
    std::size_t epochs = 0;
    for (std::size_t e = 0; e < val.size() && !m.stop_training; ++e, ++epochs) {
      nn::Logs logs{{"val_loss", val[e]}};
      stop.on_epoch_end(m, e, logs);
    }
    // patience 1 stops at epoch 3 (4.5 after 4); 2 at epoch 6; 3 at 7 (3.1 is still worse than 3); 4 never
    const std::size_t want = patience == 1 ? 3 : patience == 2 ? 6 : patience == 3 ? 7 : 0;
    CHECK(stop.stopped_epoch() == want);
    CHECK(epochs == (want ? want : val.size()));
    if (want)
      CHECK(m.stop_reason == "early stopping at epoch " + std::to_string(want) +
                                 ": val_loss has not improved since epoch " + std::to_string(want == 3 ? 2 : 4));
  }
}
