#pragma once
// What a session has measured of its ZooKeeper operations since it was made.

#include <cstdint>

#include <nominee/latency_histogram.hpp>

namespace nominee {

struct session_statistics {
  // Every operation from its call to its completion, retries included.
  latency_histogram operations;
  // Operations that got no answer: connection loss, timeouts, the session
  // ending, auth. Expected answers such as no_node or bad_version (an
  // exists() on a free key, a compare-and-set that lost a race) are not
  // failures.
  std::uint64_t failed = 0;
  // Ephemeral nodes of this session that no recipe held any more (their
  // recipe was gone when the create was answered, or closed before it
  // took them), found and deleted by the session's orphan audit.
  std::uint64_t orphans_removed = 0;
};

}  // namespace nominee
