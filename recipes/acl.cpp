#include <nominee/acl.hpp>

namespace nominee {

acl open_acl() { return {{perm::all, "world", "anyone"}}; }

acl creator_all_world_read_acl() {
  // "auth" with an empty id: the server substitutes the creator's
  // authenticated identities (ZOO_CREATOR_ALL_ACL).
  return {{perm::all, "auth", ""}, {perm::read, "world", "anyone"}};
}

}  // namespace nominee
