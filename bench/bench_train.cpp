// Training steps end to end: chainrule vs libtorch (when built with it) vs the raw sgemm calls of the step, side
// by side in one process at one thread count; peak resident memory of each implementation in its own process.
//   bench_train [--threads N] [--cases a,b,c,d,f] [--csv FILE] [--quick]
// Cases (float32; per step: zero_grad, forward, loss, backward, optimizer step):
//   a  XOR 2-2-1, sigmoid after both layers, MSE, batch 4, SGD lr 0.1
//   b  784-16-16-10 ReLU, softmax cross-entropy on the logits, batch 32, SGD lr 0.01
//   c  784-128-64-10 ReLU, CE, batch 64, Adam 1e-3
//   d  784-1024-1024-10 ReLU, CE, batch 512, Adam 1e-3
//   f  one Fashion-MNIST epoch, the examples' recipe (pixels/255, 784-128-64-10 ReLU, CE, Adam 1e-3, batch 64,
//      reshuffled, all 60,000 training images), written with the engine and with nn::Model::fit
// Internal: bench_train --impl chainrule|fit|torch --case X --threads N runs one workload and prints its peak RSS
// (train_worker, built from the same code without libtorch, does it for chainrule's side); with --steps N it
// runs N untimed chainrule steps instead, for a profiler:
//   valgrind --tool=callgrind build/bench/train_worker --impl chainrule --case c --steps 200
#include <cblas.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "bench/train.hpp"

namespace bench {

namespace {
long status_kb(const char* key) {  // a "Key:   123 kB" line of /proc/self/status
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::atol(line.c_str() + n + 1);
  return 0;
}
}  // namespace

long peak_rss_kb() { return status_kb("VmHWM"); }
long current_rss_kb() { return status_kb("VmRSS"); }
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  return static_cast<bool>(f << "5" << std::flush);
}

}  // namespace bench

namespace {

struct Options {
  int threads = 1;
  std::string cases = "a,b,c,d,f", csv = "bench_train.csv", impl, one_case;
  bool quick = false, rss = true;
  long steps = 0;  // child mode: run this many untimed steps instead (for profilers)
};

struct Row {
  std::string id, what, unit;
  double chainrule = 0, torch = 0, floor = 0;  // 0: not measured
  long rss_chainrule = 0, rss_torch = 0;       // KiB, 0: not measured
};

bool wanted(const Options& o, const std::string& id) { return ("," + o.cases + ",").find("," + id + ",") != std::string::npos; }

const bench::TrainCase* find_case(const std::vector<bench::TrainCase>& cs, const std::string& id) {
  for (const auto& c : cs)
    if (c.id == id) return &c;
  return nullptr;
}

// Child mode: one implementation's workload in this process, then its peak RSS on stdout.
int run_child(const Options& o) {
  const auto cases = bench::train_cases();
  double loss = 0;
  if (o.one_case == "f") {
    bench::Data d = bench::load_fashion_mnist_data();
    if (d.n == 0) return 1;
    if (o.impl == "chainrule") bench::chainrule_epoch_s(std::move(d), 1, &loss);
    else if (o.impl == "fit") bench::chainrule_fit_epoch_s(std::move(d), 1, &loss);
    else if (o.impl == "torch") bench::torch_epoch_s(std::move(d), 1, &loss);
    else return 2;
  } else {
    const bench::TrainCase* c = find_case(cases, o.one_case);
    if (!c) return 2;
    if (o.impl == "chainrule" && o.steps > 0) bench::chainrule_run_steps(*c, o.steps);
    else if (o.impl == "chainrule") bench::chainrule_step_ns(*c, 1);
    else if (o.impl == "torch") bench::torch_step_ns(*c, 1);
    else return 2;
  }
  std::printf("peak_rss_kb=%ld\n", bench::peak_rss_kb());
  return 0;
}

// Runs `exe --impl impl --case id --threads n` and returns the peak RSS it reports, in KiB (0 on failure).
long child_rss_kb(const std::string& exe, const std::string& impl, const std::string& id, int threads) {
  const std::string cmd = "'" + exe + "' --impl " + impl + " --case " + id + " --threads " + std::to_string(threads);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  long kb = 0;
  char line[256];
  while (std::fgets(line, sizeof line, p))
    if (!std::strncmp(line, "peak_rss_kb=", 12)) kb = std::atol(line + 12);
  return pclose(p) == 0 ? kb : 0;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string fmt(double v, const char* f) {
  if (v == 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_train: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--cases") o.cases = next();
    else if (a == "--csv") o.csv = next();
    else if (a == "--quick") o.quick = true;
    else if (a == "--no-rss") o.rss = false;
    else if (a == "--impl") o.impl = next();
    else if (a == "--case") o.one_case = next();
    else if (a == "--steps") o.steps = std::stol(next());
    else {
      std::fprintf(stderr, "usage: bench_train [--threads N] [--cases a,b,c,d,f] [--csv FILE] [--quick] [--no-rss]\n");
      return 2;
    }
  }
  openblas_set_num_threads(o.threads);
  bench::set_torch_threads(o.threads);
  if (!o.impl.empty()) return run_child(o);

  const bool torch = bench::have_torch();
  const int samples = o.quick ? 3 : 7, epochs = o.quick ? 1 : 3;
  const std::string exe = self_exe();
  // chainrule's RSS is measured in train_worker (this code without libtorch linked) when it is next to us.
  std::string worker = exe.substr(0, exe.rfind('/') + 1) + "train_worker";
  if (!torch || access(worker.c_str(), X_OK) != 0) worker = exe;
  const long base_rss = bench::current_rss_kb();
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::printf("bench_train, %s, load average %s, %ld CPUs online\n", date, load_average().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%s, %d thread(s), %s; steps: median of %d samples; Fashion-MNIST: median of %d epoch(s)\n",
              openblas_get_config(), o.threads, bench::torch_version().c_str(),
              samples, epochs);
  std::printf("RSS of this binary at start (libraries loaded, nothing run): %.0f MiB; chainrule's peak RSS measured in"
              " %s\n\n", base_rss / 1024.0, worker == exe ? "this binary" : "train_worker (no libtorch linked)");

  std::vector<Row> rows;
  for (const auto& c : bench::train_cases()) {
    if (!wanted(o, c.id)) continue;
    std::printf("case %s: %s ...\n", c.id.c_str(), c.describe().c_str());
    std::fflush(stdout);
    Row r{c.id, c.describe(), "us/step"};
    r.chainrule = bench::chainrule_step_ns(c, samples) / 1e3;
    if (torch) r.torch = bench::torch_step_ns(c, samples) / 1e3;
    r.floor = bench::sgemm_floor_ns(c, samples) / 1e3;
    if (o.rss) {
      r.rss_chainrule = child_rss_kb(worker, "chainrule", c.id, o.threads);
      if (torch) r.rss_torch = child_rss_kb(exe, "torch", c.id, o.threads);
    }
    rows.push_back(r);
  }
  if (wanted(o, "f")) {
    if (!bench::fashion_mnist_available()) {
      std::printf("case f: skipped, Fashion-MNIST is not in /usr/share/datasets/fashion-mnist "
                  "(apt-get install dataset-fashion-mnist)\n");
    } else {
      std::printf("case f: one Fashion-MNIST epoch (60000 images, 784-128-64-10 ReLU, CE, batch 64, Adam 1e-3) ...\n");
      std::fflush(stdout);
      const bench::Data d = bench::load_fashion_mnist_data();
      double l_cr = 0, l_fit = 0, l_t = 0;
      Row engine{"f", "Fashion-MNIST epoch, step written with the engine", "s/epoch"};
      Row fit{"f-fit", "Fashion-MNIST epoch, nn::Model::fit (verbose 0)", "s/epoch"};
      engine.chainrule = bench::chainrule_epoch_s(d, epochs, &l_cr);
      fit.chainrule = bench::chainrule_fit_epoch_s(d, epochs, &l_fit);
      if (torch) engine.torch = fit.torch = bench::torch_epoch_s(d, epochs, &l_t);
      std::printf("  training loss of the last timed epoch: chainrule %.4f, fit %.4f, libtorch %s\n", l_cr, l_fit,
                  fmt(l_t, "%.4f").c_str());
      if (o.rss) {
        engine.rss_chainrule = child_rss_kb(worker, "chainrule", "f", o.threads);
        fit.rss_chainrule = child_rss_kb(worker, "fit", "f", o.threads);
        if (torch) engine.rss_torch = fit.rss_torch = child_rss_kb(exe, "torch", "f", o.threads);
      }
      rows.push_back(engine);
      rows.push_back(fit);
    }
  }

  std::ofstream csv(o.csv);
  csv << "case,description,threads,unit,chainrule,libtorch,sgemm_floor,libtorch_over_chainrule,floor_over_chainrule,"
         "peak_rss_chainrule_mib,peak_rss_libtorch_mib\n";
  std::printf("\n%-6s %-8s %11s %11s %9s %9s %11s %11s\n", "case", "unit", "chainrule", "libtorch", "torch/cr",
              "floor/cr", "RSS cr MiB", "RSS lt MiB");
  for (const auto& r : rows) {
    const double tr = r.torch ? r.torch / r.chainrule : 0, fr = r.floor ? r.floor / r.chainrule : 0;
    std::printf("%-6s %-8s %11s %11s %9s %9s %11s %11s\n", r.id.c_str(), r.unit.c_str(),
                fmt(r.chainrule, "%.3f").c_str(), fmt(r.torch, "%.3f").c_str(), fmt(tr, "%.2f").c_str(),
                fmt(fr, "%.3f").c_str(), fmt(r.rss_chainrule / 1024.0, "%.0f").c_str(),
                fmt(r.rss_torch / 1024.0, "%.0f").c_str());
    csv << r.id << ",\"" << r.what << "\"," << o.threads << ',' << r.unit << ',' << r.chainrule << ',' << r.torch
        << ',' << r.floor << ',' << tr << ',' << fr << ',' << r.rss_chainrule / 1024.0 << ','
        << r.rss_torch / 1024.0 << '\n';
  }
  std::printf("(- = not measured. torch/cr > 1: chainrule is faster. floor/cr: the share of chainrule's step that the\n"
              " step's raw sgemm calls alone take (1 = no overhead). Peak RSS: VmHWM of a process running only that\n"
              " implementation; for f, counted from after the data is loaded, so the dataset is in it once.)\n");
  std::printf("wrote %s\n", o.csv.c_str());
}
