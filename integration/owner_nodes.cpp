#include "owner_nodes.hpp"

#include <boost/asio/use_future.hpp>

#include "key_codec.hpp"
#include "test_support.hpp"
#include "work_keys.hpp"

namespace nominee::testing {

namespace {

// The names under path, or none when it is gone.
std::vector<std::string> children_or_none(session& s, const std::string& path) {
  try {
    auto listed = s.async_get_children(path, boost::asio::use_future);
    return get_within(listed).names;
  } catch (const error& e) {
    if (e.code() == errc::no_node) return {};
    throw;
  }
}

}  // namespace

std::map<std::string, std::string> read_owner_nodes(session& s, const std::string& root, const std::string& prefix) {
  auto base = detail::work_base(root, prefix) + "/owners";
  std::map<std::string, std::string> out;
  for (auto& shard : children_or_none(s, base)) {
    for (auto& name : children_or_none(s, base + "/" + shard)) {
      try {
        auto got = s.async_get(base + "/" + shard + "/" + name, boost::asio::use_future);
        out[detail::decode_key(name).value_or("?" + name)] = get_within(got).data;
      } catch (const error& e) {
        if (e.code() != errc::no_node) throw;  // it moved on while we listed
      }
    }
  }
  return out;
}

}  // namespace nominee::testing
