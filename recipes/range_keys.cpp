#include "range_keys.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include <nominee/error.hpp>

#include "recipe_paths.hpp"

namespace nominee {

std::string_view to_string(range_state state) noexcept {
  switch (state) {
    case range_state::pending: return "pending";
    case range_state::running: return "running";
    case range_state::done: return "done";
    case range_state::failed: return "failed";
  }
  return "?";
}

}  // namespace nominee

namespace nominee::detail {

using json = nlohmann::json;

namespace {

// hi - lo as an unsigned count: exact for every lo < hi (two's complement).
std::uint64_t span_of(const space_definition& s) {
  return static_cast<std::uint64_t>(s.hi) - static_cast<std::uint64_t>(s.lo);
}

std::optional<json> parse(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

template <class T>
bool read_integer(const json& doc, const char* field, T& out) {
  auto it = doc.find(field);
  if (it == doc.end() || !it->is_number_integer()) return false;
  // Out of T's range is malformed, not truncated.
  if (it->is_number_unsigned()) {
    auto v = it->template get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(v);
    return true;
  }
  auto v = it->template get<std::int64_t>();
  if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      v > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
    return false;
  out = static_cast<T>(v);
  return true;
}

void read_string(const json& doc, const char* field, std::string& out) {
  if (auto it = doc.find(field); it != doc.end() && it->is_string()) out = it->get<std::string>();
}

bool read_bool(const json& doc, const char* field) {
  auto it = doc.find(field);
  return it != doc.end() && it->is_boolean() && it->get<bool>();
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

option_problem check_space(const space_definition& s, std::string_view what) {
  std::string field(what);
  if (s.lo >= s.hi)
    return {errc::invalid_option, field + ".hi",
            std::to_string(s.hi) + " (the space [lo, hi) is empty: lo is " + std::to_string(s.lo) + ")"};
  if (s.range_size <= 0) return {errc::invalid_option, field + ".range_size", std::to_string(s.range_size)};
  auto span = span_of(s);
  auto size = static_cast<std::uint64_t>(s.range_size);
  auto count = span / size + (span % size != 0);
  if (count > max_space_ranges)
    return {errc::invalid_option, field + ".range_size",
            std::to_string(s.range_size) + " (" + std::to_string(count) + " ranges, at most " +
                std::to_string(max_space_ranges) + ")"};
  return {};
}

option_problem check_space_split_options(const space_split_options& o) {
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
  if (auto ec = check_path(o.root)) return {ec, "space_split_options.root", o.root};
  if (auto ec = check_name(o.space, 200)) return {ec, "space_split_options.space", o.space};
  if (auto p = check_space({o.lo, o.hi, o.range_size}); p.error) return p;
  if (auto ec = check_name(o.member_id)) return {ec, "space_split_options.member_id", o.member_id};
  if (o.affinity < 0) return {errc::invalid_option, "space_split_options.affinity", std::to_string(o.affinity)};
  if (o.endpoint.size() > 1024) return {errc::invalid_option, "space_split_options.endpoint", o.endpoint};
  if (o.range_timeout.count() <= 0)
    return {errc::invalid_option, "space_split_options.range_timeout", ms(o.range_timeout)};
  if (o.max_failures < 1)
    return {errc::invalid_option, "space_split_options.max_failures", std::to_string(o.max_failures)};
  if (o.concurrency < 1 || o.concurrency > 256)
    return {errc::invalid_option, "space_split_options.concurrency", std::to_string(o.concurrency)};
  if (o.coalesce_window.count() < 0)
    return {errc::invalid_option, "space_split_options.coalesce_window", ms(o.coalesce_window)};
  if (o.reconcile_interval.count() <= 0)
    return {errc::invalid_option, "space_split_options.reconcile_interval", ms(o.reconcile_interval)};
  if (o.stop_timeout.count() <= 0)
    return {errc::invalid_option, "space_split_options.stop_timeout", ms(o.stop_timeout)};
  return {};
}

std::uint64_t range_count(const space_definition& s) {
  auto span = span_of(s);
  auto size = static_cast<std::uint64_t>(s.range_size);
  return span / size + (span % size != 0);
}

int index_width(const space_definition& s) {
  auto last = range_count(s) - 1;
  int digits = 1;
  while (last >= 10) {
    last /= 10;
    ++digits;
  }
  return std::max(digits, 4);
}

space_range range_at(const space_definition& s, std::uint64_t index) {
  auto size = static_cast<std::uint64_t>(s.range_size);
  auto offset = index * size;  // < span: no overflow for index < range_count
  auto length = std::min(size, span_of(s) - offset);
  space_range r;
  r.index = index;
  r.lo = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.lo) + offset);
  r.hi = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.lo) + offset + length);
  auto digits = std::to_string(index);
  r.key = std::string(static_cast<std::size_t>(std::max(0, index_width(s) - static_cast<int>(digits.size()))), '0') +
          digits + "_" + std::to_string(r.lo) + "_" + std::to_string(r.hi);
  return r;
}

std::vector<space_range> split_space(const space_definition& s) {
  std::vector<space_range> out;
  auto n = range_count(s);
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(range_at(s, i));
  return out;
}

std::optional<space_range> parse_range_key(const space_definition& s, std::string_view key) {
  auto first = key.find('_');
  if (first == std::string_view::npos || first == 0) return std::nullopt;
  auto digits = key.substr(0, first);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  auto index = parse_int(digits);
  if (!index || *index < 0 || static_cast<std::uint64_t>(*index) >= range_count(s)) return std::nullopt;
  auto r = range_at(s, static_cast<std::uint64_t>(*index));
  if (r.key != key) return std::nullopt;  // the bounds, or the padding, are not this space's
  return r;
}

std::optional<range_state> parse_range_state(std::string_view text) {
  for (auto s : {range_state::pending, range_state::running, range_state::done, range_state::failed})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string encode_status(const range_status& s) {
  return json{{"state", std::string(to_string(s.state))},
              {"attempts", s.attempts},
              {"failures", s.failures},
              {"by", s.by},
              {"token", s.token},
              {"result", s.result},
              {"error", s.error}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<range_status> decode_status(std::string_view text) {
  auto doc = parse(text);
  if (!doc) return std::nullopt;
  range_status out;
  auto state = doc->find("state");
  if (state == doc->end() || !state->is_string()) return std::nullopt;
  auto parsed = parse_range_state(state->get<std::string>());
  if (!parsed) return std::nullopt;
  out.state = *parsed;
  if (!read_integer(*doc, "attempts", out.attempts) || out.attempts < 0) return std::nullopt;
  if (!read_integer(*doc, "failures", out.failures) || out.failures < 0) return std::nullopt;
  read_integer(*doc, "token", out.token);
  read_string(*doc, "by", out.by);
  read_string(*doc, "result", out.result);
  read_string(*doc, "error", out.error);
  return out;
}

range_status stored_form(const range_status& written) {
  // encode_status always yields a document decode_status accepts.
  return decode_status(encode_status(written)).value_or(written);
}

bool holds_status(std::string_view data, const range_status& written) {
  auto stored = decode_status(data);
  return stored && *stored == stored_form(written);
}

std::string cut_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  auto end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the lead byte at most 3
  // back; cut before it unless its sequence fits whole.
  std::size_t back = 0;
  while (back < 3 && end - back > 0 && (static_cast<unsigned char>(text[end - back - 1]) & 0xC0) == 0x80) ++back;
  if (end - back > 0) {
    auto lead = static_cast<unsigned char>(text[end - back - 1]);
    std::size_t length = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 1;
    if (length > back + 1) end -= back + 1;  // the sequence is cut: drop it
  }
  return std::string(text.substr(0, end));
}

std::string encode_space(const space_record& r) {
  return json{{"lo", r.space.lo},
              {"hi", r.space.hi},
              {"range_size", r.space.range_size},
              {"ranges", range_count(r.space)},
              {"seeded", r.seeded},
              {"abandoned", r.abandoned}}
      .dump();
}

std::optional<space_record> decode_space(std::string_view text) {
  auto doc = parse(text);
  if (!doc) return std::nullopt;
  space_record out;
  if (!read_integer(*doc, "lo", out.space.lo) || !read_integer(*doc, "hi", out.space.hi) ||
      !read_integer(*doc, "range_size", out.space.range_size))
    return std::nullopt;
  if (check_space(out.space).error) return std::nullopt;
  out.seeded = read_bool(*doc, "seeded");
  out.abandoned = read_bool(*doc, "abandoned");
  return out;
}

std::string space_prefix(std::string_view space) { return "space:" + std::string(space); }

}  // namespace nominee::detail
