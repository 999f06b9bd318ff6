// The MPI-free side of data-parallel training: shard(), DataParallel's weighting and checks, and fit with a
// one-process group. 2-rank jobs over MPI are in tests/mpi/.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <chainrule/nn/data_parallel.hpp>
#include <chainrule/nn/model.hpp>

using namespace chainrule;

namespace {

// A group of `size` ranks seen from rank `rank`, in one process: the "other ranks" contribute `others` to every
// allreduce (per element), and broadcasts deliver `root_values` (what rank 0 would send), or leave the buffer
// alone when it is empty.
class FakeGroup : public nn::ProcessGroup {
 public:
  FakeGroup(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* b, std::size_t n) override { add(b, n); }
  void allreduce_sum(double* b, std::size_t n) override { add(b, n); }
  void broadcast(float* b, std::size_t n, int) override { deliver(b, n); }
  void broadcast(double* b, std::size_t n, int) override { deliver(b, n); }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& msg) override { throw std::runtime_error("abort: " + msg); }

  std::vector<double> others, root_values;
  std::size_t allreduces = 0;

 private:
  template <class T> void add(T* b, std::size_t n) {
    ++allreduces;
    for (std::size_t i = 0; i < n && i < others.size(); ++i) b[i] += static_cast<T>(others[i]);
  }
  template <class T> void deliver(T* b, std::size_t n) {
    if (root_values.empty()) return;
    REQUIRE(root_values.size() >= n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<T>(root_values[i]);
    root_values.erase(root_values.begin(), root_values.begin() + static_cast<long>(n));
  }
  int rank_, size_;
};

}  // namespace

TEST_CASE("shard: consecutive slices whose sizes differ by at most one, covering the batch once") {
  // 10 rows over 3 ranks: ⌊10·r/3⌋ = 0, 3, 6, 10
  CHECK(nn::shard(20, 30, 0, 3) == std::pair<std::size_t, std::size_t>{20, 23});
  CHECK(nn::shard(20, 30, 1, 3) == std::pair<std::size_t, std::size_t>{23, 26});
  CHECK(nn::shard(20, 30, 2, 3) == std::pair<std::size_t, std::size_t>{26, 30});
  // 1 row over 2 ranks: rank 0 gets none, rank 1 the row
  CHECK(nn::shard(5, 6, 0, 2) == std::pair<std::size_t, std::size_t>{5, 5});
  CHECK(nn::shard(5, 6, 1, 2) == std::pair<std::size_t, std::size_t>{5, 6});
  CHECK(nn::shard(0, 7, 0, 1) == std::pair<std::size_t, std::size_t>{0, 7});
  CHECK(test::message([] { nn::shard(0, 7, 2, 2); }) == "shard: need 0 <= rank < size, got rank 2 of 2");
  CHECK(test::message([] { nn::shard(3, 2, 0, 1); }) == "shard: batch [3, 2) ends before it begins");
}

TEST_CASE("DataParallel: gradients become Σ_r (n_r/n)·g_r, values too, in one allreduce") {
  // Rank 0 of 2 with 3 of a batch's 8 rows; the other rank's weighted gradient (5/8)·g_1 arrives in the allreduce.
  auto g = std::make_shared<FakeGroup>(0, 2);
  Tensor w = tensor({{1.0, 2.0}}, TensorOptions().dtype(kFloat64).requires_grad(true));  // [1,2]
  Tensor b = tensor(std::vector<double>{0.5}, TensorOptions().dtype(kFloat64).requires_grad(true));
  nn::DataParallel dp(g, {w, b});
  sum(w * tensor({{3.0, -1.0}}, kFloat64)).backward();  // dL/dw = [3, -1]; b gets no gradient
  g->others = {0.625 * 1.0, 0.625 * 5.0, 0.625 * 2.0, 0.625 * 0.4};  // (5/8)·[1, 5 | 2 | loss 0.4]
  std::vector<double> v = {0.8};                                     // this rank's mean loss
  const std::size_t before = g->allreduces;
  dp.allreduce_gradients(3, 8, v);
  CHECK(g->allreduces == before + 1);
  CHECK(w.grad().data<double>()(0, 0) == doctest::Approx(0.375 * 3 + 0.625 * 1).epsilon(1e-15));
  CHECK(w.grad().data<double>()(0, 1) == doctest::Approx(0.375 * -1 + 0.625 * 5).epsilon(1e-15));
  REQUIRE(b.grad().defined());  // created: this rank computed none
  CHECK(b.grad().data<double>()(0) == doctest::Approx(0.625 * 2).epsilon(1e-15));
  CHECK(v[0] == doctest::Approx(0.375 * 0.8 + 0.625 * 0.4).epsilon(1e-15));
  // A rank without rows contributes zeros, even where its gradient holds a NaN.
  Tensor wg = w.grad();  // a named handle: writes through a temporary one are refused at compile time
  wg.data<double>()(0, 0) = NAN;
  g->others = {1, 2, 3, 4};
  v = {NAN};
  dp.allreduce_gradients(0, 8, v);
  CHECK(w.grad().data<double>()(0, 0) == 1);
  CHECK(w.grad().data<double>()(0, 1) == 2);
  CHECK(v[0] == 4);
  CHECK(test::message([&] { dp.allreduce_gradients(9, 8, v); }) ==
        "DataParallel::allreduce_gradients: this rank's rows (9) must be at most the global batch's (8), which "
        "must be positive");
}

TEST_CASE("DataParallel: the constructor takes rank 0's weights and rejects a model that differs") {
  Tensor w = zeros({2, 2}, TensorOptions().requires_grad(true));
  auto g = std::make_shared<FakeGroup>(1, 2);
  // Rank 0's check values (count, then parameter count, elements, buffer count), then its weights.
  g->root_values = {3, 1, 4, 0, 1, 2, 3, 4};
  nn::DataParallel dp(g, {w});
  CHECK(w.data<float>()(1, 0) == 3);
  g->root_values = {3, 1, 6, 0};
  CHECK(test::message([&] { nn::DataParallel(g, {w}); }) ==
        "DataParallel: rank 1 has parameter elements = 4, rank 0 has 6; every rank must run the same model on the "
        "same data with the same options");
  Tensor d = zeros({2}, TensorOptions().dtype(kFloat64).requires_grad(true));
  CHECK(test::message([&] { nn::DataParallel(g, {w, d}); }) ==
        "DataParallel: parameters have mixed dtypes (parameter 0 is float32, parameter 1 is float64); data-parallel "
        "training needs one");
  CHECK(test::message([&] { nn::DataParallel(nullptr, {w}); }) == "DataParallel: null process group");
}

TEST_CASE("fit: a one-process group trains bit for bit as no group") {
  auto data = [] {
    manual_seed(5);
    Tensor x = randn({50, 3});
    Tensor y = zeros({50});
    for (std::size_t i = 0; i < 50; ++i) y.data<float>()(i) = x.data<float>()(i, 0) > 0 ? 1.f : 0.f;
    return std::pair(x, y);
  };
  auto model = [] {
    manual_seed(9);
    nn::Model m;
    m.add(nn::make_dense(3, 4, "relu")).add(nn::make_dense(4, 2, "softmax"));
    m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"}, 0.01);
    return m;
  };
  auto [x, y] = data();
  nn::FitOptions o;
  o.epochs = 3, o.batch_size = 8, o.verbose = 0, o.validation_split = 0.2;
  nn::Model a = model(), b = model();
  const nn::History ha = a.fit(x, y, o);
  o.process_group = std::make_shared<FakeGroup>(0, 1);
  const nn::History hb = b.fit(x, y, o);
  for (std::size_t i = 0; i < a.parameters().size(); ++i)
    CHECK(a.parameters()[i].data<float>() == b.parameters()[i].data<float>());
  CHECK(ha["loss"] == hb["loss"]);
  CHECK(ha["accuracy"] == hb["accuracy"]);
  CHECK(ha["val_loss"] == hb["val_loss"]);
}

TEST_CASE("fit: with a process group, an error becomes the group's abort (no rank left waiting)") {
  nn::Model m;
  m.add(nn::make_dense(3, 2));
  m.compile("sgd", "mse");
  nn::FitOptions o;
  o.batch_size = 0;
  o.process_group = std::make_shared<FakeGroup>(0, 1);
  CHECK(test::message([&] { m.fit(zeros({4, 3}), zeros({4, 2}), o); }) ==
        "abort: Model::fit: batch_size must be >= 1, got 0");
  CHECK(m.process_group() == nullptr);
}
