#include "key_codec.hpp"

#include <nominee/error.hpp>

#include "assignment.hpp"

namespace nominee::detail {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool kept(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~' || c == ':' || c == '@' || c == '+' || c == '=' || c == ',';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is never produced, so never accepted: one name per key
}

void append_escaped(std::string& out, unsigned char c) {
  out += '%';
  out += hex_digits[c >> 4];
  out += hex_digits[c & 15];
}

}  // namespace

std::string encode_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  bool dots_only = key == "." || key == "..";  // not allowed as znode names
  for (unsigned char c : key) {
    if (kept(c) && !(dots_only && c == '.'))
      out += static_cast<char>(c);
    else
      append_escaped(out, c);
  }
  return out;
}

std::optional<std::string> decode_key(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c != '%') {
      if (!kept(c)) return std::nullopt;
      out += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= name.size()) return std::nullopt;  // a cut-off escape
    int hi = hex_value(name[i + 1]), lo = hex_value(name[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    auto byte = static_cast<unsigned char>(hi * 16 + lo);
    out += static_cast<char>(byte);
    i += 2;
  }
  // Only the canonical form of a valid key decodes: re-encoding must give
  // the name back, and the key must be one encode accepts (not empty, not
  // over max_key_bytes), so what a listing returns can be passed back.
  if (check_key(out) || encode_key(out) != name) return std::nullopt;
  return out;
}

std::error_code check_key(std::string_view key) {
  if (key.empty() || key.size() > max_key_bytes) return errc::invalid_name;
  return {};
}

std::string shard_of(std::string_view key) { return shard_name(static_cast<unsigned>(stable_hash(key, 7) % key_shards)); }

std::string shard_name(unsigned shard) { return {hex_digits[(shard >> 4) & 15], hex_digits[shard & 15]}; }

}  // namespace nominee::detail
