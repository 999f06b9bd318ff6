// Training steps end to end: chainrule vs libtorch (when built with it) vs the raw sgemm calls of the step, side
// by side in one process at one thread count; peak resident memory of each implementation in its own process.
//   bench_train [--threads N] [--cases a,b,c,d,f,g] [--csv FILE] [--quick] [--no-rss] [--isolate | --same-process]
//               [--flush-denormal] [--fit-ieee]
// At 1 thread both libraries are timed side by side in this process; above 1 thread (or with --isolate) each in a
// process of its own, since OpenBLAS' and libtorch's thread pools in one process slow libtorch down up to 100×.
// Cases (float32; per step: zero_grad, forward, loss, backward, optimizer step):
//   a  XOR 2-2-1, sigmoid after both layers, MSE, batch 4, SGD lr 0.1
//   b  784-16-16-10 ReLU, softmax cross-entropy on the logits, batch 32, SGD lr 0.01
//   c  784-128-64-10 ReLU, CE, batch 64, Adam 1e-3
//   d  784-1024-1024-10 ReLU, CE, batch 512, Adam 1e-3
//   g  one Hessian-vector product of case c's loss w.r.t. all parameters (chainrule::hvp vs libtorch's double
//      backward), and one gradient of it: the hvp/grad cost ratio of each library
//   f  one Fashion-MNIST epoch, the examples' recipe (pixels/255, 784-128-64-10 ReLU, CE, Adam 1e-3, batch 64,
//      reshuffled, all 60,000 training images), written with the engine and with nn::Model::fit
// Internal: bench_train --impl chainrule|fit|torch --case X --threads N [--samples S] runs one workload and prints
// its median time and peak RSS
// (train_worker, built from the same code without libtorch, does it for chainrule's side); with --steps N it
// runs N untimed chainrule steps instead, for a profiler:
//   valgrind --tool=callgrind build/bench/train_worker --impl chainrule --case c --steps 200
#include <cblas.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "../examples/cli.hpp"
#include "machine.hpp"
#include "out.hpp"
#include "train.hpp"

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
  std::string cases = "a,b,c,d,f,g", csv = "out/bench_train.csv", impl, one_case;
  bool quick = false, rss = true;
  bool flush_denormal = false;  // subnormals flushed to zero in both libraries (off: both libraries' default)
  bool fit_ieee = false;        // f-fit with FitOptions::flush_denormal = false (fit flushes by default)
  std::size_t steps = 0;  // child mode: run this many untimed steps instead (for profilers)
  int samples = 0;   // child mode: samples (a–d) or epochs (f) to time
  int isolate = -1;  // time each implementation in its own process: 1 yes, 0 no, -1 when threads > 1
};

struct Row {
  std::string id, what, unit;
  double chainrule = 0, torch = 0, floor = 0;  // 0: not measured
  std::string fp_cr = "IEEE", fp_torch = "IEEE";  // subnormals kept (IEEE) or flushed to zero (FTZ) in each
  long rss_chainrule = 0, rss_torch = 0;       // KiB, 0: not measured
  double round_trip = 0;                        // ns between the first two CPUs just before (bench::round_trip_ns)
};

bool wanted(const Options& o, const std::string& id) { return ("," + o.cases + ",").find("," + id + ",") != std::string::npos; }

const bench::TrainCase* find_case(const std::vector<bench::TrainCase>& cs, const std::string& id) {
  for (const auto& c : cs)
    if (c.id == id) return &c;
  return nullptr;
}

// Child mode: one implementation's workload in this process, then its timing (value=: us/step or s/epoch, the
// median of o.samples samples or epochs, 1 if not given), its training loss (case f) and its peak RSS on stdout.
int run_child(const Options& o) {
  const auto cases = bench::train_cases();
  const int n = std::max(1, o.samples);
  double value = 0, loss = 0, floor = 0, grad = 0;
  if (o.one_case == "g") {
    if (o.impl == "chainrule" && o.steps > 0) bench::chainrule_run_hvps(o.steps);
    else if (o.impl == "chainrule") value = bench::chainrule_hvp_ns(n, &grad) / 1e3, grad /= 1e3;
    else if (o.impl == "torch") value = bench::torch_hvp_ns(n, &grad) / 1e3, grad /= 1e3;
    else return 2;
  } else if (o.one_case == "f") {
    bench::Data d = bench::load_fashion_mnist_data();
    if (d.n == 0) return 1;
    if (o.impl == "chainrule") value = bench::chainrule_epoch_s(std::move(d), n, &loss);
    else if (o.impl == "fit") value = bench::chainrule_fit_epoch_s(std::move(d), n, &loss);
    else if (o.impl == "torch") value = bench::torch_epoch_s(std::move(d), n, &loss);
    else return 2;
  } else {
    const bench::TrainCase* c = find_case(cases, o.one_case);
    if (!c) return 2;
    if (o.impl == "chainrule" && o.steps > 0) bench::chainrule_run_steps(*c, o.steps);
    else if (o.impl == "chainrule") {
      value = bench::chainrule_step_ns(*c, n) / 1e3;
      if (o.samples > 0) floor = bench::sgemm_floor_ns(*c, n) / 1e3;  // in the same process, for isolated runs
    }
    else if (o.impl == "torch") value = bench::torch_step_ns(*c, n) / 1e3;
    else return 2;
  }
  std::printf("value=%.9g\nfloor=%.9g\nloss=%.9g\ngrad=%.9g\npeak_rss_kb=%ld\n", value, floor, loss, grad,
              bench::peak_rss_kb());
  return 0;
}

struct ChildResult {
  double value = 0, floor = 0, loss = 0, grad = 0;  // grad: case g's gradient time
  long rss_kb = 0;  // all 0 on failure
};

bool g_flush_denormal = false, g_fit_ieee = false;  // passed on to every child

// Runs `exe --impl impl --case id --threads n --samples s` and reads what it reports.
ChildResult run_in_child(const std::string& exe, const std::string& impl, const std::string& id, int threads,
                         int samples) {
  const std::string cmd = "'" + exe + "' --impl " + impl + " --case " + id + " --threads " + std::to_string(threads) +
                          " --samples " + std::to_string(samples) + (g_flush_denormal ? " --flush-denormal" : "") +
                          (g_fit_ieee ? " --fit-ieee" : "");
  ChildResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[256];
  while (std::fgets(line, sizeof line, p)) {
    if (!std::strncmp(line, "value=", 6)) r.value = std::atof(line + 6);
    if (!std::strncmp(line, "loss=", 5)) r.loss = std::atof(line + 5);
    if (!std::strncmp(line, "floor=", 6)) r.floor = std::atof(line + 6);
    if (!std::strncmp(line, "grad=", 5)) r.grad = std::atof(line + 5);
    if (!std::strncmp(line, "peak_rss_kb=", 12)) r.rss_kb = std::atol(line + 12);
  }
  return pclose(p) == 0 ? r : ChildResult{};
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

// The command line into o: -1 to run, else the exit code (examples::Cli::parse).
int parse_options(int argc, char** argv, Options& o) {
  examples::Cli cli("bench_train", "Training steps, a Fashion-MNIST epoch and a Hessian-vector product: chainrule "
                                   "against libtorch (when built with it) and the raw-sgemm floor; bench/README.md "
                                   "describes the cases and columns");
  bool no_rss = false, isolate = false, same_process = false;
  cli.option("--threads", o.threads, "threads of each library").range(1, 4096).show_default();
  cli.option("--cases", o.cases, "the cases to run, among a,b,c,d,f,g").show_default();
  cli.option("--csv", o.csv, "the table also goes to this file").show_default();
  cli.flag("--quick", o.quick, "fewer samples");
  cli.flag("--no-rss", no_rss, "no peak-RSS runs");
  const auto& iso = cli.flag("--isolate", isolate, "each implementation in its own process (default above 1 thread)");
  cli.flag("--same-process", same_process, "both implementations in this process").excludes(iso);
  cli.flag("--flush-denormal", o.flush_denormal, "subnormals flushed to zero in both libraries");
  cli.flag("--fit-ieee", o.fit_ieee, "f-fit with FitOptions::flush_denormal = false");
  // Internal: one workload in a child process (run_in_child).
  cli.option("--impl", o.impl, "(internal) run one implementation: chainrule, fit or torch");
  cli.option("--case", o.one_case, "(internal) the case --impl runs");
  cli.option("--steps", o.steps, "(internal) steps per sample");
  cli.option("--samples", o.samples, "(internal) samples or epochs").range(1, 1 << 20);
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  o.rss = !no_rss;
  o.isolate = isolate ? 1 : same_process ? 0 : -1;
  return -1;
}

int main(int argc, char** argv) {
  Options o;
  if (const int code = parse_options(argc, argv, o); code >= 0) return code;
  bench::set_chainrule_threads(o.threads);  // chainrule's intra-op pool (it keeps OpenBLAS at 1 thread)
  bench::set_torch_threads(o.threads);
  if (o.fit_ieee) {
    bench::set_fit_flush_denormal(false);
    g_fit_ieee = true;
  }
  if (o.flush_denormal) {
    bench::set_chainrule_flush_denormal(true);
    bench::set_torch_flush_denormal(true);
    g_flush_denormal = true;
  }
  if (!o.impl.empty()) return run_child(o);

  const bool torch = bench::have_torch();
  const int samples = o.quick ? 3 : 7, epochs = o.quick ? 1 : 3;
  // Two libraries' thread pools in one process (OpenBLAS' pthreads, libtorch's OpenMP) fight above 1 thread:
  // libtorch's steps then take up to 100× longer than in a process of their own. So by default, above 1 thread,
  // each implementation is timed in its own process.
  const bool isolate = o.isolate == 1 || (o.isolate == -1 && o.threads > 1);
  const std::string exe = self_exe();
  // chainrule's RSS is measured in train_worker (this code without libtorch linked) when it is next to us.
  std::string worker = exe.substr(0, exe.rfind('/') + 1) + "train_worker";
  if (!torch || access(worker.c_str(), X_OK) != 0) worker = exe;
  const long base_rss = bench::current_rss_kb();
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  const std::string cpu = bench::cpu_name();
  std::printf("bench_train, %s, %s, load average %s, %ld CPUs online\n", date, cpu.c_str(), load_average().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%s, %d thread(s), %s; steps: median of %d samples; Fashion-MNIST: median of %d epoch(s); %s; %s\n",
              openblas_get_config(), o.threads, bench::torch_version().c_str(), samples, epochs,
              isolate ? "each implementation timed in its own process" : "timed side by side in this process",
              o.flush_denormal ? "subnormals flushed to zero in both"
                               : "subnormals kept (IEEE, both libraries' default), except in fit (column fp)");
  std::printf("RSS of this binary at start (libraries loaded, nothing run): %.0f MiB; chainrule's peak RSS measured in"
              " %s\n\n", base_rss / 1024.0, worker == exe ? "this binary" : "train_worker (no libtorch linked)");

  std::vector<Row> rows;
  // Above 1 thread, how far apart the first two CPUs are just before chainrule's run (bench::round_trip_ns): on a
  // virtual machine the host moves the vCPUs, and the 2-thread figures move with it.
  const auto round_trip = [&](Row& r) {
    if (o.threads < 2) return;
    r.round_trip = bench::round_trip_ns();
    std::printf("  round trip between CPUs before %s: %.0f ns\n", r.id.c_str(), r.round_trip);
  };
  const auto semantics = [&](Row& r) {  // --flush-denormal: both libraries flush everywhere
    if (o.flush_denormal) r.fp_cr = r.fp_torch = "FTZ";
  };
  for (const auto& c : bench::train_cases()) {
    if (!wanted(o, c.id)) continue;
    std::printf("case %s: %s ...\n", c.id.c_str(), c.describe().c_str());
    std::fflush(stdout);
    Row r{c.id, c.describe(), "us/step"};
    round_trip(r);
    if (isolate) {  // timing and peak RSS from one process per implementation
      const ChildResult cr = run_in_child(worker, "chainrule", c.id, o.threads, samples);
      r.chainrule = cr.value, r.floor = cr.floor, r.rss_chainrule = cr.rss_kb;
      if (torch) {
        const ChildResult t = run_in_child(exe, "torch", c.id, o.threads, samples);
        r.torch = t.value, r.rss_torch = t.rss_kb;
      }
    } else {
      r.chainrule = bench::chainrule_step_ns(c, samples) / 1e3;
      if (torch) r.torch = bench::torch_step_ns(c, samples) / 1e3;
      if (o.rss) {
        r.rss_chainrule = run_in_child(worker, "chainrule", c.id, o.threads, 1).rss_kb;
        if (torch) r.rss_torch = run_in_child(exe, "torch", c.id, o.threads, 1).rss_kb;
      }
    }
    if (!isolate) r.floor = bench::sgemm_floor_ns(c, samples) / 1e3;
    semantics(r);
    rows.push_back(r);
  }
  if (wanted(o, "f")) {
    if (!bench::fashion_mnist_available()) {
      std::printf("case f: skipped, Fashion-MNIST is not in /usr/share/datasets/fashion-mnist "
                  "(apt-get install dataset-fashion-mnist)\n");
    } else {
      std::printf("case f: one Fashion-MNIST epoch (60000 images, 784-128-64-10 ReLU, CE, batch 64, Adam 1e-3) ...\n");
      std::fflush(stdout);
      double l_cr = 0, l_fit = 0, l_t = 0;
      Row engine{"f", "Fashion-MNIST epoch, step written with the engine", "s/epoch"};
      Row fit{"f-fit", "Fashion-MNIST epoch, nn::Model::fit (verbose 0)", "s/epoch"};
      if (!o.fit_ieee) fit.fp_cr = "FTZ";  // fit's default: FitOptions::flush_denormal
      if (isolate) {
        round_trip(engine);
        const ChildResult e = run_in_child(worker, "chainrule", "f", o.threads, epochs);
        round_trip(fit);
        const ChildResult m = run_in_child(worker, "fit", "f", o.threads, epochs);
        engine.chainrule = e.value, engine.rss_chainrule = e.rss_kb, l_cr = e.loss;
        fit.chainrule = m.value, fit.rss_chainrule = m.rss_kb, l_fit = m.loss;
        if (torch) {
          const ChildResult t = run_in_child(exe, "torch", "f", o.threads, epochs);
          engine.torch = fit.torch = t.value, engine.rss_torch = fit.rss_torch = t.rss_kb, l_t = t.loss;
        }
      } else {
        const bench::Data d = bench::load_fashion_mnist_data();
        round_trip(engine);
        engine.chainrule = bench::chainrule_epoch_s(d, epochs, &l_cr);
        round_trip(fit);
        fit.chainrule = bench::chainrule_fit_epoch_s(d, epochs, &l_fit);
        if (torch) engine.torch = fit.torch = bench::torch_epoch_s(d, epochs, &l_t);
        if (o.rss) {
          engine.rss_chainrule = run_in_child(worker, "chainrule", "f", o.threads, 1).rss_kb;
          fit.rss_chainrule = run_in_child(worker, "fit", "f", o.threads, 1).rss_kb;
          if (torch) engine.rss_torch = fit.rss_torch = run_in_child(exe, "torch", "f", o.threads, 1).rss_kb;
        }
      }
      std::printf("  training loss of the last timed epoch: chainrule %.4f, fit %.4f, libtorch %s\n", l_cr, l_fit,
                  fmt(l_t, "%.4f").c_str());
      semantics(engine);
      semantics(fit);
      rows.push_back(engine);
      rows.push_back(fit);
    }
  }

  if (wanted(o, "g")) {
    std::printf("case g: one Hessian-vector product, 784-128-64-10 ReLU, CE, batch 64, all parameters ...\n");
    std::fflush(stdout);
    Row r{"g", "Hessian-vector product of case c's loss", "us/hvp"};
    round_trip(r);
    double grad_cr = 0, grad_t = 0;
    if (isolate) {
      const ChildResult cr = run_in_child(worker, "chainrule", "g", o.threads, samples);
      r.chainrule = cr.value, grad_cr = cr.grad, r.rss_chainrule = cr.rss_kb;
      if (torch) {
        const ChildResult t = run_in_child(exe, "torch", "g", o.threads, samples);
        r.torch = t.value, grad_t = t.grad, r.rss_torch = t.rss_kb;
      }
    } else {
      r.chainrule = bench::chainrule_hvp_ns(samples, &grad_cr) / 1e3, grad_cr /= 1e3;
      if (torch) r.torch = bench::torch_hvp_ns(samples, &grad_t) / 1e3, grad_t /= 1e3;
    }
    std::printf("  one gradient: chainrule %s us, libtorch %s us; hvp/grad: chainrule %s, libtorch %s\n",
                fmt(grad_cr, "%.1f").c_str(), fmt(grad_t, "%.1f").c_str(),
                fmt(grad_cr ? r.chainrule / grad_cr : 0, "%.2f").c_str(),
                fmt(grad_t ? r.torch / grad_t : 0, "%.2f").c_str());
    rows.push_back(r);
  }

  bench::make_parent(o.csv);
  std::ofstream csv(o.csv);
  csv << "case,description,threads,unit,chainrule,libtorch,sgemm_floor,libtorch_over_chainrule,floor_over_chainrule,"
         "peak_rss_chainrule_mib,peak_rss_libtorch_mib,subnormals_chainrule,subnormals_libtorch,cpu,round_trip_ns\n";
  std::printf("\n%-6s %-8s %11s %11s %9s %9s %11s %11s %10s %8s\n", "case", "unit", "chainrule", "libtorch",
              "torch/cr", "floor/cr", "RSS cr MiB", "RSS lt MiB", "fp cr/lt", "rt ns");
  for (const auto& r : rows) {
    const double tr = r.torch ? r.torch / r.chainrule : 0, fr = r.floor ? r.floor / r.chainrule : 0;
    std::printf("%-6s %-8s %11s %11s %9s %9s %11s %11s %10s %8s\n", r.id.c_str(), r.unit.c_str(),
                fmt(r.chainrule, "%.3f").c_str(), fmt(r.torch, "%.3f").c_str(), fmt(tr, "%.2f").c_str(),
                fmt(fr, "%.3f").c_str(), fmt(r.rss_chainrule / 1024.0, "%.0f").c_str(),
                fmt(r.rss_torch / 1024.0, "%.0f").c_str(), (r.fp_cr + "/" + r.fp_torch).c_str(),
                fmt(r.round_trip, "%.0f").c_str());
    csv << r.id << ",\"" << r.what << "\"," << o.threads << ',' << r.unit << ',' << r.chainrule << ',' << r.torch
        << ',' << r.floor << ',' << tr << ',' << fr << ',' << r.rss_chainrule / 1024.0 << ','
        << r.rss_torch / 1024.0 << ',' << r.fp_cr << ',' << r.fp_torch << ",\"" << cpu << "\"," << r.round_trip << '\n';
  }
  std::printf("(- = not measured. torch/cr > 1: chainrule is faster. floor/cr: the share of chainrule's step that the\n"
              " step's raw sgemm calls alone take (1 = no overhead). Peak RSS: VmHWM of a process running only that\n"
              " implementation; for f, counted from after the data is loaded, so the dataset is in it once. fp:\n"
              " subnormals kept (IEEE) or flushed to zero (FTZ) by chainrule / libtorch; fit flushes by default,\n"
              " --fit-ieee not. rt: the round trip between the first two CPUs just before chainrule's run, at 2+\n"
              " threads; on a virtual machine 2-thread figures move with it: bench/README.md, session 13.)\n");
  std::printf("wrote %s\n", o.csv.c_str());
}
