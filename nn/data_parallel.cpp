// DataParallel: gradient averaging over a ProcessGroup, in buckets sent as backward produces them (overlapped)
// or in one flat allreduce after backward; with shard_optimizer, each bucket reduced to the rank that updates it.
#include "data_parallel.hpp"

#include "../optim/optimizer.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

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
// The work of a collective that has already run.
struct DoneWork final : ProcessGroup::Work {
  bool test() override { return true; }
  void wait() override {}
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

std::unique_ptr<ProcessGroup::Work> ProcessGroup::iallreduce_sum(float* buf, std::size_t n) {
  allreduce_sum(buf, n);
  return std::make_unique<DoneWork>();
}
std::unique_ptr<ProcessGroup::Work> ProcessGroup::iallreduce_sum(double* buf, std::size_t n) {
  allreduce_sum(buf, n);
  return std::make_unique<DoneWork>();
}

std::unique_ptr<ProcessGroup::Work> ProcessGroup::ireduce_sum(float* buf, std::size_t n, int) {
  return iallreduce_sum(buf, n);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroup::ireduce_sum(double* buf, std::size_t n, int) {
  return iallreduce_sum(buf, n);
}
std::unique_ptr<ProcessGroup::Work> ProcessGroup::ibroadcast(float* buf, std::size_t n, int root) {
  broadcast(buf, n, root);
  return std::make_unique<DoneWork>();
}
std::unique_ptr<ProcessGroup::Work> ProcessGroup::ibroadcast(double* buf, std::size_t n, int root) {
  broadcast(buf, n, root);
  return std::make_unique<DoneWork>();
}

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params,
                           std::vector<Tensor> buffers, DataParallelOptions options)
    : group_(std::move(group)), params_(std::move(params)), buffers_(std::move(buffers)), options_(options) {
  if (!group_) throw std::invalid_argument("DataParallel: null process group");
  if (!(options_.bucket_mib > 0))
    throw std::invalid_argument("DataParallel: bucket_mib must be positive, got " + std::to_string(options_.bucket_mib));
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
  make_buckets(options_.bucket_mib);
  if (options_.overlap && size() > 1)
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (params_[i].requires_grad() && params_[i].node().inputs.empty())
        hooks_.push_back(params_[i].register_post_accumulate_grad_hook([this, i](const Tensor&) { on_gradient(i); }));
}

DataParallel::~DataParallel() {
  for (auto& h : hooks_) h.remove();
  for (auto& b : buckets_)  // a step cut short by an exception: its buffers must outlive the collectives
    if (b.work) b.work->wait();
}

// Buckets over the parameters in reverse order (backward produces the last layer's gradients first). The flat
// buffer keeps the parameters in their own order, so each bucket, a run of consecutive parameters, is one
// contiguous piece of it; the values go after them.
void DataParallel::make_buckets(double mib) {
  const double cap = mib * 1024 * 1024 / (params_.empty() || params_[0].dtype() == kFloat32 ? 4.0 : 8.0);
  offset_.assign(params_.size(), 0), bucket_of_.assign(params_.size(), 0), packed_.assign(params_.size(), 0);
  for (std::size_t i = 1; i < params_.size(); ++i) offset_[i] = offset_[i - 1] + params_[i - 1].numel();
  for (std::size_t k = params_.size(); k-- > 0;) {
    const std::size_t n = params_[k].numel();
    if (buckets_.empty() || (buckets_.back().numel > 0 && double(buckets_.back().numel + n) > cap))
      buckets_.emplace_back();
    Bucket& b = buckets_.back();
    b.params.push_back(k), b.numel += n, b.offset = offset_[k];
    bucket_of_[k] = buckets_.size() - 1;
  }
  if (!options_.shard_optimizer) return;
  // Owners: the largest bucket first to the least-loaded rank (ties: the earlier bucket, the lower rank), the same
  // on every rank.
  std::vector<std::size_t> order(buckets_.size()), load(static_cast<std::size_t>(size()), 0);
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return buckets_[a].numel > buckets_[b].numel; });
  for (std::size_t k : order) {
    const auto least = std::min_element(load.begin(), load.end());
    buckets_[k].owner = static_cast<int>(least - load.begin());
    *least += buckets_[k].numel;
  }
}

bool DataParallel::owns(std::size_t i) const {
  if (i >= params_.size())
    throw std::out_of_range("DataParallel::owns: parameter " + std::to_string(i) + " of " +
                            std::to_string(params_.size()));
  return !options_.shard_optimizer || buckets_[bucket_of_[i]].owner == rank();
}

void DataParallel::check_synced(const char* who) const {
  if (sync_pending_)
    throw std::logic_error(std::string("DataParallel::") + who + ": the last step's parameters were not shared; "
                           "with shard_optimizer, update them with dp.step(opt), not opt.step()");
}

void DataParallel::arm(std::size_t rows, std::size_t batch_rows) {
  armed_ = true, rows_ = rows, batch_rows_ = batch_rows, next_launch_ = 0;
  std::fill(packed_.begin(), packed_.end(), 0);
  for (auto& b : buckets_) b.pending = b.params.size(), b.work.reset();
  detail::dispatch(params_[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    flat<T>().resize(numel_);
  });
}

void DataParallel::step(optim::Optimizer& opt) {
  opt.step();
  if (!sync_pending_) return;
  sync_pending_ = false;
  std::vector<std::unique_ptr<ProcessGroup::Work>> work;  // every parameter in flight at once
  for (const Bucket& b : buckets_)
    for (std::size_t i : b.params) {
      Tensor p = params_[i];
      detail::dispatch(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        work.push_back(group_->ibroadcast(p.data<T>().data(), p.numel(), b.owner));
      });
    }
  for (auto& w : work) w->wait();
}

void DataParallel::consolidate_optimizer_state(optim::Optimizer& opt) {
  if (!options_.shard_optimizer || size() == 1) return;
  check_synced("consolidate_optimizer_state");
  const std::vector<Tensor>& ps = opt.params();
  std::vector<int> owner(ps.size());
  std::vector<double> has(ps.size(), 0.0);  // 1 where the owner has state for the parameter (after the sum)
  for (std::size_t j = 0; j < ps.size(); ++j) {
    std::size_t i = 0;
    while (i < params_.size() && !params_[i].same(ps[j])) ++i;
    if (i == params_.size())
      throw std::invalid_argument("DataParallel::consolidate_optimizer_state: the " + std::string(opt.name()) +
                                  " optimizer's parameter " + std::to_string(j) +
                                  " is not one of this DataParallel's parameters");
    owner[j] = buckets_[bucket_of_[i]].owner;
    if (owner[j] == rank() && !opt.param_state(j).empty()) has[j] = 1;
  }
  group_->allreduce_sum(has.data(), has.size());
  std::vector<std::unique_ptr<ProcessGroup::Work>> work;
  for (std::size_t j = 0; j < ps.size(); ++j) {
    if (has[j] == 0) continue;
    for (Tensor t : opt.param_state(j, true))  // a step count is a float64 scalar, the rest like the parameter
      detail::dispatch(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        work.push_back(group_->ibroadcast(t.data<T>().data(), t.numel(), owner[j]));
      });
  }
  for (auto& w : work) w->wait();
}

void DataParallel::begin_step(std::size_t rows, std::size_t batch_rows) {
  if (batch_rows == 0 || rows > batch_rows)
    throw std::invalid_argument("DataParallel::begin_step: this rank's rows (" + std::to_string(rows) +
                                ") must be at most the global batch's (" + std::to_string(batch_rows) +
                                "), which must be positive");
  check_synced("begin_step");
  if (hooks_.empty()) return;
  if (armed_)
    throw std::logic_error("DataParallel::begin_step: called twice without allreduce_gradients in between");
  arm(rows, batch_rows);
}

void DataParallel::on_gradient(std::size_t i) {
  if (!armed_) return;  // a backward outside a data-parallel step (evaluation, a user's own)
  if (packed_[i])
    throw std::logic_error("DataParallel: parameter " + std::to_string(i) + " received a second gradient in one "
                           "step, after its bucket was sent; accumulate gradients over several backward calls "
                           "with DataParallelOptions::overlap = false");
  prepare(i);
  packed_[i] = 1;
  --buckets_[bucket_of_[i]].pending;
  launch_ready();
  for (std::size_t k = 0; k < next_launch_; ++k) buckets_[k].work->test();  // let the earlier buckets progress
}

void DataParallel::pack(std::size_t i) {
  const Tensor& p = params_[i];
  const double w = static_cast<double>(rows_) / static_cast<double>(batch_rows_);  // n_r / n
  detail::dispatch(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = flat<T>().data() + offset_[i];
    const Tensor g = p.grad();
    const T wt = static_cast<T>(w);
    if (g.defined() && w > 0) {
      const T* src = std::as_const(g).template data<T>().data();
      for (std::size_t k = 0, n = p.numel(); k < n; ++k) out[k] = wt * src[k];
    } else {
      std::fill(out, out + p.numel(), T(0));  // no rows here: contributes nothing (not even a NaN)
    }
  });
}

// An armed step's parameter i: a bucket of its own is reduced in the gradient itself, scaled in place (no copy
// into the flat buffer and back: 2 × 7.5 MB a step for the 784-1024-1024-10 net); else packed into the flat buffer.
// Either way the allreduce sums the same values w·g, so the bits are the same.
void DataParallel::prepare(std::size_t i) {
  if (buckets_[bucket_of_[i]].params.size() > 1) return pack(i);
  const double w = static_cast<double>(rows_) / static_cast<double>(batch_rows_);
  auto& node = params_[i].node();
  detail::dispatch(params_[i].dtype(), [&](auto tag) {
    using T = decltype(tag);
    const bool had = node.grad != nullptr;
    if (!had) node.grad = std::make_shared<detail::Value<T>>(Array<T>::from_shape(params_[i].shape()));
    T* g = detail::as<T>(*node.grad).value.data();
    const std::size_t n = params_[i].numel();
    const T wt = static_cast<T>(w);
    if (had && w > 0)
      for (std::size_t k = 0; k < n; ++k) g[k] = wt * g[k];
    else
      std::fill(g, g + n, T(0));  // no rows here: contributes nothing (not even a NaN)
  });
}

// Where bucket b is reduced: its parameter's gradient, or its piece of the flat buffer.
template <class T> T* DataParallel::bucket_data(const Bucket& b) {
  if (b.params.size() == 1) return detail::as<T>(*params_[b.params[0]].node().grad).value.data();
  return flat<T>().data() + b.offset;
}

void DataParallel::launch_ready() {
  for (; next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0; ++next_launch_) {
    Bucket& b = buckets_[next_launch_];
    detail::dispatch(params_[0].dtype(), [&](auto tag) {
      using T = decltype(tag);
      b.work = options_.shard_optimizer ? group_->ireduce_sum(bucket_data<T>(b), b.numel, b.owner)
                                        : group_->iallreduce_sum(bucket_data<T>(b), b.numel);
    });
  }
}

void DataParallel::allreduce_gradients(std::size_t rows, std::size_t batch_rows, std::vector<double>& values) {
  if (batch_rows == 0 || rows > batch_rows)
    throw std::invalid_argument("DataParallel::allreduce_gradients: this rank's rows (" + std::to_string(rows) +
                                ") must be at most the global batch's (" + std::to_string(batch_rows) +
                                "), which must be positive");
  if (size() == 1) return;  // rows == batch_rows: the gradients and values are the global batch's already
  check_synced("allreduce_gradients");
  if (!armed_ && options_.shard_optimizer && !params_.empty()) arm(rows, batch_rows);  // the buckets go to their owners, all now
  if (armed_) {
    if (rows != rows_ || batch_rows != batch_rows_)
      throw std::invalid_argument("DataParallel::allreduce_gradients: rows " + std::to_string(rows) + " of " +
                                  std::to_string(batch_rows) + ", but begin_step said " + std::to_string(rows_) +
                                  " of " + std::to_string(batch_rows_));
    finish_overlapped(values);
    return;
  }
  rows_ = rows, batch_rows_ = batch_rows;
  const double w = static_cast<double>(rows) / static_cast<double>(batch_rows);
  detail::dispatch(params_.empty() ? kFloat32 : params_[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<T>& flat = this->flat<T>();
    flat.resize(numel_ + values.size());
    for (std::size_t i = 0; i < params_.size(); ++i) pack(i);  // flat = [w·g..., w·values]
    T* out = flat.data() + numel_;
    for (double v : values) *out++ = w > 0 ? static_cast<T>(w * v) : T(0);
    group_->allreduce_sum(flat.data(), flat.size());  // one allreduce of everything
  });
  unpack(values);
}

// The end of an armed step: the gradients backward did not produce (a rank without rows, an unused parameter)
// are packed now, the remaining buckets and the values go out in order, and everything is waited for.
void DataParallel::finish_overlapped(std::vector<double>& values) {
  armed_ = false;
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!packed_[i]) prepare(i), packed_[i] = 1, --buckets_[bucket_of_[i]].pending;
  launch_ready();
  const double w = static_cast<double>(rows_) / static_cast<double>(batch_rows_);
  detail::dispatch(params_[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<T>& flat = this->flat<T>();
    std::vector<T> v(values.size());  // not in flat: resizing it would move the buckets MPI is writing
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = w > 0 ? static_cast<T>(w * values[k]) : T(0);
    std::unique_ptr<ProcessGroup::Work> vw;
    if (!v.empty()) vw = group_->iallreduce_sum(v.data(), v.size());
    for (auto& b : buckets_) b.work->wait(), b.work.reset();
    if (vw) vw->wait();
    flat.resize(numel_ + v.size());
    std::copy(v.begin(), v.end(), flat.begin() + static_cast<long>(numel_));
  });
  unpack(values, true);
  sync_pending_ = options_.shard_optimizer;
}

// The reduced gradients into .grad (created where a rank without rows never computed one), and the values. After
// an armed step, one-parameter buckets were reduced in .grad itself. Sharded, the other ranks' parameters lose
// theirs: the optimizer skips them.
void DataParallel::unpack(std::vector<double>& values, bool overlapped) {
  detail::dispatch(params_.empty() ? kFloat32 : params_[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    const std::vector<T>& flat = this->flat<T>();
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto& node = params_[i].node();
      if (!owns(i)) {
        node.grad.reset();
        continue;
      }
      if (overlapped && buckets_[bucket_of_[i]].params.size() == 1) continue;
      if (!node.grad) node.grad = std::make_shared<detail::Value<T>>(Array<T>::from_shape(params_[i].shape()));
      const T* in = flat.data() + offset_[i];
      std::copy(in, in + params_[i].numel(), detail::as<T>(*node.grad).value.data());
    }
    const T* in = flat.data() + numel_;
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
