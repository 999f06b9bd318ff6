// The MPI-free side of data-parallel training: shard(), DataParallel's weighting and checks, and fit with a
// one-process group. 2-rank jobs over MPI are in tests/mpi/.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <chainrule/nn/data_parallel.hpp>
#include <chainrule/nn/model.hpp>

using namespace chainrule;

namespace {

// A group of `size` ranks seen from rank `rank`, in one process: the "other ranks" contribute `others` to every
// allreduce (per element), and broadcasts from another rank deliver `root_values` (what the root would send), or
// leave the buffer alone when it is empty.
class FakeGroup : public nn::ProcessGroup {
 public:
  FakeGroup(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* b, std::size_t n) override { add(b, n); }
  void allreduce_sum(double* b, std::size_t n) override { add(b, n); }
  void broadcast(float* b, std::size_t n, int root) override { deliver(b, n, root); }
  void broadcast(double* b, std::size_t n, int root) override { deliver(b, n, root); }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& msg) override { throw std::runtime_error("abort: " + msg); }

  std::vector<double> others, root_values;
  std::size_t allreduces = 0;

 private:
  template <class T> void add(T* b, std::size_t n) {
    ++allreduces;
    for (std::size_t i = 0; i < n && i < others.size(); ++i) b[i] += static_cast<T>(others[i]);
  }
  template <class T> void deliver(T* b, std::size_t n, int root) {
    if (root_values.empty() || root == rank_) return;  // the root sends its own
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

// Parameters of 10, 300, 20, 300 and 5 elements, each its own bucket; buckets in backward order p4, p3, p2, p1, p0.
// Largest first to the least-loaded rank of 3 (ties: the earlier bucket, the lower rank): p3 (300) to rank 0, p1
// (300) to rank 1, then p2 (20), p0 (10) and p4 (5) to rank 2 (20, 30, 35 elements < 300).
TEST_CASE("DataParallel: shard_optimizer deals the buckets largest first to the least-loaded rank") {
  std::vector<Tensor> ps;
  for (std::size_t n : {10, 300, 20, 300, 5}) ps.push_back(zeros({n}, TensorOptions().requires_grad(true)));
  nn::DataParallelOptions o;
  o.shard_optimizer = true, o.bucket_mib = 1e-6;  // 4 bytes: one parameter per bucket
  const std::vector<std::vector<bool>> expect = {
      {false, false, false, true, false}, {false, true, false, false, false}, {true, false, true, false, true}};
  for (int r = 0; r < 3; ++r) {
    nn::DataParallel dp(std::make_shared<FakeGroup>(r, 3), ps, {}, o);
    for (std::size_t i = 0; i < ps.size(); ++i) CHECK_MESSAGE(dp.owns(i) == expect[r][i], "rank " << r << " p" << i);
  }
  nn::DataParallel unsharded(std::make_shared<FakeGroup>(1, 3), ps);
  for (std::size_t i = 0; i < ps.size(); ++i) CHECK(unsharded.owns(i));  // every rank updates every parameter
  CHECK(test::message([&] { unsharded.owns(5); }) == "DataParallel::owns: parameter 5 of 5");
}

// Rank 1 of 2. Buckets in backward order: b (2 elements), a (3); a, the larger, goes to rank 0, b to rank 1. After
// the reduction a loses its gradient, so the optimizer leaves it (and keeps no state for it); step() then takes
// rank 0's value of a from the broadcast, and sends b.
TEST_CASE("DataParallel: shard_optimizer drops the others' gradients and takes their parameters from the owner") {
  auto g = std::make_shared<FakeGroup>(1, 2);
  Tensor a = tensor(std::vector<double>{1, 2, 3}, TensorOptions().dtype(kFloat64).requires_grad(true));
  Tensor b = tensor(std::vector<double>{4, 5}, TensorOptions().dtype(kFloat64).requires_grad(true));
  nn::DataParallelOptions o;
  o.shard_optimizer = true, o.bucket_mib = 1e-6;
  g->root_values = {3, 2, 5, 0, 1, 2, 3, 4, 5};  // rank 0's check values (as in the test above) and weights
  nn::DataParallel dp(g, {a, b}, {}, o);
  REQUIRE_FALSE(dp.owns(0));
  REQUIRE(dp.owns(1));
  sum(a * a + sum(b * 3.0)).backward();  // dL/da = 2a, dL/db = [9, 9]: 3 for each of a's 3 terms
  g->others = {1.5, 2.5, 0};  // the other rank's (1/2)·g, added by each reduction
  std::vector<double> v;
  dp.allreduce_gradients(1, 2, v);  // half the rows here: b's gradient 0.5·[9, 9] + [1.5, 2.5]
  CHECK_FALSE(a.grad().defined());
  REQUIRE(b.grad().defined());
  CHECK(std::vector<double>(b.grad().data<double>().begin(), b.grad().data<double>().end()) ==
        std::vector<double>{6, 7});
  optim::SGD opt({a, b}, optim::SGD::Options{0.5, 0.9});
  CHECK(test::message([&] { dp.begin_step(1, 2); }).find("not shared; with shard_optimizer") != std::string::npos);
  g->root_values = {10, 20, 30};  // rank 0's updated a (rank 1 is the root of b's broadcast: sends, keeps)
  dp.step(opt);
  CHECK(std::vector<double>(a.data<double>().begin(), a.data<double>().end()) == std::vector<double>{10, 20, 30});
  CHECK(std::vector<double>(b.data<double>().begin(), b.data<double>().end()) == std::vector<double>{1, 1.5});
  const optim::NamedTensors state = opt.state();
  REQUIRE(state.size() == 1);
  CHECK(state[0].first == "momentum_buffer.1");  // none for a
  dp.begin_step(1, 2);  // shared: the next step may start

  // Gathering the state: an owner without state for its parameter sends nothing, and none is made here.
  g->others = {0, 0};  // the sum of "the owner has state" flags: rank 0 has none for a
  dp.consolidate_optimizer_state(opt);
  REQUIRE(opt.state().size() == 1);
  // Once rank 0 has a's, it arrives (b's is ours: sent, kept).
  g->others = {1, 0}, g->root_values = {7, 8, 9};
  dp.consolidate_optimizer_state(opt);
  const optim::NamedTensors whole = opt.state();
  REQUIRE(whole.size() == 2);
  CHECK(whole[0].first == "momentum_buffer.0");
  CHECK(std::vector<double>(whole[0].second.data<double>().begin(), whole[0].second.data<double>().end()) ==
        std::vector<double>{7, 8, 9});
  CHECK(whole[1].second.data<double>()(0) == state[0].second.data<double>()(0));
  optim::SGD foreign({zeros({2}, TensorOptions().dtype(kFloat64).requires_grad(true))}, optim::SGD::Options{0.5});
  CHECK(test::message([&] { dp.consolidate_optimizer_state(foreign); }) ==
        "DataParallel::consolidate_optimizer_state: the SGD optimizer's parameter 0 is not one of this "
        "DataParallel's parameters");
  // A step every rank decides not to take (fit's non-finite loss): skip_step, and the next one may start.
  g->others = {0, 0, 0};
  dp.allreduce_gradients(1, 2, v);
  dp.skip_step();
  dp.begin_step(1, 2);
}

TEST_CASE("Optimizer::param_state: the state itself, made on request as at a first update") {
  Tensor p = tensor(std::vector<double>{1, 2}, TensorOptions().dtype(kFloat64).requires_grad(true));
  optim::Adam opt({p}, optim::Adam::Options{});
  CHECK(opt.param_state(0).empty());  // not yet updated
  std::vector<Tensor> s = opt.param_state(0, true);
  REQUIRE(s.size() == 3);  // step, exp_avg, exp_avg_sq
  CHECK(s[0].dtype() == kFloat64);
  CHECK(s[0].numel() == 1);
  CHECK(s[1].shape() == p.shape());
  s[1].data<double>()(1) = 0.25;  // written through: the optimizer's own tensor
  const optim::NamedTensors state = opt.state();
  REQUIRE(state.size() == 3);
  CHECK(state[1].first == "exp_avg.0");
  CHECK(state[1].second.data<double>()(1) == 0.25);
  CHECK(test::message([&] { opt.param_state(1); }) == "Adam: param_state: parameter 1 of 1");
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

// Mid-epoch, a sharded fit's optimizer state is spread over the ranks, so a save from a batch hook would write a
// partial checkpoint: refused. At the epoch's end the state has been gathered and the save goes through.
TEST_CASE("fit: with a sharded optimizer, Model::save is refused mid-epoch and works at the epoch's end") {
  struct Saver : nn::Callback {
    std::string path;
    bool at_batch = false;
    std::size_t saved = 0;
    void on_batch_end(nn::Model& m, std::size_t, const nn::Logs&) override {
      if (at_batch) m.save(path);
    }
    void on_epoch_end(nn::Model& m, std::size_t, nn::Logs&) override { m.save(path), ++saved; }
  };
  const test::TempDir dir;
  auto saver = std::make_shared<Saver>();
  saver->path = dir / "m.safetensors";
  nn::Model m;
  m.add(nn::make_dense(3, 2));
  m.compile("adam", "mse");
  nn::FitOptions o;
  o.epochs = 2, o.batch_size = 2, o.verbose = 0, o.callbacks = {saver};
  o.process_group = std::make_shared<FakeGroup>(0, 2);  // rank 0 of 2: the other rank's sums are zeros
  o.data_parallel.shard_optimizer = true;
  m.fit(zeros({4, 3}), zeros({4, 2}), o);
  CHECK(saver->saved == 2);
  saver->at_batch = true;
  CHECK(test::message([&] { m.fit(zeros({4, 3}), zeros({4, 2}), o); }) ==
        "abort: Model::fit: Model::save: " + saver->path +
            ": the optimizer's state is spread over the ranks of a fit with a sharded optimizer "
            "(FitOptions::data_parallel) until the epoch ends; save at an epoch's end (ModelCheckpoint) or after fit");
  o.data_parallel.shard_optimizer = false;  // unsharded: every rank holds all of it at every batch
  m.fit(zeros({4, 3}), zeros({4, 2}), o);
  CHECK(saver->saved == 4);
}
