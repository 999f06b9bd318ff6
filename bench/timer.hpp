#pragma once
// Timing for benchmarks on a noisy shared machine: warm up, calibrate the repetition count to ~20 ms per
// sample, take several samples, report the median.
#include <algorithm>
#include <chrono>
#include <vector>

namespace bench {

/// Median wall time of one call of f, in nanoseconds.
template <class F> double median_ns(F&& f, int samples = 7, double sample_ms = 20) {
  using clock = std::chrono::steady_clock;
  auto time = [&](long reps) {
    auto t0 = clock::now();
    for (long i = 0; i < reps; ++i) f();
    return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
  };
  f();  // warm-up: caches, allocator pools, lazy initialisation
  long reps = 1;
  while (true) {
    double t = time(reps);
    if (t > sample_ms * 1e6 / 4 || reps > (1L << 30)) {
      reps = std::max(1L, static_cast<long>(reps * sample_ms * 1e6 / t));
      break;
    }
    reps *= 4;
  }
  std::vector<double> s;
  for (int i = 0; i < samples; ++i) s.push_back(time(reps) / static_cast<double>(reps));
  std::nth_element(s.begin(), s.begin() + samples / 2, s.end());
  return s[static_cast<std::size_t>(samples / 2)];
}

}  // namespace bench
