#include "datasets2d.hpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace chainrule::nn {

namespace {
constexpr double kPi = 3.14159265358979323846;

// Uniform [0, 1) and normal draws from mt19937_64, written out so every standard library gives the same numbers.
class Draws {
 public:
  explicit Draws(std::uint64_t seed) : gen_(seed) {}
  double uniform() { return double(gen_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {  // Box–Muller; 1 − u lies in (0, 1], so the log is finite
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2 * std::log(1 - u1)) * std::cos(2 * kPi * u2);
  }
  std::uint64_t next() { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

// v as printf's %g prints it, for error messages.
std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void check(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(fn) + ": " + what);
}
void check_common(const char* fn, std::size_t n, double noise) {
  check(n >= 2, fn, "n must be >= 2 (one point per class at least), got " + std::to_string(n));
  check(noise >= 0 && std::isfinite(noise), fn, "noise must be >= 0 and finite, got " + fmt_g(noise));
}

// Adds N(0, noise²) to every coordinate, shuffles the rows, and packs them into a Dataset.
Dataset finish(std::vector<double> xy, std::vector<double> label, double noise, Draws& draws, Dtype dtype) {
  if (noise > 0)
    for (double& v : xy) v += noise * draws.normal();
  const std::size_t n = label.size();
  const auto order = permutation(n, draws.next());
  std::vector<double> x(2 * n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[2 * i] = xy[2 * order[i]], x[2 * i + 1] = xy[2 * order[i] + 1];
    y[i] = label[order[i]];
  }
  return Dataset(from_vector(x, {n, 2}, dtype), from_vector(y, {n}, dtype));
}
}  // namespace

Dataset make_moons(std::size_t n, double noise, std::uint64_t seed, Dtype dtype) {
  check_common("make_moons", n, noise);
  Draws draws(seed);
  const std::size_t n_out = n / 2, n_in = n - n_out;
  std::vector<double> xy, label;
  for (std::size_t i = 0; i < n_out; ++i) {  // t = linspace(0, π, n_out), as numpy (endpoints included)
    const double t = n_out > 1 ? kPi * double(i) / double(n_out - 1) : 0;
    xy.insert(xy.end(), {std::cos(t), std::sin(t)}), label.push_back(0);
  }
  for (std::size_t i = 0; i < n_in; ++i) {
    const double t = n_in > 1 ? kPi * double(i) / double(n_in - 1) : 0;
    xy.insert(xy.end(), {1 - std::cos(t), 0.5 - std::sin(t)}), label.push_back(1);
  }
  return finish(std::move(xy), std::move(label), noise, draws, dtype);
}

Dataset make_circles(std::size_t n, double noise, double factor, std::uint64_t seed, Dtype dtype) {
  check_common("make_circles", n, noise);
  check(factor > 0 && factor < 1, "make_circles", "factor must be in (0, 1), got " + fmt_g(factor));
  Draws draws(seed);
  const std::size_t n_out = n / 2, n_in = n - n_out;
  std::vector<double> xy, label;
  for (std::size_t i = 0; i < n_out; ++i) {  // angles linspace(0, 2π, n_out, endpoint=False)
    const double t = 2 * kPi * double(i) / double(n_out);
    xy.insert(xy.end(), {std::cos(t), std::sin(t)}), label.push_back(0);
  }
  for (std::size_t i = 0; i < n_in; ++i) {
    const double t = 2 * kPi * double(i) / double(n_in);
    xy.insert(xy.end(), {factor * std::cos(t), factor * std::sin(t)}), label.push_back(1);
  }
  return finish(std::move(xy), std::move(label), noise, draws, dtype);
}

Dataset make_blobs(std::size_t n, const std::vector<std::array<double, 2>>& centers, double cluster_std,
                   std::uint64_t seed, Dtype dtype) {
  check(!centers.empty(), "make_blobs", "centers must not be empty");
  check(n >= centers.size(), "make_blobs",
        "n must be >= the number of centers (" + std::to_string(centers.size()) + "), got " + std::to_string(n));
  check(cluster_std >= 0 && std::isfinite(cluster_std), "make_blobs",
        "cluster_std must be >= 0 and finite, got " + fmt_g(cluster_std));
  Draws draws(seed);
  const std::size_t k = centers.size();
  std::vector<double> xy, label;
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t i = 0; i < n / k + (c < n % k); ++i)
      xy.insert(xy.end(), {centers[c][0], centers[c][1]}), label.push_back(double(c));
  return finish(std::move(xy), std::move(label), cluster_std, draws, dtype);
}

Dataset make_xor(std::size_t n, double noise, std::uint64_t seed, Dtype dtype) {
  check_common("make_xor", n, noise);
  Draws draws(seed);
  const double pad = 0.3;
  std::vector<double> xy, label;
  for (std::size_t i = 0; i < n; ++i) {
    const double c = i < n / 2 ? 0 : 1;
    // |x1|, |x2| in [0.3, 5]; class 0 in quadrants I and III (same signs), class 1 in II and IV.
    const double s1 = draws.uniform() < 0.5 ? -1 : 1, s2 = c == 0 ? s1 : -s1;
    xy.insert(xy.end(), {s1 * draws.uniform(pad, 5), s2 * draws.uniform(pad, 5)}), label.push_back(c);
  }
  return finish(std::move(xy), std::move(label), noise, draws, dtype);
}

Dataset make_spiral(std::size_t n, double noise, std::uint64_t seed, Dtype dtype) {
  check_common("make_spiral", n, noise);
  Draws draws(seed);
  std::vector<double> xy, label;
  for (std::size_t c = 0; c < 2; ++c) {
    const std::size_t m = c == 0 ? n / 2 : n - n / 2;
    for (std::size_t i = 0; i < m; ++i) {
      const double r = 5.0 * double(i) / double(m), t = 1.75 * 2 * kPi * double(i) / double(m) + double(c) * kPi;
      xy.insert(xy.end(), {r * std::sin(t), r * std::cos(t)}), label.push_back(double(c));
    }
  }
  return finish(std::move(xy), std::move(label), noise, draws, dtype);
}

Dataset make_dataset2d(const std::string& name, std::size_t n, double noise, std::uint64_t seed, Dtype dtype) {
  if (name == "xor") return make_xor(n, noise, seed, dtype);
  if (name == "circles") return make_circles(n, noise, 0.5, seed, dtype);
  if (name == "moons") return make_moons(n, noise, seed, dtype);
  if (name == "spiral") return make_spiral(n, noise, seed, dtype);
  if (name == "gaussian" || name == "blobs") return make_blobs(n, {{2, 2}, {-2, -2}}, 1 + noise, seed, dtype);
  throw std::invalid_argument("make_dataset2d: unknown dataset '" + name +
                              "' (expected xor, circles, moons, spiral or gaussian)");
}

}  // namespace chainrule::nn
