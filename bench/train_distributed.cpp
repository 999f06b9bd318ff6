// Data-parallel training steps over MPI: samples/s of bench_train's cases c and d on P ranks, each rank taking its
// shard of the same global batch (nn::DataParallel: forward and backward on B/P rows, the gradients reduced in
// buckets as backward produces them (nonblocking, ProcessGroupMPI's allreduce), Adam step). Run it under mpirun
// (its name does not start with bench_, so ./build.sh bench skips it):
//   OPENBLAS_NUM_THREADS=1 mpirun -np 1 build/bench/train_distributed
//   OPENBLAS_NUM_THREADS=1 mpirun -np 2 --oversubscribe build/bench/train_distributed [--no-overlap] [--bucket-mib M]
// --case c|d: that case alone. --no-overlap: one allreduce of every gradient after backward (the earlier scheme).
// --shard-optimizer: ZeRO-1 (DataParallelOptions::shard_optimizer): each rank updates its own buckets' parameters.
// --shard-of P (one rank): times what each rank of a P-rank job computes, its 1/P of the batch, with no
// communication: the compute a P-rank step cannot go below. Prints one line per case:
// ranks, overlap, median step time, samples/s, and the median time of one allreduce of all gradients alone.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <chainrule/nn/distributed.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

#include "../examples/cli.hpp"

using namespace chainrule;

namespace {

// bench_train's cases c and d (bench/train_chainrule.cpp): ReLU MLP, softmax cross-entropy, Adam 1e-3, one fixed
// batch of N(0,1) inputs and uniform labels from std::mt19937 (seed 1).
struct Case {
  const char* id;
  std::vector<std::size_t> sizes;
  std::size_t batch;
};

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Median seconds of one call of f over `samples` samples of a repetition count every rank agrees on (rank 0
// calibrates it to ~target seconds per sample): collectives inside f must pair up across ranks.
template <class F> double median_s(nn::ProcessGroup& g, F&& f, int samples, double target) {
  for (int i = 0; i < 3; ++i) f();  // warm-up
  auto time = [&](long reps) {
    g.barrier();
    const auto t0 = Clock::now();
    for (long i = 0; i < reps; ++i) f();
    g.barrier();  // a step is done when every rank is done
    return std::chrono::duration<double>(Clock::now() - t0).count() / static_cast<double>(reps);
  };
  double reps = std::max(1.0, std::min(1e6, target / time(5)));
  g.broadcast(&reps, 1, 0);
  std::vector<double> s;
  for (int i = 0; i < samples; ++i) s.push_back(time(static_cast<long>(reps)));
  double m = median(s);
  g.broadcast(&m, 1, 0);  // rank 0's clock decides
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  auto world = nn::ProcessGroupMPI::world();
  bool quick = false;
  nn::DataParallelOptions dpo;
  int shard_of = 0;  // > 0: rank 0's shard of a job of this many ranks, computed alone
  std::string only;  // --case c|d: that case alone
  bool no_overlap = false;
  examples::Cli cli("train_distributed", "Data-parallel steps of cases c and d on the ranks of mpirun; prints CSV "
                                          "to stdout");
  cli.flag("--quick", quick, "3 samples instead of 7");
  cli.option("--case", only, "that case alone").one_of({"c", "d"});
  cli.flag("--no-overlap", no_overlap, "one allreduce after backward instead of buckets during it");
  cli.option("--bucket-mib", dpo.bucket_mib, "bucket size").positive().show_default();
  cli.flag("--shard-optimizer", dpo.shard_optimizer, "each rank updates the parameters it owns (ZeRO-1)");
  examples::Option of = cli.option("--shard-of", shard_of, "(1 rank) rank 0's shard of a job of P ranks, alone");
  of.range(1, 1 << 20);
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  if (of.given() && world->size() != 1) return cli.fail("--shard-of needs a job of 1 rank");
  dpo.overlap = !no_overlap;
  const int samples = quick ? 3 : 7;
  const Case cases[] = {{"c", {784, 128, 64, 10}, 64}, {"d", {784, 1024, 1024, 10}, 512}};
  if (world->rank() == 0) std::printf("case,ranks,overlap,shard_optimizer,bucket_mib,step_ms,samples_per_s,allreduce_ms,allreduce_bytes\n");
  for (const Case& c : cases) {
    if (!only.empty() && only != c.id) continue;
    manual_seed(1);
    auto net = nn::MLP(c.sizes, "relu");
    optim::Adam opt(net->parameters(), optim::Adam::Options{});
    nn::DataParallel dp(world, net->parameters(), {}, dpo);
    // The fixed global batch, the same on every rank; this rank's rows of it.
    std::mt19937 gen(1);
    std::normal_distribution<float> normal;
    Array<float> x = Array<float>::from_shape({c.batch, c.sizes.front()});
    for (auto& v : x) v = normal(gen);
    std::vector<std::size_t> labels;
    for (std::size_t i = 0; i < c.batch; ++i) labels.push_back(gen() % c.sizes.back());
    const auto [lo, hi] = shard_of ? nn::shard(0, c.batch, 0, shard_of) : dp.shard(0, c.batch);
    const Tensor xs(Array<float>(xt::view(x, xt::range(lo, hi), xt::all())));
    const std::vector<std::size_t> ys(labels.begin() + static_cast<long>(lo), labels.begin() + static_cast<long>(hi));
    std::vector<double> loss(1);
    const double step = median_s(*world, [&] {
      opt.zero_grad(true);
      Tensor l = nn::cross_entropy(net->forward(xs), ys);
      loss[0] = l.item();
      dp.begin_step(hi - lo, c.batch);
      l.backward();
      dp.allreduce_gradients(hi - lo, c.batch, loss);
      dp.step(opt);
    }, samples, 0.3);
    // The communication alone: one allreduce of the flat gradient (+ the loss), as in every step.
    std::size_t n = 1;
    for (const auto& p : net->parameters()) n += p.numel();
    std::vector<float> buf(n, 1.f);
    const double comm = median_s(*world, [&] { world->allreduce_sum(buf.data(), buf.size()); }, samples, 0.1);
    if (world->rank() == 0)
      std::printf("%s,%d,%d,%d,%g,%.3f,%.0f,%.3f,%zu%s\n", c.id, world->size(), int(dpo.overlap),
                  int(dpo.shard_optimizer), dpo.bucket_mib,
                  step * 1e3, double(shard_of ? hi - lo : c.batch) / step, comm * 1e3, n * sizeof(float),
                  shard_of ? (",shard of " + std::to_string(shard_of)).c_str() : "");
  }
}
