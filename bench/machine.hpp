#pragma once
// The CPU a benchmark ran on, for its header and CSV: figures move with the CPU (SIMD width, BLAS kernels,
// subnormal penalties), so every table names it; and how far apart its first two CPUs are, which 2-thread figures
// move with on a virtual machine.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace bench {

/// "AMD EPYC (family 26 model 2)" from /proc/cpuinfo's first processor; "unknown CPU" where it cannot be read.
inline std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name, family, model;
  auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(in, line) && !line.empty()) {
    if (line.rfind("model name", 0) == 0) name = value();
    else if (line.rfind("cpu family", 0) == 0) family = value();
    else if (line.rfind("model\t", 0) == 0) model = value();
  }
  if (name.empty()) return "unknown CPU";
  return family.empty() ? name : name + " (family " + family + " model " + model + ")";
}

/// The median round trip, in ns, between two threads pinned to the first two CPUs this process may run on, through
/// one atomic (20,000 round trips, ~10 ms; at most 0.5 s): what each hand-off between the intra-op pool's threads
/// pays. On the 2-vCPU virtual machine of bench/README.md ("Session 13") it was 150–180 ns while the host ran the
/// vCPUs close together and 300–460 ns while it did not, and the 2-thread figures moved with it (a Fashion-MNIST
/// epoch 0.147 s against 0.196 s, seconds apart). -1 with fewer than two CPUs.
inline double round_trip_ns() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.size() < 2) return -1;
  const auto pin = [](int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  };
  constexpr long kTrips = 20000, kStop = -1;
  std::atomic<long> flag{0};
  std::vector<double> ns;
  ns.reserve(kTrips);
  std::thread echo([&] {  // answers each odd value with the next even one, until told to stop
    pin(cpus[1]);
    for (long i = 0;; ++i) {
      long v;
      while ((v = flag.load(std::memory_order_acquire)) != 2 * i + 1 && v != kStop) {}
      if (v == kStop) return;
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  cpu_set_t before;  // this thread's affinity, given back afterwards
  pthread_getaffinity_np(pthread_self(), sizeof before, &before);
  pin(cpus[0]);
  // At most 0.5 s: if both threads ended up on one CPU (pinning refused), each round trip waits for a time slice.
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  for (long i = 0; i < kTrips && std::chrono::steady_clock::now() < end; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    flag.store(2 * i + 1, std::memory_order_release);
    while (flag.load(std::memory_order_acquire) != 2 * i + 2) {}
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  flag.store(kStop, std::memory_order_release);
  echo.join();
  pthread_setaffinity_np(pthread_self(), sizeof before, &before);
  if (ns.empty()) return -1;
  std::nth_element(ns.begin(), ns.begin() + static_cast<long>(ns.size() / 2), ns.end());
  return ns[ns.size() / 2];
}

}  // namespace bench
