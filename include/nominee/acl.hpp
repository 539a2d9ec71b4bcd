#pragma once
// Access control lists for the nodes nominee creates.

#include <cstdint>
#include <string>
#include <vector>

namespace nominee {

namespace perm {
inline constexpr std::int32_t read = 1;
inline constexpr std::int32_t write = 2;
inline constexpr std::int32_t create = 4;
inline constexpr std::int32_t remove = 8;  // ZooKeeper's DELETE
inline constexpr std::int32_t admin = 16;
inline constexpr std::int32_t all = read | write | create | remove | admin;
}  // namespace perm

struct acl_entry {
  std::int32_t perms = perm::all;
  std::string scheme;  // "world", "auth", "digest", "ip"
  std::string id;      // "anyone", "" (auth: the creator's ids), "user:base64(sha1)"

  friend bool operator==(const acl_entry&, const acl_entry&) = default;
};
using acl = std::vector<acl_entry>;

// Anyone may do anything (ZooKeeper's OPEN_ACL_UNSAFE).
acl open_acl();
// The authenticated creator may do anything, everyone else may read.
// Needs digest credentials on the session, or the server refuses the create.
acl creator_all_world_read_acl();

}  // namespace nominee
