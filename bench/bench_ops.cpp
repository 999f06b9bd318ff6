// Per-op overhead and matmul: chainrule vs libtorch (when built with it) vs raw cblas_sgemm, side by side in
// one process at one thread count. Prints a table and writes it as CSV.
//   bench_ops [--threads N] [--csv FILE]   (default out/bench_ops.csv)
#include <cblas.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <chainrule/autograd/parallel.hpp>
#include "../examples/cli.hpp"
#include "machine.hpp"
#include "out.hpp"
#include "workloads.hpp"

int main(int argc, char** argv) {
  int threads = 1;
  std::string csv = "out/bench_ops.csv";
  examples::Cli cli("bench_ops", "Per-op overhead, matmul and elementwise ops: chainrule, libtorch (when built "
                                  "with it) and raw cblas_sgemm side by side");
  cli.option("--threads", threads, "threads of each library").range(1, 4096).show_default();
  cli.option("--csv", csv, "the table also goes to this file").show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  chainrule::set_num_threads(threads);  // chainrule's intra-op pool (it keeps OpenBLAS at 1 thread)
  bench::set_torch_threads(threads);
  const bool torch = bench::have_torch();
  std::printf("%s, %s, %d thread(s); median of 7 samples\n", bench::cpu_name().c_str(), openblas_get_config(),
              threads);

  std::vector<bench::Result> rows;
  const char* modes[] = {"forward, no grad", "forward, recorded", "forward + backward"};
  for (int n : {1, 64})
    for (int mode = 0; mode < 3; ++mode)
      rows.push_back({"chain of 3000 ops, " + std::string(n == 1 ? "1 element" : "64x64") + ", " + modes[mode],
                      "ns/op", bench::chainrule_chain_ns(n, 3000, mode), torch ? bench::torch_chain_ns(n, 3000, mode) : 0,
                      0});
  for (int n : {64, 256, 1024})
    rows.push_back({"matmul " + std::to_string(n) + "x" + std::to_string(n), "us", bench::chainrule_matmul_ns(n) / 1e3,
                    torch ? bench::torch_matmul_ns(n) / 1e3 : 0, bench::cblas_matmul_ns(n) / 1e3});
  for (const char* op : {"exp", "log", "tanh", "sigmoid", "relu"})
    rows.push_back({std::string(op) + " of 512x1024 floats, forward", "us", bench::chainrule_unary_us(op),
                    torch ? bench::torch_unary_us(op) : 0, 0});

  bench::make_parent(csv);
  std::ofstream out(csv);
  out << "case,unit,chainrule,libtorch,raw_sgemm,libtorch_over_chainrule,sgemm_over_chainrule,cpu\n";
  const std::string cpu = bench::cpu_name();
  std::printf("%-48s %6s %11s %11s %11s %9s %9s\n", "case", "unit", "chainrule", "libtorch", "raw sgemm", "torch/cr",
              "sgemm/cr");
  for (const auto& r : rows) {
    const double tr = r.torch ? r.torch / r.chainrule : 0, fr = r.floor ? r.floor / r.chainrule : 0;
    std::printf("%-48s %6s %11.1f %11.1f %11.1f %9.2f %9.2f\n", r.name.c_str(), r.unit.c_str(), r.chainrule, r.torch,
                r.floor, tr, fr);
    out << '"' << r.name << "\"," << r.unit << ',' << r.chainrule << ',' << r.torch << ',' << r.floor << ',' << tr
        << ',' << fr << ",\"" << cpu << "\"\n";
  }
  std::printf("(0 = not measured; torch/cr > 1 means chainrule is faster; sgemm/cr near 1 means no overhead)\n");
}
