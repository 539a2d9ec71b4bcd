#pragma once
// A latency histogram with fixed bucket bounds (milliseconds), the shape
// Prometheus histograms take: what the session reports for its ZooKeeper
// operations and the divider for its stop confirms. A plain value; whoever
// records into it guards it.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace nominee {

struct latency_histogram {
  static constexpr std::array<double, 15> bounds_ms{0.25, 0.5, 1,   2,    5,    10,   25,  50,
                                                    100,  250, 500, 1000, 2500, 5000, 10000};
  // buckets[i] counts samples <= bounds_ms[i] (and above the bound before);
  // the last one counts those above every bound. Not cumulative.
  std::array<std::uint64_t, bounds_ms.size() + 1> buckets{};
  std::uint64_t count = 0;
  double sum_ms = 0;

  void record(std::chrono::nanoseconds elapsed) {
    double ms = std::chrono::duration<double, std::milli>(elapsed).count();
    auto at = std::lower_bound(bounds_ms.begin(), bounds_ms.end(), ms) - bounds_ms.begin();
    ++buckets[static_cast<std::size_t>(at)];
    ++count;
    sum_ms += ms;
  }

  // The upper bound of the bucket holding quantile q (0..1): a coarse but
  // never optimistic estimate. 0 when empty; above every bound, the last.
  double quantile_upper_ms(double q) const {
    if (count == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bounds_ms.size(); ++i) {
      seen += buckets[i];
      if (seen >= rank) return bounds_ms[i];
    }
    return bounds_ms.back();
  }
};

}  // namespace nominee
