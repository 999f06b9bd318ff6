#pragma once
// The vanishing gradient, measured with tensor hooks: a deep, narrow network trained on two moons, with a hook on
// each layer's weight recording ‖∂L/∂W‖₂ at every step; the result is each layer's mean norm per epoch.
// Shared by the activations example and its test (tests/test_hooks.cpp).
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

namespace activations {

/// Two interleaving half circles ("two moons") with Gaussian noise; labels 0/1 as [n, 1] float32.
inline std::pair<chainrule::Tensor, chainrule::Tensor> moons(std::size_t n, double noise) {
  using namespace chainrule;
  Tensor t = rand({n, 1}, kFloat32, 0, M_PI);
  Tensor label = rand({n, 1}) > tensor(0.5);
  Tensor upper = concat({cos(t), sin(t)}, 1), lower = concat({1.0 - cos(t), 0.5 - sin(t)}, 1);
  Tensor x = label * lower + (1.0 - label) * upper + noise * randn({n, 2});
  return {x, reshape(label, {-1})};
}

struct GradNormOptions {
  std::size_t hidden_layers = 5, width = 16, epochs = 10, batch_size = 32, points = 1000;
  double lr = 1e-3;  // Adam
  std::uint64_t seed = 0;
};

/// norms[e][l] = mean over epoch e's steps of ‖∂L/∂W_l‖₂, for the Linear layers l = 0 (input side) … L (output),
/// in a 2-width-…-width-2 network with `activation` after each hidden layer and a cross-entropy loss.
inline std::vector<std::vector<double>> grad_norms(const std::string& activation, const GradNormOptions& o) {
  using namespace chainrule;
  manual_seed(o.seed);
  auto [x, y] = moons(o.points, 0.2);
  std::vector<std::size_t> labels(o.points);
  for (std::size_t i = 0; i < o.points; ++i) labels[i] = std::as_const(y).data<float>()(i) > 0.5f ? 1 : 0;
  manual_seed(o.seed + 1);  // the same initial weights for every activation
  nn::Sequential net;
  std::vector<Tensor> weights;
  for (std::size_t l = 0; l <= o.hidden_layers; ++l) {
    auto lin = std::make_shared<nn::Linear>(l == 0 ? 2 : o.width, l == o.hidden_layers ? 2 : o.width);
    weights.push_back(lin->weight());
    net.add(lin);
    if (l < o.hidden_layers) net.add(nn::make_activation(activation));
  }
  std::vector<double> sums(weights.size(), 0.0);
  std::vector<RemovableHandle> handles;
  for (std::size_t l = 0; l < weights.size(); ++l)  // called with each step's ∂L/∂W_l, before it reaches .grad
    handles.push_back(weights[l].register_hook([&sums, l](const Tensor& g) {
      double s = 0;
      for (float v : g.data<float>()) s += double(v) * v;
      sums[l] += std::sqrt(s);
    }));
  optim::Adam adam(net.parameters(), {o.lr});
  std::vector<std::vector<double>> norms;
  for (std::size_t e = 0; e < o.epochs; ++e) {
    const std::vector<std::size_t> order = nn::permutation(o.points, o.seed + e);
    const auto steps = nn::batches(o.points, o.batch_size);
    std::fill(sums.begin(), sums.end(), 0.0);
    for (const auto& [lo, hi] : steps) {
      const std::vector<std::size_t> idx(order.begin() + long(lo), order.begin() + long(hi));
      std::vector<std::size_t> target;
      for (std::size_t i : idx) target.push_back(labels[i]);
      adam.zero_grad(true);
      nn::cross_entropy(net(nn::take_rows(x, idx)), target).backward();
      adam.step();
    }
    norms.emplace_back();
    for (double s : sums) norms.back().push_back(s / double(steps.size()));
  }
  for (auto& h : handles) h.remove();
  return norms;
}

}  // namespace activations
