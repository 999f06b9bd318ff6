// DataParallel: gradient averaging over a ProcessGroup in one flat allreduce per step.
#include "data_parallel.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace chainrule::nn {

namespace {
class LocalGroup : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, std::size_t) override {}
  void allreduce_sum(double*, std::size_t) override {}
  void broadcast(float*, std::size_t, int) override {}
  void broadcast(double*, std::size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string& msg) override { throw std::runtime_error(msg); }
};
}  // namespace

std::shared_ptr<ProcessGroup> local_group() { return std::make_shared<LocalGroup>(); }

std::pair<std::size_t, std::size_t> shard(std::size_t lo, std::size_t hi, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size)
    throw std::invalid_argument("shard: need 0 <= rank < size, got rank " + std::to_string(rank) + " of " +
                                std::to_string(size));
  if (hi < lo) throw std::invalid_argument("shard: batch [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                           ") ends before it begins");
  const std::size_t n = hi - lo, r = static_cast<std::size_t>(rank), p = static_cast<std::size_t>(size);
  return {lo + n * r / p, lo + n * (r + 1) / p};
}

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params,
                           std::vector<Tensor> buffers)
    : group_(std::move(group)), params_(std::move(params)), buffers_(std::move(buffers)) {
  if (!group_) throw std::invalid_argument("DataParallel: null process group");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].defined()) throw std::invalid_argument("DataParallel: parameter " + std::to_string(i) +
                                                           " is an undefined tensor");
    if (group_->size() > 1 && params_[i].dtype() != params_[0].dtype())
      throw std::invalid_argument("DataParallel: parameters have mixed dtypes (parameter 0 is " +
                                  std::string(dtype_name(params_[0].dtype())) + ", parameter " + std::to_string(i) +
                                  " is " + dtype_name(params_[i].dtype()) + "); data-parallel training needs one");
    numel_ += params_[i].numel();
  }
  std::vector<std::pair<std::string, double>> shape = {{"parameter count", double(params_.size())},
                                                       {"parameter elements", double(numel_)},
                                                       {"buffer count", double(buffers_.size())}};
  for (const auto& b : buffers_) shape.emplace_back("buffer elements", double(b.numel()));
  check_same(shape, "DataParallel");  // a different model on some rank would corrupt every collective after this
  broadcast_parameters();
}

void DataParallel::allreduce_gradients(std::size_t rows, std::size_t batch_rows, std::vector<double>& values) {
  if (batch_rows == 0 || rows > batch_rows)
    throw std::invalid_argument("DataParallel::allreduce_gradients: this rank's rows (" + std::to_string(rows) +
                                ") must be at most the global batch's (" + std::to_string(batch_rows) +
                                "), which must be positive");
  if (size() == 1) return;  // rows == batch_rows: the gradients and values are the global batch's already
  const double w = static_cast<double>(rows) / static_cast<double>(batch_rows);  // n_r / n
  const Dtype dt = params_.empty() ? kFloat32 : params_[0].dtype();
  detail::dispatch(dt, [&](auto tag) {
    using T = decltype(tag);
    std::vector<T>& flat = [&]() -> std::vector<T>& {
      if constexpr (std::is_same_v<T, float>) return flat32_; else return flat64_;
    }();
    flat.resize(numel_ + values.size());
    const T wt = static_cast<T>(w);
    // Pack: flat = [w·g_0, w·g_1, ..., w·values]
    T* out = flat.data();
    for (const auto& p : params_) {
      const Tensor g = p.grad();
      if (g.defined() && w > 0) {
        const T* src = g.data<T>().data();
        for (std::size_t i = 0, n = p.numel(); i < n; ++i) out[i] = wt * src[i];
      } else {
        std::fill(out, out + p.numel(), T(0));  // no rows here: contributes nothing (not even a NaN)
      }
      out += p.numel();
    }
    for (double v : values) *out++ = w > 0 ? static_cast<T>(w * v) : T(0);
    group_->allreduce_sum(flat.data(), flat.size());
    // Unpack into the gradients (creating those that a rank without rows never computed).
    const T* in = flat.data();
    for (auto& p : params_) {
      auto& node = p.node();
      if (!node.grad) node.grad = std::make_shared<detail::Value<T>>(Array<T>::from_shape(p.shape()));
      std::copy(in, in + p.numel(), detail::as<T>(*node.grad).value.data());
      in += p.numel();
    }
    for (double& v : values) v = static_cast<double>(*in++);
  });
}

void DataParallel::broadcast_tensors(const std::vector<Tensor>& ts) {
  if (size() == 1) return;  // nothing to receive
  std::size_t n32 = 0, n64 = 0;
  for (const auto& t : ts) (t.dtype() == kFloat32 ? n32 : n64) += t.numel();
  flat32_.resize(n32), flat64_.resize(n64);
  auto walk = [&](bool pack) {
    float* p32 = flat32_.data();
    double* p64 = flat64_.data();
    for (const auto& t : ts) {
      Tensor v = t;
      detail::dispatch(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T*& cur = [&]() -> T*& { if constexpr (std::is_same_v<T, float>) return p32; else return p64; }();
        T* data = v.data<T>().data();
        if (pack) std::copy(data, data + t.numel(), cur); else std::copy(cur, cur + t.numel(), data);
        cur += t.numel();
      });
    }
  };
  if (group_->rank() == 0) walk(true);
  if (n32) group_->broadcast(flat32_.data(), n32, 0);
  if (n64) group_->broadcast(flat64_.data(), n64, 0);
  if (group_->rank() != 0) walk(false);
}

void DataParallel::broadcast_parameters() {
  std::vector<Tensor> all = params_;
  all.insert(all.end(), buffers_.begin(), buffers_.end());
  broadcast_tensors(all);
}

void DataParallel::broadcast_buffers() { broadcast_tensors(buffers_); }

void DataParallel::check_same(const std::vector<std::pair<std::string, double>>& values,
                              const std::string& who) const {
  // Rank 0's count first, so that a rank with a different number of values does not desynchronise the broadcast.
  double count = static_cast<double>(values.size());
  group_->broadcast(&count, 1, 0);
  if (count != static_cast<double>(values.size()))
    throw std::invalid_argument(who + ": rank " + std::to_string(rank()) + " checks " +
                                std::to_string(values.size()) + " settings, rank 0 checks " +
                                std::to_string(static_cast<std::size_t>(count)));
  std::vector<double> v(values.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = values[i].second;
  if (!v.empty()) group_->broadcast(v.data(), v.size(), 0);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != values[i].second) {
      std::ostringstream s;
      s.precision(17);
      s << who << ": rank " << rank() << " has " << values[i].first << " = " << values[i].second << ", rank 0 has "
        << v[i] << "; every rank must run the same model on the same data with the same options";
      throw std::invalid_argument(s.str());
    }
}

}  // namespace chainrule::nn
