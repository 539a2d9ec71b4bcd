#pragma once
// What one request sees: copies of every source's state, taken together
// under the board's lock, then rendered (JSON, metrics) without it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/session_state.hpp>
#include <nominee/session_statistics.hpp>
#include <nominee/status_board.hpp>

namespace nominee::status_detail {

struct session_snapshot {
  session_state state = session_state::connecting;
  std::int64_t session_id = 0;
  std::chrono::milliseconds negotiated_timeout{0};
  std::string server;
  session_statistics statistics;
};

struct role_snapshot {
  std::string role;
  bool observed = false;               // a role_observer is shown for it
  std::optional<role_holder> holder;   // as the observer sees it
  bool held_by_me = false;             // a candidate or set_role_held says so
  std::optional<std::int64_t> my_token;
};

struct divider_snapshot {
  std::string prefix;
  divider_status status;
  std::set<std::string> assigned;  // only when the keys were asked for
};

struct status_snapshot {
  std::string member;
  std::chrono::system_clock::time_point taken;
  std::optional<session_snapshot> session;
  std::vector<role_snapshot> roles;        // sorted by role
  std::vector<divider_snapshot> dividers;  // sorted by prefix
  std::vector<status_event> events;        // oldest first
};

// "0x" and lowercase hex, as ZooKeeper's own logs print session ids.
std::string session_id_hex(std::int64_t id);
// ISO-8601 UTC with milliseconds: "2026-11-21T12:51:47.123Z".
std::string iso8601_utc(std::chrono::system_clock::time_point t);

std::string render_status_json(const status_snapshot& s, std::size_t max_keys_shown);
std::string render_metrics(const status_snapshot& s);

}  // namespace nominee::status_detail
