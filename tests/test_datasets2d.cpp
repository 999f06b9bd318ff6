// The playground's 2-D datasets (nn/datasets2d.hpp): shapes, class balance, determinism by seed, and geometry.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "helpers.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;

namespace {
struct Points {
  std::vector<double> x1, x2, y;
};
Points points(const nn::Dataset& d) {
  const Tensor x = d.x().to(kFloat64), y = d.y().to(kFloat64);
  Points p;
  for (std::size_t i = 0; i < d.size(); ++i)
    p.x1.push_back(x.data<double>()(i, 0)), p.x2.push_back(x.data<double>()(i, 1)), p.y.push_back(y.data<double>()(i));
  return p;
}
std::map<double, std::size_t> class_counts(const nn::Dataset& d) {
  std::map<double, std::size_t> c;
  for (double v : points(d).y) ++c[v];
  return c;
}
bool same(const nn::Dataset& a, const nn::Dataset& b) {
  return a.x().data<float>() == b.x().data<float>() && a.y().data<float>() == b.y().data<float>();
}
}  // namespace

TEST_CASE("datasets2d: shapes, dtype and balanced classes for every playground dataset") {
  for (const char* name : {"xor", "circles", "moons", "spiral", "gaussian"}) {
    SUBCASE(name) {
      const nn::Dataset d = nn::make_dataset2d(name, 101, 0.1, 3);
      CHECK(d.size() == 101);
      CHECK(d.x().shape() == Shape{101, 2});
      CHECK(d.y().shape() == Shape{101});
      CHECK(d.x().dtype() == kFloat32);
      const auto c = class_counts(d);
      REQUIRE(c.size() == 2);
      // ⌊n/2⌋ of class 0 and the rest class 1, as scikit-learn's make_moons; make_blobs gives the extra point to
      // the first center, as scikit-learn's make_blobs.
      const bool blobs = std::string(name) == "gaussian";
      CHECK(c.at(0) == (blobs ? 51 : 50));
      CHECK(c.at(1) == (blobs ? 50 : 51));
      CHECK(nn::make_dataset2d(name, 10, 0, 0, kFloat64).x().dtype() == kFloat64);
    }
  }
}

TEST_CASE("datasets2d: the same seed gives the same points, another seed others, manual_seed changes nothing") {
  for (const char* name : {"xor", "circles", "moons", "spiral", "gaussian"}) {
    SUBCASE(name) {
      manual_seed(1);
      const nn::Dataset a = nn::make_dataset2d(name, 60, 0.2, 5);
      manual_seed(2);
      const nn::Dataset b = nn::make_dataset2d(name, 60, 0.2, 5);
      CHECK(same(a, b));
      CHECK_FALSE(same(a, nn::make_dataset2d(name, 60, 0.2, 6)));
    }
  }
}

TEST_CASE("datasets2d: rows are shuffled (not all of class 0 first)") {
  const auto y = points(nn::make_moons(100, 0, 1)).y;
  int changes = 0;
  for (std::size_t i = 1; i < y.size(); ++i) changes += y[i] != y[i - 1];
  CHECK(changes > 10);
}

TEST_CASE("make_circles: without noise, class 0 on the unit circle and class 1 on the circle of radius factor") {
  const Points p = points(nn::make_circles(200, 0, 0.3, 4, kFloat64));
  for (std::size_t i = 0; i < p.y.size(); ++i)
    CHECK(std::hypot(p.x1[i], p.x2[i]) == doctest::Approx(p.y[i] == 0 ? 1.0 : 0.3).epsilon(1e-12));
  CHECK(test::message([] { nn::make_circles(10, 0, 1.0); }) == "make_circles: factor must be in (0, 1), got 1");
}

TEST_CASE("make_moons: without noise, the upper half of the unit circle and the lower one centred at (1, 0.5)") {
  const Points p = points(nn::make_moons(100, 0, 2, kFloat64));
  for (std::size_t i = 0; i < p.y.size(); ++i) {
    if (p.y[i] == 0) {
      CHECK(std::hypot(p.x1[i], p.x2[i]) == doctest::Approx(1).epsilon(1e-12));
      CHECK(p.x2[i] >= -1e-12);
    } else {
      CHECK(std::hypot(p.x1[i] - 1, p.x2[i] - 0.5) == doctest::Approx(1).epsilon(1e-12));
      CHECK(p.x2[i] <= 0.5 + 1e-12);
    }
  }
}

TEST_CASE("make_moons: noise is Gaussian with the given standard deviation") {
  // Distance to the noiseless curve is hard to get; the spread of a blob is not: make_blobs shares the noise code.
  const Points p = points(nn::make_blobs(20000, {{0, 0}}, 0.5, 9, kFloat64));
  double sum = 0, sq = 0;
  for (double v : p.x1) sum += v, sq += v * v;
  const double mean = sum / 20000, var = sq / 20000 - mean * mean;
  CHECK(std::abs(mean) < 0.02);                 // 4 standard errors (0.5/√20000 = 0.0035) and more
  CHECK(std::sqrt(var) == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("make_blobs: points split evenly over the centers, each class around its center") {
  const nn::Dataset d = nn::make_blobs(301, {{5, 0}, {-5, 0}, {0, 8}}, 0.5, 1, kFloat64);
  const auto c = class_counts(d);
  CHECK(c.at(0) == 101);
  CHECK(c.at(1) == 100);
  CHECK(c.at(2) == 100);
  const Points p = points(d);
  const double cx[] = {5, -5, 0}, cy[] = {0, 0, 8};
  double mx[3] = {}, my[3] = {};
  for (std::size_t i = 0; i < p.y.size(); ++i) {
    const auto k = std::size_t(p.y[i]);
    mx[k] += p.x1[i] / double(c.at(p.y[i])), my[k] += p.x2[i] / double(c.at(p.y[i]));
  }
  for (int k = 0; k < 3; ++k) {
    CHECK(std::abs(mx[k] - cx[k]) < 0.2);  // 4 standard errors: 0.5/√100 = 0.05
    CHECK(std::abs(my[k] - cy[k]) < 0.2);
  }
  CHECK(test::message([] { nn::make_blobs(10, {}); }) == "make_blobs: centers must not be empty");
}

TEST_CASE("make_xor: without noise, class 1 exactly where the signs differ, 0.3 to 5 away from the axes") {
  const Points p = points(nn::make_xor(400, 0, 3, kFloat64));
  std::map<int, int> quadrants;
  for (std::size_t i = 0; i < p.y.size(); ++i) {
    CHECK(p.y[i] == (p.x1[i] * p.x2[i] < 0 ? 1 : 0));
    CHECK(std::abs(p.x1[i]) >= 0.3);
    CHECK(std::abs(p.x1[i]) <= 5);
    CHECK(std::abs(p.x2[i]) >= 0.3);
    CHECK(std::abs(p.x2[i]) <= 5);
    ++quadrants[(p.x1[i] > 0) * 2 + (p.x2[i] > 0)];
  }
  CHECK(quadrants.size() == 4);
  for (const auto& [q, count] : quadrants) CHECK(count > 60);  // about 100 each
}

TEST_CASE("make_spiral: without noise, radius grows with the angle and the two arms are opposite") {
  const Points p = points(nn::make_spiral(200, 0, 0, kFloat64));
  // Each point is r·(sin θ, cos θ) with θ = 3.5π·r/5 + class·π: check that relation for every point.
  const double pi = 3.14159265358979323846;
  for (std::size_t i = 0; i < p.y.size(); ++i) {
    const double r = std::hypot(p.x1[i], p.x2[i]);
    CHECK(r < 5);
    if (r < 1e-9) continue;
    const double theta = 3.5 * pi * r / 5 + p.y[i] * pi;
    CHECK(p.x1[i] == doctest::Approx(r * std::sin(theta)).epsilon(1e-9).scale(1));
    CHECK(p.x2[i] == doctest::Approx(r * std::cos(theta)).epsilon(1e-9).scale(1));
  }
}

TEST_CASE("datasets2d: bad arguments name the function, the argument and the value") {
  CHECK(test::message([] { nn::make_moons(1); }) == "make_moons: n must be >= 2 (one point per class at least), got 1");
  CHECK(test::message([] { nn::make_xor(10, -0.5); }) == "make_xor: noise must be >= 0 and finite, got -0.5");
  CHECK(test::message([] { nn::make_dataset2d("swiss", 10); }) ==
        "make_dataset2d: unknown dataset 'swiss' (expected xor, circles, moons, spiral or gaussian)");
}
