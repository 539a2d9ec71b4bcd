// Work key encoding (recipes/key_codec.cpp, include/nominee/key_names.hpp).
// The input is used twice: as a work key, and as a node name read back from
// ZooKeeper (anyone may have created it).
//
// As a key: a valid key encodes to a valid znode name that decodes to the
// key again, and its shard is a stable "00".."FF". As a name: decoding never
// crashes, and a name that decodes is the one encoding of its key (so two
// names never stand for one key).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nominee/error.hpp>
#include <nominee/key_names.hpp>

#include "fuzz_check.hpp"
#include "key_codec.hpp"
#include "validate.hpp"

namespace {

using namespace nominee;
using namespace nominee::detail;

// An encoded key is at most 3 bytes per key byte (%XX); no znode name limit
// of 255 applies to it (see the report in fuzz/README.md).
constexpr std::size_t max_encoded_bytes = 3 * max_key_bytes;

bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

void check_as_key(std::string_view key) {
  const bool valid = !check_key(key);
  NOMINEE_FUZZ_CHECK(valid == (!key.empty() && key.size() <= max_key_bytes));

  // The public wrapper agrees with check_key: it throws nominee::error for
  // an invalid key, and only then.
  bool threw = false;
  std::string public_name;
  try {
    public_name = key_node_name(key);
  } catch (const error& e) {
    threw = true;
    NOMINEE_FUZZ_CHECK(e.code() == errc::invalid_name);
  }
  NOMINEE_FUZZ_CHECK(threw == !valid);
  if (!valid) return;

  const std::string name = encode_key(key);
  NOMINEE_FUZZ_CHECK(name == public_name);
  NOMINEE_FUZZ_CHECK(name.size() >= key.size() && name.size() <= 3 * key.size());
  NOMINEE_FUZZ_CHECK(!check_name(name, max_encoded_bytes));
  // Used as a path segment: "/w/<name>" must be a valid path, one segment.
  NOMINEE_FUZZ_CHECK(!check_path("/w/" + name));
  NOMINEE_FUZZ_CHECK(name.find('/') == std::string::npos);
  // The divider's exclusion nodes are "<encoded key>!<member>": '!' must
  // never appear in an encoded key.
  NOMINEE_FUZZ_CHECK(name.find('!') == std::string::npos);

  const auto back = decode_key(name);
  NOMINEE_FUZZ_CHECK(back.has_value());
  NOMINEE_FUZZ_CHECK(*back == key);
  const auto public_back = key_from_node_name(name);
  NOMINEE_FUZZ_CHECK(public_back.has_value() && *public_back == key);

  const std::string shard = shard_of(key);
  NOMINEE_FUZZ_CHECK(shard.size() == 2 && is_upper_hex(shard[0]) && is_upper_hex(shard[1]));
  NOMINEE_FUZZ_CHECK(shard_of(std::string(key)) == shard);  // the bytes decide, not the buffer
  NOMINEE_FUZZ_CHECK(shard_of(*back) == shard);
}

void check_as_name(std::string_view name) {
  const auto key = decode_key(name);
  NOMINEE_FUZZ_CHECK(key_from_node_name(name) == key);
  if (!key) return;
  // Canonical: re-encoding gives this very name back.
  NOMINEE_FUZZ_CHECK(encode_key(*key) == name);
  // Only valid keys decode, so what a listing returns can be passed back
  // (it once returned "" and keys over max_key_bytes: fuzz/README.md).
  NOMINEE_FUZZ_CHECK(!check_key(*key));
  NOMINEE_FUZZ_CHECK(!check_name(name, std::numeric_limits<std::size_t>::max()));
  NOMINEE_FUZZ_CHECK(key->size() <= name.size());
  NOMINEE_FUZZ_CHECK(name.size() <= max_encoded_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_as_key(input);
  check_as_name(input);
  return 0;
}
