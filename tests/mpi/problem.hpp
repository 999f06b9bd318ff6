#pragma once
// The small problem the MPI tests train: 3 Gaussian blobs in 6-D, a 6-8-3 ReLU network with a softmax output,
// sparse categorical cross-entropy. Every rank builds the same data and the same initial weights from the seeds.
#include <cstring>
#include <string>
#include <vector>

#include <chainrule/nn.hpp>

namespace mpitest {

using namespace chainrule;

inline std::pair<Tensor, Tensor> blobs(std::size_t n, Dtype dt, std::uint64_t seed = 7) {
  manual_seed(seed);
  Tensor x = randn({n, 6}, TensorOptions().dtype(kFloat64));
  Tensor y = zeros({n}, TensorOptions().dtype(kFloat64));
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = i % 3;
    x.data<double>()(i, c) += 2.0;
    y.data<double>()(i) = static_cast<double>(c);
  }
  return {x.to(dt).detach(), y.to(dt).detach()};
}

inline nn::Model classifier(Dtype dt, const std::string& optimizer, double lr, std::uint64_t seed = 3) {
  manual_seed(seed);
  nn::Linear::Options lo;
  lo.dtype = dt;
  nn::Model m;
  m.add(nn::make_dense(6, 8, "relu", lo)).add(nn::make_dense(8, 3, "softmax", lo));
  m.compile(optimizer, "sparse_categorical_crossentropy", {"accuracy"}, lr);
  return m;
}

/// Every parameter, flattened, as doubles.
inline std::vector<double> weights(const nn::Model& m) {
  std::vector<double> w;
  for (const auto& p : m.parameters()) {
    Tensor d = p.to(kFloat64);
    const double* v = d.data<double>().data();
    w.insert(w.end(), v, v + p.numel());
  }
  return w;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = a.size() == b.size() ? 0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace mpitest
