#include "work_layout.hpp"

#include "key_codec.hpp"

namespace nominee::detail {

std::string keys_directory(const std::string& base, const std::string& shard) { return base + "/keys/" + shard; }

std::string owners_directory(const std::string& base, const std::string& shard) { return base + "/owners/" + shard; }

std::string owner_path(const std::string& base, const std::string& key) {
  return owners_directory(base, shard_of(key)) + "/" + encode_key(key);
}

std::string exclusions_directory(const std::string& base) { return base + "/exclusions"; }

std::string exclusion_path(const std::string& base, const std::string& key, const std::string& member) {
  return exclusions_directory(base) + "/" + encode_key(key) + exclusion_separator + member;
}

std::optional<std::pair<std::string, std::string>> parse_exclusion(const std::string& name) {
  auto cut = name.find(exclusion_separator);
  if (cut == std::string::npos) return std::nullopt;
  auto key = decode_key(name.substr(0, cut));
  if (!key) return std::nullopt;
  return std::make_pair(*key, name.substr(cut + 1));
}

}  // namespace nominee::detail
