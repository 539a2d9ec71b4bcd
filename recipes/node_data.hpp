#pragma once
// The JSON that nominee keeps in its nodes, read and written in one place.
// Anything read from ZooKeeper may have been written by someone else: a
// malformed document is an error value, never an exception or a crash.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nominee::detail {

// Candidate nodes: {"member": "...", "endpoint": "..."}.
struct candidate_data {
  std::string member_id;
  std::string endpoint;
};
std::string encode(const candidate_data& data);
std::optional<candidate_data> decode_candidate(std::string_view json);

// Member nodes: {"affinity": N, "endpoint": "...", "meta": {...}}.
struct member_data {
  std::int64_t affinity = 0;
  std::string endpoint;
  std::string meta = "{}";  // a JSON object, as compact text
};
std::string encode(const member_data& data);
std::optional<member_data> decode_member(std::string_view json);

// meta must be a JSON object; returns it compacted, or nullopt.
std::optional<std::string> normalize_json_object(std::string_view text);

}  // namespace nominee::detail
