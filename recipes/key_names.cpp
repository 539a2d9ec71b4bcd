#include <nominee/key_names.hpp>

#include <nominee/error.hpp>

#include "key_codec.hpp"
#include "validate.hpp"

namespace nominee {

std::string key_node_name(std::string_view key) {
  if (auto ec = detail::check_key(key)) throw error(ec, detail::describe("work key", std::string(key)));
  return detail::encode_key(key);
}

std::optional<std::string> key_from_node_name(std::string_view name) { return detail::decode_key(name); }

}  // namespace nominee
