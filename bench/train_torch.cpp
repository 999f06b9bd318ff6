// bench_train's libtorch side (built only with -DCHAINRULE_BENCH_TORCH=ON): the same steps written as idiomatic
// libtorch C++: torch::nn::Sequential of torch::nn::Linear, torch::nn::functional::cross_entropy / mse_loss,
// torch::optim::SGD / Adam.
#include <torch/torch.h>

#include <chrono>

#include "timer.hpp"
#include "train.hpp"

namespace bench {

bool have_torch() { return true; }
std::string torch_version() { return std::string("libtorch ") + TORCH_VERSION; }

void set_torch_threads(int n) {
  torch::set_num_threads(n);
  torch::set_num_interop_threads(n);
}

void set_torch_flush_denormal(bool on) { at::globalContext().setFlushDenormal(on); }

namespace {

namespace F = torch::nn::functional;

torch::nn::Sequential make_net(const std::vector<std::size_t>& sizes, bool sigmoid) {
  torch::nn::Sequential net;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    net->push_back(torch::nn::Linear(static_cast<int64_t>(sizes[i]), static_cast<int64_t>(sizes[i + 1])));
    if (sigmoid)
      net->push_back(torch::nn::Sigmoid());
    else if (i + 2 < sizes.size())
      net->push_back(torch::nn::ReLU());
  }
  return net;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(bool adam, double lr, std::vector<torch::Tensor> params) {
  if (adam) return std::make_unique<torch::optim::Adam>(std::move(params), torch::optim::AdamOptions(lr));
  return std::make_unique<torch::optim::SGD>(std::move(params), torch::optim::SGDOptions(lr));
}

torch::Tensor to_torch(std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}

}  // namespace

double torch_step_ns(const TrainCase& c, int samples) {
  torch::manual_seed(1);
  auto net = make_net(c.sizes, c.sigmoid);
  auto opt = make_optimizer(c.adam, c.lr, net->parameters());
  Data d = case_batch(c);
  const auto n = static_cast<int64_t>(d.n);
  const torch::Tensor x = to_torch(d.x, {n, static_cast<int64_t>(d.d)});
  const torch::Tensor y = to_torch(d.y, {n});
  const torch::Tensor target = y.reshape({n, 1}), labels = y.to(torch::kLong);
  auto step = [&] {
    opt->zero_grad();
    torch::Tensor out = net->forward(x);
    torch::Tensor loss = c.sigmoid ? F::mse_loss(out, target) : F::cross_entropy(out, labels);
    loss.backward();
    opt->step();
  };
  return median_ns(step, samples);
}

// Case g: the same loss written functionally (x·W + b as addmm, as chainrule's affine), and H·v by double backward:
// g = ∂L/∂θ with create_graph, then ∂⟨g, v⟩/∂θ.
double torch_hvp_ns(int samples, double* grad_ns) {
  HvpData h = hvp_data();
  const auto n = static_cast<int64_t>(h.batch.n);
  const torch::Tensor x = to_torch(h.batch.x, {n, static_cast<int64_t>(h.batch.d)});
  const torch::Tensor labels = to_torch(h.batch.y, {n}).to(torch::kLong);
  std::vector<torch::Tensor> params, v;
  for (std::size_t i = 0; i < h.params.size(); ++i) {
    const std::vector<int64_t> shape(h.shapes[i].begin(), h.shapes[i].end());
    params.push_back(to_torch(h.params[i], shape).requires_grad_());
    v.push_back(to_torch(h.v[i], shape));
  }
  auto loss = [&] {
    torch::Tensor a = torch::relu(torch::addmm(params[1], x, params[0]));
    a = torch::relu(torch::addmm(params[3], a, params[2]));
    return F::cross_entropy(torch::addmm(params[5], a, params[4]), labels);
  };
  *grad_ns = median_ns([&] { auto g = torch::autograd::grad({loss()}, params); }, samples);
  return median_ns([&] {
    std::vector<torch::Tensor> g = torch::autograd::grad({loss()}, params, {}, true, true);
    torch::Tensor dot = (g[0] * v[0]).sum();
    for (std::size_t i = 1; i < g.size(); ++i) dot = dot + (g[i] * v[i]).sum();
    auto hv = torch::autograd::grad({dot}, params);
  }, samples);
}

double torch_epoch_s(Data d, int epochs, double* loss) {
  const auto n = static_cast<int64_t>(d.n);
  const torch::Tensor X = to_torch(d.x, {n, static_cast<int64_t>(d.d)});
  const torch::Tensor Y = to_torch(d.y, {n}).to(torch::kLong);
  d = Data{};  // only the tensors stay resident
  reset_peak_rss();
  torch::manual_seed(0);
  auto net = make_net({784, 128, 64, 10}, false);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t batch = 64;
  auto epoch = [&](int64_t limit) {
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    double sum = 0;
    int64_t seen = 0;
    for (int64_t lo = 0, b = 0; lo < n && b < limit; lo += batch, ++b) {
      const torch::Tensor idx = perm.slice(0, lo, std::min(lo + batch, n));
      const torch::Tensor xb = X.index_select(0, idx), yb = Y.index_select(0, idx);
      opt.zero_grad();
      torch::Tensor l = F::cross_entropy(net->forward(xb), yb);
      sum += l.item<double>() * double(idx.size(0)), seen += idx.size(0);
      l.backward();
      opt.step();
    }
    return sum / double(seen);
  };
  epoch(20);  // warm-up, as the chainrule side
  std::vector<double> t;
  for (int e = 0; e < epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    *loss = epoch(n);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<long>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

}  // namespace bench
