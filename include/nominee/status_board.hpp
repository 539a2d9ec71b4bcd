#pragma once
// nominee::status_board: what a service shows about itself on its status
// endpoint (status_server): its session, who holds the roles it watches,
// the roles it holds, its dividers' shares, and its recent events.
//
// The board holds its sources by reference and reads them on each request,
// through their snapshot accessors only (state(), statistics(), current(),
// status(), assigned(): mutex-guarded copies), so serving a request never
// waits on a recipe's strand. A source must outlive the board, or be
// removed first: once remove_* returns, no request reads it any more.
// Every member function is thread-safe; record_event and set_role_held may
// be called from recipe callbacks (they take only a short lock of their own).
//
// Part of nominee::status (link nominee::status; it adds cpprestsdk).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nominee {

class session;
class role_observer;
class candidate;
class divider;

struct status_event {
  std::chrono::system_clock::time_point time;
  std::string kind;    // e.g. "session", "role", "key", or the service's own
  std::string detail;
};

class status_board {
 public:
  // Recent events kept (older ones are dropped first).
  static constexpr std::size_t event_capacity = 200;
  // Longest list of this member's keys /status shows per divider (the count
  // is always exact; "assigned_keys_truncated" says when the list is not).
  static constexpr std::size_t max_assigned_keys_shown = 1000;

  explicit status_board(std::string member_id);
  ~status_board();
  status_board(const status_board&) = delete;
  status_board& operator=(const status_board&) = delete;

  const std::string& member_id() const noexcept;

  // The session: state, id, negotiated timeout, server, operation latency.
  // Adds a listener that records each state change as a "session" event.
  // Replaces a session shown before.
  void show_session(session& s);
  void remove_session();

  // Who holds `role` (member, endpoint, token), as the observer sees it.
  // Showing a role again replaces its observer.
  void show_role(std::string role, const role_observer& observer);
  void remove_role(const std::string& role);

  // This process's candidacy: the board asks it whether it holds its role
  // (options().role) and with which token. Replaces one for the same role.
  void show_candidate(const candidate& c);
  void remove_candidate(const std::string& role);

  // For roles this process holds by other means (or when the service
  // prefers to say so from on_elected / on_revoked): a token means held,
  // nullopt means not held. Each change is recorded as a "role" event.
  void set_role_held(const std::string& role, std::optional<std::int64_t> token);

  // A divider: its members with affinity and key counts, this member's keys,
  // rebalances, moves, stop-confirm latency. Listed under options().prefix;
  // showing another divider with the same prefix replaces it.
  void show_divider(const divider& d);
  void remove_divider(const std::string& prefix);

  // Appends to the ring of recent events, stamped with the wall clock.
  void record_event(std::string kind, std::string detail);
  std::vector<status_event> events() const;  // oldest first

  // The bodies the server sends: GET /status (JSON), GET /metrics
  // (Prometheus text exposition format 0.0.4).
  std::string status_json() const;
  std::string metrics_text() const;
  // GET /healthz: a session is shown and it is connected (or reconnected).
  bool healthy() const;
  // "connected", "suspended", ..., or "no session".
  std::string session_state_name() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace nominee
