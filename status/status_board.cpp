#include <nominee/status_board.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/session.hpp>

#include "status_snapshot.hpp"

namespace nominee {

using status_detail::status_snapshot;

namespace {

// The ring of recent events. Shared with the session listener, which the
// session may call once more after the board removed it.
struct event_log {
  std::mutex mutex;
  std::deque<status_event> events;

  void add(std::string kind, std::string detail) {
    status_event e{std::chrono::system_clock::now(), std::move(kind), std::move(detail)};
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
    while (events.size() > status_board::event_capacity) events.pop_front();
  }
  std::vector<status_event> copy() {
    std::lock_guard lock(mutex);
    return {events.begin(), events.end()};
  }
};

std::string describe(const session_event& e) {
  std::string out(to_string(e.state));
  if (e.session_id != 0) out += " session " + status_detail::session_id_hex(e.session_id);
  if (e.negotiated_timeout.count() > 0) out += ", timeout " + std::to_string(e.negotiated_timeout.count()) + " ms";
  return out;
}

}  // namespace

struct status_board::state {
  explicit state(std::string member) : member(std::move(member)) {}

  const std::string member;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();

  // Guards the sources. Held while a request reads them, so a remove_*
  // that returned is never followed by a read of the removed source.
  mutable std::mutex sources_mutex;
  session* shown_session = nullptr;
  session::listener_id listener = 0;
  std::map<std::string, const role_observer*> observers;
  std::map<std::string, const candidate*> candidates;
  std::map<std::string, const divider*> dividers;

  // Guards held (a lock of its own: set_role_held runs in recipe callbacks
  // and must not wait for a request to finish reading the sources).
  mutable std::mutex held_mutex;
  std::map<std::string, std::int64_t> held;

  void drop_session() {
    if (shown_session) shown_session->remove_listener(listener);
    shown_session = nullptr;
    listener = 0;
  }

  status_snapshot take(bool with_keys) const {
    status_snapshot s;
    s.member = member;
    std::map<std::string, status_detail::role_snapshot> roles;
    {
      std::lock_guard lock(held_mutex);
      for (auto& [role, token] : held) {
        auto& r = roles[role];
        r.held_by_me = true;
        r.my_token = token;
      }
    }
    {
      std::lock_guard lock(sources_mutex);
      if (shown_session) {
        status_detail::session_snapshot ss;
        ss.state = shown_session->state();
        ss.session_id = shown_session->session_id();
        ss.negotiated_timeout = shown_session->negotiated_timeout();
        ss.server = shown_session->current_server();
        ss.statistics = shown_session->statistics();
        s.session = std::move(ss);
      }
      for (auto& [role, observer] : observers) {
        auto& r = roles[role];
        r.observed = true;
        r.holder = observer->current();
      }
      for (auto& [role, c] : candidates) {
        if (auto term = c->current_term()) {
          auto& r = roles[role];
          r.held_by_me = true;
          r.my_token = term->token;
        } else {
          roles.try_emplace(role);
        }
      }
      for (auto& [prefix, d] : dividers) {
        status_detail::divider_snapshot ds;
        ds.prefix = prefix;
        ds.status = d->status();
        if (with_keys) ds.assigned = d->assigned();
        s.dividers.push_back(std::move(ds));
      }
    }
    for (auto& [role, r] : roles) {
      r.role = role;
      s.roles.push_back(std::move(r));
    }
    s.events = log->copy();
    s.taken = std::chrono::system_clock::now();
    return s;
  }
};

status_board::status_board(std::string member_id) : state_(std::make_shared<state>(std::move(member_id))) {}

status_board::~status_board() {
  std::lock_guard lock(state_->sources_mutex);
  state_->drop_session();
}

const std::string& status_board::member_id() const noexcept { return state_->member; }

void status_board::show_session(session& s) {
  std::lock_guard lock(state_->sources_mutex);
  state_->drop_session();
  state_->listener = s.add_listener([log = state_->log](const session_event& e) { log->add("session", describe(e)); });
  state_->shown_session = &s;
  // The listener only hears what happens from now on: say where it starts.
  state_->log->add("session", "shown: " + describe({s.state(), s.session_id(), s.negotiated_timeout()}));
}

void status_board::remove_session() {
  std::lock_guard lock(state_->sources_mutex);
  state_->drop_session();
}

void status_board::show_role(std::string role, const role_observer& observer) {
  std::lock_guard lock(state_->sources_mutex);
  state_->observers[std::move(role)] = &observer;
}

void status_board::remove_role(const std::string& role) {
  std::lock_guard lock(state_->sources_mutex);
  state_->observers.erase(role);
}

void status_board::show_candidate(const candidate& c) {
  std::lock_guard lock(state_->sources_mutex);
  state_->candidates[c.options().role] = &c;
}

void status_board::remove_candidate(const std::string& role) {
  std::lock_guard lock(state_->sources_mutex);
  state_->candidates.erase(role);
}

void status_board::set_role_held(const std::string& role, std::optional<std::int64_t> token) {
  std::string change;
  {
    std::lock_guard lock(state_->held_mutex);
    auto it = state_->held.find(role);
    if (token) {
      if (it != state_->held.end() && it->second == *token) return;
      state_->held[role] = *token;
      change = "holds " + role + " (token " + std::to_string(*token) + ")";
    } else {
      if (it == state_->held.end()) return;
      state_->held.erase(it);
      change = "no longer holds " + role;
    }
  }
  state_->log->add("role", std::move(change));
}

void status_board::show_divider(const divider& d) {
  std::lock_guard lock(state_->sources_mutex);
  state_->dividers[d.options().prefix] = &d;
}

void status_board::remove_divider(const std::string& prefix) {
  std::lock_guard lock(state_->sources_mutex);
  state_->dividers.erase(prefix);
}

void status_board::record_event(std::string kind, std::string detail) {
  state_->log->add(std::move(kind), std::move(detail));
}

std::vector<status_event> status_board::events() const { return state_->log->copy(); }

std::string status_board::status_json() const {
  return status_detail::render_status_json(state_->take(true), max_assigned_keys_shown);
}

std::string status_board::metrics_text() const { return status_detail::render_metrics(state_->take(false)); }

std::string status_board::session_state_name() const {
  std::lock_guard lock(state_->sources_mutex);
  if (!state_->shown_session) return "no session";
  return std::string(to_string(state_->shown_session->state()));
}

bool status_board::healthy() const {
  std::lock_guard lock(state_->sources_mutex);
  if (!state_->shown_session) return false;
  auto s = state_->shown_session->state();
  return s == session_state::connected || s == session_state::reconnected;
}

}  // namespace nominee
