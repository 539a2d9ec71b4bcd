#pragma once
// The pure side of the space split (space_split.hpp): cutting [lo, hi) into
// ranges, the work key of a range and back, the JSON of a range's status and
// of the space's definition, and the checks on the options. No I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nominee/space_split.hpp>

#include "validate.hpp"

namespace nominee::detail {

struct space_definition {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  std::int64_t range_size = 0;
  friend bool operator==(const space_definition&, const space_definition&) = default;
};

// lo < hi, range_size > 0, at most max_space_ranges ranges; on failure,
// which field (prefixed with `what`, e.g. "space_split_options") and value.
option_problem check_space(const space_definition& space, std::string_view what = "space_split_options");
// Every field of the options.
option_problem check_space_split_options(const space_split_options& options);

// ceil((hi - lo) / range_size), for a space check_space accepts.
std::uint64_t range_count(const space_definition& space);
// Digits of the zero-padded index in a key (at least 4).
int index_width(const space_definition& space);
// The index-th range (index < range_count).
space_range range_at(const space_definition& space, std::uint64_t index);
std::vector<space_range> split_space(const space_definition& space);
// The range a key names, if it is one of this space's keys exactly.
std::optional<space_range> parse_range_key(const space_definition& space, std::string_view key);

// {"state":"pending","attempts":0,...}
std::string encode_status(const range_status& status);
std::optional<range_status> decode_status(std::string_view json);
std::optional<range_state> parse_range_state(std::string_view text);
// What a status node holds after a write of `written`: the status as it reads
// back (encode_status replaces invalid UTF-8, so the text fields may differ
// from what was written).
range_status stored_form(const range_status& written);
// Whether `data` (a status node's content) is what a write of `written` stores.
bool holds_status(std::string_view data, const range_status& written);
// The longest prefix of text of at most max_bytes that does not end inside
// a UTF-8 sequence (invalid bytes count as one character each).
std::string cut_utf8(std::string_view text, std::size_t max_bytes);

// The space node: {"lo":..,"hi":..,"range_size":..,"ranges":N,"seeded":b,"abandoned":b}.
struct space_record {
  space_definition space;
  bool seeded = false;
  bool abandoned = false;
};
std::string encode_space(const space_record& record);
std::optional<space_record> decode_space(std::string_view json);

// The divider prefix of a space's work keys.
std::string space_prefix(std::string_view space);

}  // namespace nominee::detail
