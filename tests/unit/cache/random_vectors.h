// Random unit vectors for the cache's index and memory tests.
#pragma once

#include <cmath>
#include <random>

#include "cache/cache.h"

namespace arbitra::cache::test {

inline Vector randomUnit(std::mt19937& rng, size_t dims) {
  std::normal_distribution<float> n;
  Vector v(dims);
  float sum = 0;
  for (auto& x : v) {
    x = n(rng);
    sum += x * x;
  }
  for (auto& x : v) x /= std::sqrt(sum);
  return v;
}

}  // namespace arbitra::cache::test
