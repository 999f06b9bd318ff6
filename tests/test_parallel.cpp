// Intra-op parallelism (autograd/parallel.hpp): the same bits at 1 and 2 threads for elementwise ops, broadcasts,
// reductions over leading axes, GEMMs, the batch gather, every optimizer's step and a whole training step; the pool
// shared by two calling threads; fit's flush-to-zero default. Named "threads:" so that ./build.sh tsan runs them
// under ThreadSanitizer.
#include <doctest/doctest.h>

#include <pthread.h>
#include <sched.h>

#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>
#include "helpers.hpp"

using namespace chainrule;

namespace {

struct ThreadCount {  // sets the intra-op thread count for one scope, then restores it
  explicit ThreadCount(int n) : prev_(get_num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(prev_); }
  int prev_;
};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == kFloat64)
    return std::memcmp(a.data<double>().data(), b.data<double>().data(), a.numel() * sizeof(double)) == 0;
  return std::memcmp(a.data<float>().data(), b.data<float>().data(), a.numel() * sizeof(float)) == 0;
}

Tensor noise(Shape s, std::uint64_t seed) {
  manual_seed(seed);
  return randn(s);
}

// Runs fn at 1 thread and at 2, returning both results.
std::pair<std::vector<Tensor>, std::vector<Tensor>> at_1_and_2(const std::function<std::vector<Tensor>()>& fn) {
  std::vector<Tensor> one, two;
  {
    ThreadCount t(1);
    one = fn();
  }
  {
    ThreadCount t(2);
    two = fn();
  }
  return {one, two};
}

}  // namespace

TEST_CASE("threads: set_num_threads checks its argument and get_num_threads reads it back") {
  ThreadCount keep(get_num_threads());
  CHECK_THROWS_WITH_AS(set_num_threads(0), "set_num_threads: the thread count must be >= 1, got 0",
                       std::invalid_argument);
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
}

TEST_CASE("threads: elementwise ops, broadcasts and their gradients give the same bits at 1 and 2 threads") {
  // 300×257 = 77,100 elements: above the parallel threshold, and rows that do not end on a cache line
  const auto run = [] {
    Tensor a = noise({300, 257}, 1).requires_grad_(), b = noise({300, 257}, 2).requires_grad_();
    Tensor bias = noise({257}, 3).requires_grad_(), s = noise({}, 4).requires_grad_();
    Tensor col = noise({300, 1}, 5).requires_grad_();
    Tensor y = relu(a * b + bias) + tanh(a) * s - exp(b / 4) * col;  // full, row, scalar and column broadcasts
    Tensor u = sigmoid(reshape(a, {77100}) * s);                       // one long row with a scalar
    (sum(y) + sum(u)).backward();
    return std::vector<Tensor>{y.detach(), u.detach(), a.grad(), b.grad(), bias.grad(), s.grad(), col.grad()};
  };
  const auto r = at_1_and_2(run);  // (no structured bindings: doctest's checks are lambdas for clang)
  for (std::size_t i = 0; i < r.first.size(); ++i) CHECK_MESSAGE(same_bits(r.first[i], r.second[i]), "result #" << i);
}

TEST_CASE("threads: sums over leading axes are the same bits at 1 and 2 threads, and xt::sum's order") {
  Tensor x = noise({513, 130}, 7);
  const auto r = at_1_and_2([&] { return std::vector<Tensor>{sum(x, {0}), sum(reshape(x, {27, 19, 130}), {0, 1})}; });
  CHECK(same_bits(r.first[0], r.second[0]));
  CHECK(same_bits(r.first[1], r.second[1]));
  const Tensor& two = r.second[0];
  // each column summed from 0, row after row, in float: the order one thread and xt::sum use
  const auto& v = x.data<float>();
  for (std::size_t c = 0; c < 130; ++c) {
    float acc = 0;
    for (std::size_t r = 0; r < 513; ++r) acc += v.data()[r * 130 + c];
    REQUIRE(two.data<float>()(c) == acc);
  }
  // all-(-0) columns: +0, as xt::sum and torch's sum give
  Tensor z = full({40000, 2}, -0.0);
  CHECK_FALSE(std::signbit(sum(z, {0}).data<float>()(0)));
}

TEST_CASE("threads: the batch gather and every optimizer's step give the same bits at 1 and 2 threads") {
  const std::vector<std::string> names = {"sgd", "momentum", "nag", "adagrad", "adadelta", "rmsprop", "adam"};
  for (const auto& name : names) {
    const auto run = [&] {
      Tensor w = noise({400, 130}, 11).requires_grad_();  // 52,000 parameters: split over the threads
      auto opt = optim::make_optimizer(name, {w}, 0.01);
      Tensor data = noise({1000, 400}, 12), c = noise({400, 130}, 13);
      std::vector<std::size_t> rows;
      for (std::size_t k = 0; k < 200; ++k) rows.push_back((k * 7919) % 1000);
      for (int step = 0; step < 3; ++step) {
        opt->zero_grad();
        sum(square(w) * c).backward();
        opt->step();
      }
      return std::vector<Tensor>{w.detach(), nn::take_rows(data, rows)};
    };
    const auto r = at_1_and_2(run);
    CHECK_MESSAGE(same_bits(r.first[0], r.second[0]), name);
    CHECK_MESSAGE(same_bits(r.first[1], r.second[1]), name);
  }
}

TEST_CASE("threads: GEMMs split over the threads give the same bits as one thread, in every transpose form") {
  // C:[m,n] split by rows (m ≥ n) or by columns into blocks past OpenBLAS' small-matrix kernels: case c's GEMMs,
  // one across sgemm's direct-kernel size (28·512² multiply-adds: the whole above, its blocks below), sizes that are
  // not multiples of the 16-row blocks; and products too small to split (one thread computes them whole).
  const std::vector<std::array<std::size_t, 3>> mnk = {{64, 128, 784},  {784, 128, 64}, {64, 256, 784},
                                                       {1000, 33, 100}, {37, 700, 200},  {300, 70, 50}};
  for (const Dtype dt : {kFloat32, kFloat64})
    for (const auto& d : mnk)
      for (int form = 0; form < 4; ++form) {
        const bool ta = form & 1, tb = form & 2;
        const long m = long(d[0]), n = long(d[1]), k = long(d[2]);
        const Tensor a = noise(ta ? Shape{d[2], d[0]} : Shape{d[0], d[2]}, 41).to(dt);
        const Tensor b = noise(tb ? Shape{d[1], d[2]} : Shape{d[2], d[1]}, 42).to(dt);
        const auto r = at_1_and_2([&] { return std::vector<Tensor>{matmul_t(a, b, ta, tb)}; });
        CHECK_MESSAGE(same_bits(r.first[0], r.second[0]), m << "x" << n << "x" << k << " ta " << ta << " tb " << tb);
      }
}

TEST_CASE("threads: a whole training step (affine layers, cross-entropy, Adam) gives the same bits at 1 and 2 "
          "threads") {
  const auto run = [] {
    manual_seed(5);
    const auto net = nn::MLP({784, 256, 64, 10}, "relu");
    optim::Adam opt(net->parameters());
    const Tensor x = noise({128, 784}, 51);
    std::vector<std::size_t> labels;
    for (std::size_t i = 0; i < 128; ++i) labels.push_back(i * 7 % 10);
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      nn::cross_entropy(net->forward(x), labels).backward();
      opt.step();
    }
    return net->parameters();
  };
  const auto r = at_1_and_2(run);
  for (std::size_t i = 0; i < r.first.size(); ++i)
    CHECK_MESSAGE(same_bits(r.first[i], r.second[i]), "parameter #" << i);
}

TEST_CASE("threads: two threads running large ops at once share the pool and get their own results") {
  ThreadCount t(2);
  Tensor a = noise({256, 512}, 21), b = noise({256, 512}, 22);
  Tensor expected;
  {
    ThreadCount serial(1);
    expected = sum(tanh(a) * b, {0});
  }
  std::vector<Tensor> got(2);
  std::vector<std::thread> ts;
  for (int k = 0; k < 2; ++k)
    ts.emplace_back([&, k] {
      for (int i = 0; i < 20; ++i) got[static_cast<std::size_t>(k)] = sum(tanh(a) * b, {0});
    });
  for (auto& th : ts) th.join();
  CHECK(same_bits(got[0], expected));
  CHECK(same_bits(got[1], expected));
}

TEST_CASE("threads: fit flushes subnormals by default on every thread it uses, restores the caller's mode, and "
          "flush_denormal = false keeps IEEE numbers") {
  ThreadCount t(2);
  const float tiny = std::numeric_limits<float>::denorm_min() * 1000;  // subnormal
  // A callback that records, during fit, whether a large elementwise op (split over the threads) flushes.
  struct Probe : nn::Callback {
    Tensor x = full({100000}, 0.0);
    float seen = -1;
    void on_batch_end(nn::Model&, std::size_t, const nn::Logs&) override { seen = (x * 1.0).data<float>()(99999); }
  };
  auto probe = std::make_shared<Probe>();
  probe->x.data<float>().fill(tiny);
  nn::Model m;
  m.add(std::make_shared<nn::Dense>(2, 1));
  m.compile("adam", "mse");
  nn::FitOptions o;
  o.verbose = 0;
  o.callbacks = {probe};
  Tensor x = noise({8, 2}, 31), y = noise({8, 1}, 32);
  m.fit(x, y, o);
  CHECK(probe->seen == 0.0f);  // flushed, in the worker's half too
  CHECK((probe->x * 1.0).data<float>()(99999) == tiny);  // the caller's IEEE mode is back
  o.flush_denormal = false;
  m.fit(x, y, o);
  CHECK(probe->seen == tiny);
}

TEST_CASE("threads: a new pool's worker runs off the CPU its creator was on, and the creator stays unpinned") {
  cpu_set_t allowed;
  REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  if (CPU_COUNT(&allowed) < 2) {
    MESSAGE("CHAINRULE_TEST_SKIPPED: this process may run on one CPU only");
    return;
  }
  ThreadCount three(3);  // a pool of another size, so that the next one is created here
  set_num_threads(2);
  const std::thread::id caller = std::this_thread::get_id();
  const int creator_cpu = sched_getcpu();
  int worker_cpu = -1;
  // The worker takes a range only when it claims one before the caller has run both: try until it has.
  for (int attempt = 0; attempt < 2000 && worker_cpu < 0; ++attempt)
    detail::parallel_blocks(2, 1, [&](std::size_t, std::size_t) {
      if (std::this_thread::get_id() != caller) worker_cpu = sched_getcpu();
      else std::this_thread::sleep_for(std::chrono::microseconds(50));  // give the worker time to claim its range
    });
  REQUIRE(worker_cpu >= 0);
  CHECK(worker_cpu != creator_cpu);
  cpu_set_t mine;
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) == 0);
  CHECK(CPU_EQUAL(&mine, &allowed));  // the calling thread keeps the process's CPUs
}
