#pragma once
// Work keys are arbitrary byte strings; znode names are not. The codec maps
// one to the other reversibly, and spreads keys over shard directories so
// that no child list nears jute.maxbuffer (100,000 keys -> ~400 per shard).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace nominee::detail {

// Longest key accepted, in bytes (its encoded name is at most 3x this).
inline constexpr std::size_t max_key_bytes = 512;
inline constexpr unsigned key_shards = 256;

// Bytes kept as they are: letters, digits and - _ . ~ : @ + = , (except a
// name of "." or ".."). Everything else, '%' and '/' included, becomes %XX.
std::string encode_key(std::string_view key);
// The inverse; nullopt for anything encode_key cannot have produced.
std::optional<std::string> decode_key(std::string_view name);

// Empty or over max_key_bytes: errc::invalid_name.
std::error_code check_key(std::string_view key);

// "00".."FF": the shard directory a key lives in.
std::string shard_of(std::string_view key);
// Shard number (0 .. key_shards - 1) -> its directory name.
std::string shard_name(unsigned shard);

}  // namespace nominee::detail
