// bench_train's chainrule side: the training step written with the engine (nn::Linear/MLP, nn::cross_entropy or
// nn::mse_loss, optim::SGD/Adam), one Fashion-MNIST epoch both with the engine and with nn::Model::fit, and the
// raw-sgemm floor of a step.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>

#include "timer.hpp"
#include <chainrule/autograd/functional.hpp>
#include "train.hpp"
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;

namespace bench {

std::string TrainCase::describe() const {
  std::ostringstream s;
  for (std::size_t i = 0; i < sizes.size(); ++i) s << (i ? "-" : "") << sizes[i];
  s << (sigmoid ? " sigmoid, MSE" : " ReLU, CE") << ", batch " << batch << ", " << (adam ? "Adam " : "SGD ") << lr;
  return s.str();
}

std::vector<TrainCase> train_cases() {
  return {{"a", {2, 2, 1}, true, 4, false, 0.1},
          {"b", {784, 16, 16, 10}, false, 32, false, 0.01},
          {"c", {784, 128, 64, 10}, false, 64, true, 1e-3},
          {"d", {784, 1024, 1024, 10}, false, 512, true, 1e-3}};
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The network of a case: Linear layers, with sigmoid after every one (XOR) or ReLU between them (logits out).
std::shared_ptr<nn::Sequential> make_net(const TrainCase& c) {
  if (!c.sigmoid) return nn::MLP(c.sizes, "relu");
  auto net = std::make_shared<nn::Sequential>();
  for (std::size_t i = 0; i + 1 < c.sizes.size(); ++i)
    net->add(std::make_shared<nn::Linear>(c.sizes[i], c.sizes[i + 1])).add(std::make_shared<nn::Sigmoid>());
  return net;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainCase& c, std::vector<Tensor> params) {
  if (c.adam) {
    optim::Adam::Options o;
    o.lr = c.lr;
    return std::make_unique<optim::Adam>(std::move(params), o);
  }
  optim::SGD::Options o;
  o.lr = c.lr;
  return std::make_unique<optim::SGD>(std::move(params), o);
}

Array<float> to_array(const std::vector<float>& v, Shape shape) {
  Array<float> a = Array<float>::from_shape(shape);
  std::copy(v.begin(), v.end(), a.data());
  return a;
}

}  // namespace

Data case_batch(const TrainCase& c) {
  Data d;
  d.n = c.batch, d.d = c.sizes.front();
  if (c.sigmoid) {  // XOR: the 4 corners, target a xor b
    d.x = {0, 0, 0, 1, 1, 0, 1, 1};
    d.y = {0, 1, 1, 0};
    return d;
  }
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  d.x.resize(d.n * d.d);
  for (auto& v : d.x) v = normal(gen);
  for (std::size_t i = 0; i < d.n; ++i) d.y.push_back(static_cast<float>(gen() % c.sizes.back()));
  return d;
}

namespace {
// One case's network, optimizer and batch; operator() is one training step.
struct ChainruleStep {
  explicit ChainruleStep(const TrainCase& c) : c(c) {
    manual_seed(1);
    net = make_net(c);
    opt = make_optimizer(c, net->parameters());
    const Data d = case_batch(c);
    x = Tensor(to_array(d.x, {d.n, d.d}));
    target = Tensor(to_array(d.y, {d.n, std::size_t(1)}));  // MSE target [N,1]
    labels.assign(d.y.begin(), d.y.end());                  // CE labels
  }
  void operator()() {
    opt->zero_grad();
    Tensor out = net->forward(x);
    Tensor loss = c.sigmoid ? nn::mse_loss(out, target) : nn::cross_entropy(out, labels);
    loss.backward();
    opt->step();
  }
  const TrainCase& c;
  std::shared_ptr<nn::Sequential> net;
  std::unique_ptr<optim::Optimizer> opt;
  Tensor x, target;
  std::vector<std::size_t> labels;
};
}  // namespace

double chainrule_step_ns(const TrainCase& c, int samples) {
  ChainruleStep step(c);
  return median_ns(step, samples);
}

void set_chainrule_flush_denormal(bool on) { set_flush_denormal(on); }
void set_chainrule_threads(int n) { set_num_threads(n); }
namespace {
bool g_fit_flush_denormal = true;
}  // namespace
void set_fit_flush_denormal(bool on) { g_fit_flush_denormal = on; }

HvpData hvp_data() {
  HvpData h;
  h.batch = case_batch(train_cases()[2]);  // case c's batch
  const std::vector<std::size_t> sizes = {784, 128, 64, 10};
  std::mt19937 gen(2);
  std::normal_distribution<float> normal;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
    for (std::vector<std::size_t> shape : {std::vector<std::size_t>{sizes[i], sizes[i + 1]}, {sizes[i + 1]}}) {
      std::size_t n = 1;
      for (auto s : shape) n *= s;
      std::vector<float> p(n), v(n);
      for (auto& e : p) e = 0.05f * normal(gen);
      for (auto& e : v) e = normal(gen);
      h.shapes.push_back(shape), h.params.push_back(std::move(p)), h.v.push_back(std::move(v));
    }
  return h;
}

namespace {
// Case g's loss as a function of the six parameters, its inputs and vectors (chainrule::hvp takes them as leaves).
struct HvpProblem {
  HvpProblem() {
    HvpData h = hvp_data();
    x = Tensor(to_array(h.batch.x, {h.batch.n, h.batch.d}));
    labels.assign(h.batch.y.begin(), h.batch.y.end());
    for (std::size_t i = 0; i < h.params.size(); ++i) {
      params.push_back(Tensor(to_array(h.params[i], h.shapes[i])).requires_grad_());
      v.push_back(Tensor(to_array(h.v[i], h.shapes[i])));
    }
  }
  Tensor loss(const std::vector<Tensor>& p) const {
    Tensor a = relu(affine(x, p[0], p[1]));
    a = relu(affine(a, p[2], p[3]));
    return nn::cross_entropy(affine(a, p[4], p[5]), labels);
  }
  Tensor x;
  std::vector<std::size_t> labels;
  std::vector<Tensor> params, v;
};
}  // namespace

double chainrule_hvp_ns(int samples, double* grad_ns) {
  const HvpProblem pb;
  const Function f = [&pb](const std::vector<Tensor>& p) { return pb.loss(p); };
  *grad_ns = median_ns([&] { std::vector<Tensor> g = grad({pb.loss(pb.params)}, pb.params); }, samples);
  return median_ns([&] { auto r = hvp(f, pb.params, pb.v); }, samples);
}

void chainrule_run_hvps(long n) {
  const HvpProblem pb;
  const Function f = [&pb](const std::vector<Tensor>& p) { return pb.loss(p); };
  for (long i = 0; i < n; ++i) auto r = hvp(f, pb.params, pb.v);
}

void chainrule_run_steps(const TrainCase& c, long steps) {
  ChainruleStep step(c);
  for (long i = 0; i < steps; ++i) step();
}

int sgemm_floor_calls(const TrainCase& c) { return 3 * static_cast<int>(c.sizes.size() - 1) - 1; }

double sgemm_floor_ns(const TrainCase& c, int samples) {
  const std::size_t L = c.sizes.size() - 1;
  const int B = static_cast<int>(c.batch);
  auto s = [&](std::size_t i) { return static_cast<int>(c.sizes[i]); };
  // act[l]: the input of layer l ([B, s(l)]); act[L] the output. W[l], dW[l]: [s(l), s(l+1)]. g[l]: dL/d act[l+1].
  std::vector<std::vector<float>> act(L + 1), W(L), dW(L), g(L);
  for (std::size_t l = 0; l <= L; ++l) act[l].assign(std::size_t(B) * c.sizes[l], 0.5f);
  for (std::size_t l = 0; l < L; ++l) {
    W[l].assign(c.sizes[l] * c.sizes[l + 1], 0.01f);
    dW[l].assign(W[l].size(), 0.f);
    g[l].assign(std::size_t(B) * c.sizes[l + 1], 0.01f);
  }
  // Raw OpenBLAS at the same thread count (chainrule keeps OpenBLAS at 1 thread and splits GEMMs itself).
  openblas_set_num_threads(get_num_threads());
  const double ns = median_ns([&] {
    for (std::size_t l = 0; l < L; ++l)  // act[l+1] = act[l]·W[l]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, s(l + 1), s(l), 1.f, act[l].data(), s(l),
                  W[l].data(), s(l + 1), 0.f, act[l + 1].data(), s(l + 1));
    for (std::size_t l = L; l-- > 0;) {
      // dW[l] = act[l]ᵀ·g[l]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s(l), s(l + 1), B, 1.f, act[l].data(), s(l),
                  g[l].data(), s(l + 1), 0.f, dW[l].data(), s(l + 1));
      // g[l−1] = g[l]·W[l]ᵀ (the gradient of layer l's input), not needed for the first layer
      if (l > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, s(l), s(l + 1), 1.f, g[l].data(), s(l + 1),
                    W[l].data(), s(l + 1), 0.f, g[l - 1].data(), s(l));
    }
  }, samples);
  openblas_set_num_threads(1);
  return ns;
}

// ---- case f: Fashion-MNIST ----------------------------------------------------------------------------------

bool fashion_mnist_available() {
  namespace fs = std::filesystem;
  const fs::path dir = nn::kFashionMnistDir;
  return fs::exists(dir / "train-images-idx3-ubyte.gz") || fs::exists(dir / "train-images-idx3-ubyte");
}

Data load_fashion_mnist_data() {
  Data d;
  if (!fashion_mnist_available()) return d;
  const nn::Dataset train = nn::load_fashion_mnist();  // pixels / 255, float32
  d.n = train.size(), d.d = train.x().size(1);
  const auto& x = train.x().data<float>();
  const auto& y = train.y().data<float>();
  d.x.assign(x.begin(), x.end());
  d.y.assign(y.begin(), y.end());
  return d;
}

namespace {
constexpr std::size_t kBatchF = 64;
const std::vector<std::size_t> kSizesF = {784, 128, 64, 10};
constexpr int kWarmupBatchesF = 20;  // a short warm-up before the timed epochs
}  // namespace

double chainrule_epoch_s(Data d, int epochs, double* loss) {
  const Tensor X(to_array(d.x, {d.n, d.d})), Y(to_array(d.y, {d.n}));
  const std::size_t n = d.n;
  d = Data{};  // only the tensors stay resident
  reset_peak_rss();
  manual_seed(0);
  auto net = nn::MLP(kSizesF, "relu");
  optim::Adam opt(net->parameters(), optim::Adam::Options{});  // lr 1e-3
  const auto spans = nn::batches(n, kBatchF);
  // One epoch (or its first `limit` batches): reshuffle, then per batch gather rows, zero_grad, forward, loss,
  // backward, step; the loss is read back every step as fit does for its logs.
  auto epoch = [&](std::uint64_t seed, std::size_t limit) {
    const auto perm = nn::permutation(n, seed);
    double sum = 0;
    std::size_t seen = 0;
    for (std::size_t b = 0; b < spans.size() && b < limit; ++b) {
      const std::vector<std::size_t> idx(perm.begin() + long(spans[b].first), perm.begin() + long(spans[b].second));
      const Tensor xb = nn::take_rows(X, idx), yb = nn::take_rows(Y, idx);
      opt.zero_grad();
      Tensor l = nn::cross_entropy(net->forward(xb), yb);
      sum += l.item() * double(idx.size()), seen += idx.size();
      l.backward();
      opt.step();
    }
    return sum / double(seen);
  };
  epoch(1000, kWarmupBatchesF);
  std::vector<double> t;
  for (int e = 0; e < epochs; ++e) {
    const auto t0 = Clock::now();
    *loss = epoch(std::uint64_t(e), spans.size());
    t.push_back(seconds_since(t0));
  }
  return median(t);
}

double chainrule_fit_epoch_s(Data d, int epochs, double* loss) {
  const Tensor X(to_array(d.x, {d.n, d.d})), Y(to_array(d.y, {d.n}));
  d = Data{};
  reset_peak_rss();
  manual_seed(0);
  // The example's recipe (examples/fashion_mnist): Dense layers, softmax output, sparse CE (computed from the
  // logits), Adam 1e-3; no metrics, so that it does the same work as the engine-written step.
  nn::Model model;
  model.add(nn::make_dense(784, 128, "relu")).add(nn::make_dense(128, 64, "relu")).add(nn::make_dense(64, 10, "softmax"));
  model.compile("adam", "sparse_categorical_crossentropy", {}, 1e-3);
  nn::FitOptions fo;
  fo.batch_size = kBatchF, fo.verbose = 0, fo.flush_denormal = g_fit_flush_denormal;
  {  // warm-up: the first kWarmupBatchesF batches' worth of rows, one epoch of fit
    const std::vector<std::size_t> idx = [&] {
      std::vector<std::size_t> v(kWarmupBatchesF * kBatchF);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
      return v;
    }();
    model.fit(nn::take_rows(X, idx), nn::take_rows(Y, idx), fo);
  }
  std::vector<double> t;
  for (int e = 0; e < epochs; ++e) {
    fo.seed = std::uint64_t(e);
    const auto t0 = Clock::now();
    const nn::History h = model.fit(X, Y, fo);
    t.push_back(seconds_since(t0));
    *loss = h["loss"].back();
  }
  return median(t);
}

}  // namespace bench
