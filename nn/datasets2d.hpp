#pragma once
// Toy 2-D classification datasets, as on playground.tensorflow.org (which the course uses) and in scikit-learn
// (make_moons, make_circles, make_blobs): x [n, 2], y [n] holding class indices 0, 1, ... as floats, rows
// shuffled. `noise` is the standard deviation of Gaussian noise added to each coordinate.
//
// Each generator is a function of its arguments only: std::mt19937_64(seed) with the uniform and normal draws
// written out (Box–Muller), so the same seed gives the same points with every standard library, whatever
// manual_seed says.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data.hpp"

namespace chainrule::nn {

/// Two interleaving half circles (scikit-learn's make_moons): ⌊n/2⌋ points (cos t, sin t) of class 0 and the rest
/// (1 − cos t, 0.5 − sin t) of class 1, t evenly spaced over [0, π].
Dataset make_moons(std::size_t n = 100, double noise = 0, std::uint64_t seed = 0, Dtype dtype = kFloat32);

/// Two concentric circles (scikit-learn's make_circles): ⌊n/2⌋ points on the unit circle of class 0 and the rest on
/// the circle of radius `factor` (0 < factor < 1) of class 1, angles evenly spaced.
Dataset make_circles(std::size_t n = 100, double noise = 0, double factor = 0.8, std::uint64_t seed = 0,
                     Dtype dtype = kFloat32);

/// Gaussian blobs (scikit-learn's make_blobs): n points split evenly over the centers (the first n mod k get one
/// more), point = center + N(0, cluster_std²) per coordinate, class = index of its center. The default is the
/// playground's "Gaussian" dataset: two blobs at (2, 2) and (−2, −2).
Dataset make_blobs(std::size_t n = 100, const std::vector<std::array<double, 2>>& centers = {{2, 2}, {-2, -2}},
                   double cluster_std = 1, std::uint64_t seed = 0, Dtype dtype = kFloat32);

/// The playground's XOR: points uniform in the four quadrants of [−5, 5]², at least 0.3 away from both axes;
/// class 1 where the signs of x1 and x2 differ (x1·x2 < 0 before noise). ⌊n/2⌋ points of class 0, the rest class 1.
Dataset make_xor(std::size_t n = 200, double noise = 0, std::uint64_t seed = 0, Dtype dtype = kFloat32);

/// The playground's two spirals: for i = 0 … m−1 (m points per class), r = 5·i/m, θ = 3.5π·i/m + class·π,
/// point = (r·sin θ, r·cos θ). ⌊n/2⌋ points of class 0, the rest class 1.
Dataset make_spiral(std::size_t n = 200, double noise = 0, std::uint64_t seed = 0, Dtype dtype = kFloat32);

/// The playground's datasets by name: "xor", "circles" (factor 0.5), "moons", "spiral", "gaussian" (= "blobs": the
/// two default blobs with cluster_std 1 + noise); throws std::invalid_argument listing the names.
Dataset make_dataset2d(const std::string& name, std::size_t n, double noise = 0, std::uint64_t seed = 0,
                       Dtype dtype = kFloat32);

}  // namespace chainrule::nn
