// GET /status: the snapshot as JSON.
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "status_snapshot.hpp"

namespace nominee::status_detail {

using nlohmann::json;

std::string session_id_hex(std::int64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, static_cast<std::uint64_t>(id));
  return buf;
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(ms / 1000);
  auto millis = static_cast<int>(ms % 1000);
  if (millis < 0) {  // before 1970: floor, not truncate
    millis += 1000;
    --seconds;
  }
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[96];  // room for any int the format could see
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

namespace {

json operations_json(const session_statistics& st) {
  return {
      {"count", st.operations.count},
      {"failed", st.failed},
      {"orphans_removed", st.orphans_removed},
      {"p50_ms", st.operations.quantile_upper_ms(0.50)},
      {"p99_ms", st.operations.quantile_upper_ms(0.99)},
  };
}

json session_json(const std::optional<session_snapshot>& s) {
  if (!s) return nullptr;
  return {
      {"state", std::string(to_string(s->state))},
      {"session_id", session_id_hex(s->session_id)},
      {"timeout_ms", s->negotiated_timeout.count()},
      {"server", s->server},
      {"operations", operations_json(s->statistics)},
  };
}

json role_json(const role_snapshot& r, const std::string& member) {
  json out = {{"role", r.role}, {"held_by_me", r.held_by_me}};
  if (r.holder) {
    out["holder"] = r.holder->member_id;
    out["endpoint"] = r.holder->endpoint;
    out["token"] = r.holder->token;
  } else if (!r.observed && r.held_by_me) {
    // Nobody watches the role for us: what we know is that we hold it.
    out["holder"] = member;
    out["endpoint"] = nullptr;
    out["token"] = r.my_token ? json(*r.my_token) : json(nullptr);
  } else {
    out["holder"] = nullptr;
    out["endpoint"] = nullptr;
    out["token"] = nullptr;
  }
  return out;
}

json divider_json(const divider_snapshot& d, std::size_t max_keys_shown) {
  const auto& st = d.status;
  json keys = json::array();
  for (auto& key : d.assigned) {
    if (keys.size() == max_keys_shown) break;
    keys.push_back(key);
  }
  json members = json::array();
  for (auto& [id, share] : st.shares)
    members.push_back({{"id", id}, {"affinity", share.affinity}, {"endpoint", share.endpoint}, {"keys", share.keys}});
  const auto& latency = st.stop_confirm_latency;
  return {
      {"prefix", d.prefix},
      {"started", st.started},
      {"flushing", st.flushing},
      {"keys", st.keys},
      {"assigned", d.assigned.size()},
      {"assigned_keys", std::move(keys)},
      {"assigned_keys_truncated", d.assigned.size() > max_keys_shown},
      {"acquiring", st.acquiring},
      {"stopping", st.stopping},
      {"members", std::move(members)},
      {"members_with_work", st.members_with_work},
      {"no_eligible_member", st.no_eligible_member},
      {"rebalances", st.rebalances},
      {"keys_moved", st.keys_moved},
      {"starts", st.starts},
      {"stops", st.stops},
      {"stop_timeouts", st.stop_timeouts},
      {"stop_confirm", {{"count", latency.count},
                        {"p50_ms", latency.quantile_upper_ms(0.50)},
                        {"p99_ms", latency.quantile_upper_ms(0.99)}}},
  };
}

}  // namespace

std::string render_status_json(const status_snapshot& s, std::size_t max_keys_shown) {
  json roles = json::array();
  for (auto& r : s.roles) roles.push_back(role_json(r, s.member));
  json dividers = json::array();
  for (auto& d : s.dividers) dividers.push_back(divider_json(d, max_keys_shown));
  json events = json::array();
  for (auto& e : s.events) events.push_back({{"time", iso8601_utc(e.time)}, {"kind", e.kind}, {"detail", e.detail}});
  json out = {
      {"member", s.member},
      {"time", iso8601_utc(s.taken)},
      {"session", session_json(s.session)},
      {"roles", std::move(roles)},
      {"dividers", std::move(dividers)},
      {"events", std::move(events)},
  };
  // Keys and names are arbitrary bytes: bytes that are not UTF-8 become
  // U+FFFD rather than failing the whole document.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace nominee::status_detail
