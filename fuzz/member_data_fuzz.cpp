// The JSON in member and candidate nodes (recipes/node_data.cpp). Node data
// is read from ZooKeeper and anyone may have written it: decoding arbitrary
// bytes must never crash or throw, and what decodes must survive a round
// trip (encode, decode) unchanged, so a member that rewrites its own node
// (a new affinity) keeps its endpoint and meta exactly.
//
// The input is also used as the fields of a member written by this process
// (endpoint on the first line, meta after it), to check that encode()
// writes what decode() reads.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "node_data.hpp"
#include "validate.hpp"

namespace {

using namespace nominee::detail;

bool same(const member_data& a, const member_data& b) {
  return a.affinity == b.affinity && a.endpoint == b.endpoint && a.meta == b.meta;
}

bool same(const candidate_data& a, const candidate_data& b) {
  return a.member_id == b.member_id && a.endpoint == b.endpoint;
}

void check_member(std::string_view text) {
  const auto decoded = decode_member(text);
  if (!decoded) return;
  NOMINEE_FUZZ_CHECK(decoded->affinity >= 0);
  // meta is always a compact JSON object.
  NOMINEE_FUZZ_CHECK(normalize_json_object(decoded->meta) == decoded->meta);
  const std::string encoded = encode(*decoded);
  const auto again = decode_member(encoded);
  NOMINEE_FUZZ_CHECK(again.has_value());
  NOMINEE_FUZZ_CHECK(same(*again, *decoded));
  NOMINEE_FUZZ_CHECK(encode(*again) == encoded);  // a fixed point after one round
}

void check_candidate(std::string_view text) {
  const auto decoded = decode_candidate(text);
  if (!decoded) return;
  const std::string encoded = encode(*decoded);
  const auto again = decode_candidate(encoded);
  NOMINEE_FUZZ_CHECK(again.has_value());
  NOMINEE_FUZZ_CHECK(same(*again, *decoded));
  NOMINEE_FUZZ_CHECK(encode(*again) == encoded);
}

void check_normalize(std::string_view text) {
  const auto normalized = normalize_json_object(text);
  if (!normalized) return;
  NOMINEE_FUZZ_CHECK(normalize_json_object(*normalized) == normalized);
}

void check_written(std::string_view input) {
  const auto newline = input.find('\n');
  member_data written;
  written.endpoint = std::string(input.substr(0, newline));
  written.meta = newline == std::string_view::npos ? "" : std::string(input.substr(newline + 1));
  written.affinity = input.empty() ? 0 : static_cast<signed char>(input.back());

  // encode() never throws; text that is not UTF-8 (the recipes refuse it
  // up front: check_text, check_name) comes back with replacement
  // characters instead of the bytes written.
  const auto read = decode_member(encode(written));
  // A negative affinity is written as it is and refused when read.
  NOMINEE_FUZZ_CHECK(read.has_value() == (written.affinity >= 0));
  if (read) {
    NOMINEE_FUZZ_CHECK(read->affinity == written.affinity);
    if (is_utf8(written.endpoint)) NOMINEE_FUZZ_CHECK(read->endpoint == written.endpoint);
    // meta that is not a JSON object is not kept (group_member refuses it
    // before it gets here).
    NOMINEE_FUZZ_CHECK(read->meta == normalize_json_object(written.meta).value_or("{}"));
  }

  const candidate_data candidate{written.endpoint, written.meta};
  const auto read_candidate = decode_candidate(encode(candidate));
  NOMINEE_FUZZ_CHECK(read_candidate.has_value());
  if (is_utf8(candidate.member_id) && is_utf8(candidate.endpoint)) NOMINEE_FUZZ_CHECK(same(*read_candidate, candidate));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_member(input);
  check_candidate(input);
  check_normalize(input);
  check_written(input);
  return 0;
}
