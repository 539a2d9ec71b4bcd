#pragma once
// The proof-of-work itself, apart from the fleet: the hash of a nonce under
// a challenge, and the text the fleet passes around (challenge, solution).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nominee::pow {

// SHA-256 (OpenSSL) of "<challenge>:<nonce>", in lowercase hex. A nonce is
// valid when this starts with the difficulty prefix ("000": three zeros).
std::string hash_of(std::string_view challenge, std::int64_t nonce);

// "<block> <tag>": the block number, and a random tag that makes each
// challenge (and its nonce space) new.
struct challenge {
  std::int64_t block = 0;
  std::string tag;
  std::string text() const { return std::to_string(block) + " " + tag; }
  friend bool operator==(const challenge&, const challenge&) = default;
};
std::optional<challenge> parse_challenge(std::string_view text);

// "<block> <tag> <nonce> <member> <hash>": the first valid nonce found.
struct solution {
  challenge of;
  std::int64_t nonce = 0;
  std::string member;
  std::string hash;
  std::string text() const;
};
std::optional<solution> parse_solution(std::string_view text);

// A random tag of 8 hex digits.
std::string random_tag();

}  // namespace nominee::pow
