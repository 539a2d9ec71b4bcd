#pragma once
// What every benchmark reports with: milliseconds between two instants,
// numbers printed for JSON, and p50/p90/p99/max/min of a sample.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace nominee::bench {

using clock_type = std::chrono::steady_clock;

inline double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline std::string fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct summary {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, min = 0;
  std::size_t count = 0;
};

inline summary summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]; };
  return {at(0.50), at(0.90), at(0.99), v.back(), v.front(), v.size()};
}

}  // namespace nominee::bench
