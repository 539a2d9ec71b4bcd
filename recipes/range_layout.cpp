#include "range_layout.hpp"

#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "recipe_paths.hpp"

namespace nominee::detail {

using json = nlohmann::json;

namespace {

std::optional<json> parse_object(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

bool get_u64(const json& doc, const char* key, std::uint64_t& out) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_unsigned()) {
    // nlohmann reads small non-negative numbers as unsigned; accept a
    // non-negative signed one too.
    if (it != doc.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      out = static_cast<std::uint64_t>(it->get<std::int64_t>());
      return true;
    }
    return false;
  }
  out = it->get<std::uint64_t>();
  return true;
}

bool get_i64(const json& doc, const char* key, std::int64_t& out) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return false;
  out = it->get<std::int64_t>();
  return true;
}

json encode_range(const value_range& r) { return json::array({r.lo, r.hi}); }

std::optional<value_range> decode_range(const json& j) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned()) {
    // [0, n] parses 0 as unsigned too; anything else is malformed.
    return std::nullopt;
  }
  value_range r{j[0].get<std::uint64_t>(), j[1].get<std::uint64_t>()};
  if (r.lo >= r.hi) return std::nullopt;
  return r;
}

}  // namespace

std::string range_paths::free_node(const value_range& r) const { return free_dir + "/" + free_name(r); }

range_paths make_range_paths(std::string_view root, std::string_view space) {
  range_paths p;
  p.base = under(root, "spaces", space);
  p.config = p.base + "/config";
  p.cursor = p.base + "/cursor";
  p.free_dir = p.base + "/free";
  p.consumers_dir = p.base + "/consumers";
  p.leases_dir = p.base + "/leases";
  return p;
}

std::string range_role(std::string_view space) { return "space-manager:" + std::string(space); }

std::string encode_space_config(const range_space_config& c) {
  return json{{"lo", c.lo},
              {"hi", c.hi},
              {"min_block", c.min_block},
              {"max_block", c.max_block},
              {"target_lease_ms", static_cast<std::int64_t>(c.target_lease.count())}}
      .dump();
}

std::optional<range_space_config> decode_space_config(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  range_space_config c;
  std::int64_t target = 0;
  if (!get_u64(*doc, "lo", c.lo) || !get_u64(*doc, "hi", c.hi) || !get_u64(*doc, "min_block", c.min_block) ||
      !get_u64(*doc, "max_block", c.max_block) || !get_i64(*doc, "target_lease_ms", target))
    return std::nullopt;
  c.target_lease = std::chrono::milliseconds(target);
  if (c.lo >= c.hi || c.min_block == 0 || c.min_block > c.max_block || target <= 0 ||
      c.target_lease > max_target_lease)
    return std::nullopt;
  return c;
}

bool same_space_config(const range_space_config& a, const range_space_config& b) {
  return a.lo == b.lo && a.hi == b.hi && a.min_block == b.min_block && a.max_block == b.max_block &&
         a.target_lease == b.target_lease;
}

std::string describe_space_config(const range_space_config& c) { return encode_space_config(c); }

std::string encode_cursor(std::uint64_t next) { return json{{"next", next}}.dump(); }

std::optional<std::uint64_t> decode_cursor(std::string_view text) {
  auto doc = parse_object(text);
  std::uint64_t next = 0;
  if (!doc || !get_u64(*doc, "next", next)) return std::nullopt;
  return next;
}

std::string free_name(const value_range& r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020llu-%020llu", static_cast<unsigned long long>(r.lo),
                static_cast<unsigned long long>(r.hi));
  return buf;
}

std::optional<value_range> parse_free_name(std::string_view name) {
  if (name.size() != 41 || name[20] != '-') return std::nullopt;
  auto number = [](std::string_view digits, std::uint64_t& out) {
    for (char ch : digits)
      if (ch < '0' || ch > '9') return false;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && p == digits.data() + digits.size();
  };
  value_range r;
  if (!number(name.substr(0, 20), r.lo) || !number(name.substr(21), r.hi) || r.lo >= r.hi) return std::nullopt;
  return r;
}

std::string encode(const consumer_report& r) {
  json returns = json::array();
  for (const auto& ret : r.returns) {
    json ranges = json::array();
    for (const auto& range : ret.ranges) ranges.push_back(encode_range(range));
    returns.push_back(json{{"seq", ret.seq}, {"idle", ret.idle}, {"ranges", ranges}});
  }
  return json{{"session", r.session}, {"instance", r.instance}, {"taken", r.taken},     {"want", r.want},   {"used_n", r.used_n},
              {"used_ms", r.used_ms}, {"rate", r.rate},       {"drawn", r.drawn}, {"returns", returns}}
      .dump();
}

std::optional<consumer_report> decode_consumer_report(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  consumer_report r;
  if (!get_i64(*doc, "session", r.session) || !get_u64(*doc, "instance", r.instance) ||
      !get_u64(*doc, "taken", r.taken) || !get_u64(*doc, "used_n", r.used_n) ||
      !get_i64(*doc, "used_ms", r.used_ms) || !get_u64(*doc, "drawn", r.drawn))
    return std::nullopt;
  auto want = doc->find("want");
  if (want == doc->end() || !want->is_boolean()) return std::nullopt;
  r.want = want->get<bool>();
  if (auto rate = doc->find("rate"); rate != doc->end() && rate->is_number()) r.rate = rate->get<double>();
  auto returns = doc->find("returns");
  if (returns == doc->end() || !returns->is_array()) return std::nullopt;
  for (const auto& item : *returns) {
    if (!item.is_object()) return std::nullopt;
    range_return ret;
    if (!get_u64(item, "seq", ret.seq)) return std::nullopt;
    auto idle = item.find("idle");
    if (idle == item.end() || !idle->is_boolean()) return std::nullopt;
    ret.idle = idle->get<bool>();
    auto ranges = item.find("ranges");
    if (ranges == item.end() || !ranges->is_array()) return std::nullopt;
    for (const auto& range : *ranges) {
      auto v = decode_range(range);
      if (!v) return std::nullopt;
      ret.ranges.push_back(*v);
    }
    r.returns.push_back(std::move(ret));
  }
  return r;
}

std::string encode(const lease_record& r) {
  json grants = json::array();
  for (const auto& g : r.grants) grants.push_back(json{{"n", g.n}, {"session", g.session}, {"czxid", g.czxid}, {"range", encode_range(g.range)}});
  return json{{"block", r.block},         {"next_n", r.next_n},   {"grants", grants},
              {"sized_n", r.sized_n},     {"ret_czxid", r.ret_czxid}, {"ret_seq", r.ret_seq},
              {"exhausted", r.exhausted}}
      .dump();
}

std::optional<lease_record> decode_lease_record(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  lease_record r;
  if (!get_u64(*doc, "block", r.block) || !get_u64(*doc, "next_n", r.next_n) || !get_u64(*doc, "sized_n", r.sized_n) ||
      !get_i64(*doc, "ret_czxid", r.ret_czxid) || !get_u64(*doc, "ret_seq", r.ret_seq))
    return std::nullopt;
  auto exhausted = doc->find("exhausted");
  if (exhausted == doc->end() || !exhausted->is_boolean()) return std::nullopt;
  r.exhausted = exhausted->get<bool>();
  auto grants = doc->find("grants");
  if (grants == doc->end() || !grants->is_array()) return std::nullopt;
  for (const auto& item : *grants) {
    if (!item.is_object()) return std::nullopt;
    range_grant g;
    auto range = item.find("range");
    if (!get_u64(item, "n", g.n) || !get_i64(item, "session", g.session) || range == item.end()) return std::nullopt;
    // A grant written by a coordinator older than registration tags has
    // none (0): it names only a session.
    if (item.contains("czxid") && !get_i64(item, "czxid", g.czxid)) return std::nullopt;
    auto v = decode_range(*range);
    if (!v) return std::nullopt;
    g.range = *v;
    r.grants.push_back(g);
  }
  return r;
}

}  // namespace nominee::detail
