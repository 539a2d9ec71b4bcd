#pragma once
// One divider prefix in ZooKeeper, under base = work_base(root, prefix):
//
//   <base>/keys/<shard>/<encoded key>           the work set (persistent)
//   <base>/owners/<shard>/<encoded key>         a key's owner node (ephemeral;
//                                               data: member id; czxid: the token)
//   <base>/exclusions/<encoded key>!<member>    a release: that member never owns
//                                               the key (ephemeral)
//   <base>/members/<member>                     the group (group.hpp)
//
// The divider, its admin and the tests that check it from outside all
// spell the paths here.

#include <optional>
#include <string>
#include <utility>

namespace nominee::detail {

// encode_key always escapes '!', so the first '!' of an exclusion's name
// ends the key.
inline constexpr char exclusion_separator = '!';

std::string keys_directory(const std::string& base, const std::string& shard);
std::string owners_directory(const std::string& base, const std::string& shard);
std::string owner_path(const std::string& base, const std::string& key);
std::string exclusions_directory(const std::string& base);
std::string exclusion_path(const std::string& base, const std::string& key, const std::string& member);
// An exclusion node's name -> (key, member); nullopt if it is not one.
std::optional<std::pair<std::string, std::string>> parse_exclusion(const std::string& name);

}  // namespace nominee::detail
