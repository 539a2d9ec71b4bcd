#include "pow_search.hpp"

#include <openssl/evp.h>

#include <random>
#include <sstream>

namespace nominee::pow {

std::string hash_of(std::string_view challenge, std::int64_t nonce) {
  std::string input(challenge);
  input += ':';
  input += std::to_string(nonce);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::optional<challenge> parse_challenge(std::string_view text) {
  std::istringstream in{std::string(text)};
  challenge c;
  std::string rest;
  if (!(in >> c.block >> c.tag) || (in >> rest) || c.block <= 0) return std::nullopt;
  return c;
}

std::string solution::text() const {
  return of.text() + " " + std::to_string(nonce) + " " + member + " " + hash;
}

std::optional<solution> parse_solution(std::string_view text) {
  std::istringstream in{std::string(text)};
  solution s;
  std::string rest;
  if (!(in >> s.of.block >> s.of.tag >> s.nonce >> s.member >> s.hash) || (in >> rest)) return std::nullopt;
  return s;
}

std::string random_tag() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(engine() & 0xffffffffu));
  return buf;
}

}  // namespace nominee::pow
