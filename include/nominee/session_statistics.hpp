#pragma once
// What a session has measured of its ZooKeeper operations since it was made.

#include <cstdint>

#include <nominee/latency_histogram.hpp>

namespace nominee {

struct session_statistics {
  // Every operation from its call to its completion, retries included.
  latency_histogram operations;
  std::uint64_t failed = 0;  // operations that completed with an error
};

}  // namespace nominee
