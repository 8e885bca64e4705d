// Quantiles of benchmark samples, shared by the bench programs. Two rank conventions are in
// use (each program keeps the one its published figures were measured with); both return 0
// for no samples.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace nave::bench {

// The sample at rank round(p * (n - 1)) of the sorted samples (p in [0, 1]).
inline double quantileNearest(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The sample at rank floor(p * n), the last one at most.
inline double quantileFloor(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace nave::bench
