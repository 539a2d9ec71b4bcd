#pragma once
// The metadata ZooKeeper keeps for every znode (the C client's struct Stat).

#include <cstdint>

namespace nominee {

struct stat {
  std::int64_t czxid = 0;           // zxid of the create: a fencing token that only grows
  std::int64_t mzxid = 0;           // zxid of the last data change
  std::int64_t pzxid = 0;           // zxid of the last child change
  std::int64_t ctime_ms = 0;        // epoch milliseconds of the create
  std::int64_t mtime_ms = 0;        // epoch milliseconds of the last data change
  std::int32_t version = 0;         // data version: what set/remove compare against
  std::int32_t cversion = 0;        // children version
  std::int32_t aversion = 0;        // ACL version
  std::int64_t ephemeral_owner = 0; // owning session id, 0 for persistent nodes
  std::int32_t data_length = 0;
  std::int32_t num_children = 0;

  friend bool operator==(const stat&, const stat&) = default;
};

// Pass as a version to set/remove to skip the version check.
inline constexpr std::int32_t any_version = -1;

}  // namespace nominee
