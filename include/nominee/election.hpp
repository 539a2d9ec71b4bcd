#pragma once
// Coordinator election with named roles ("first writer wins").
//
// Each candidate creates a protected ephemeral-sequential node under
// /<root>/roles/<role>/ (Curator LeaderLatch's shape: _c_<uuid>-latch-<seq>);
// the lowest sequence holds the role and watches nothing; every other
// candidate watches only its predecessor. The holder's fencing token is its
// node's czxid, which only grows. A process may stand for many roles.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nominee/session.hpp>

namespace nominee {

enum class revoke_reason {
  resigned,      // resign() or the candidate was destroyed
  suspended,     // connection lost, or the lease lapsed: another may win soon
  expired,       // the session expired: another may hold the role now
  node_deleted,  // our candidate node was deleted from outside
  closed,        // the session was closed
};
std::string_view to_string(revoke_reason reason) noexcept;

struct term {
  std::int64_t token = 0;  // fencing token: the candidate node's czxid
  std::chrono::system_clock::time_point since;
  std::string node;        // the candidate node's path
};

struct election_options {
  std::string root = "/nominee";
  std::string role;        // e.g. "cluster-manager"; a single znode name
  std::string member_id;   // who we are, as observers see it
  std::string endpoint;    // how to reach us (free text, e.g. "10.0.0.5:8080")
  // After an expiry, stand again by ourselves (the revoke is still reported).
  bool renominate_after_expiry = true;
};

namespace detail {
class contender;
}

class candidate {
 public:
  struct callbacks {
    std::function<void(const term&)> on_elected;
    std::function<void(revoke_reason)> on_revoked;
  };

  // Validates (throws nominee::error naming the bad field) and stands at
  // once. Callbacks run on a strand of the session's executor, in order:
  // never two on_elected without an on_revoked between them.
  candidate(session& s, election_options options, callbacks on_events);
  // Withdraws: the node is deleted; no callback runs after this returns.
  ~candidate();
  candidate(const candidate&) = delete;
  candidate& operator=(const candidate&) = delete;

  // Withdraws from the election (on_revoked(resigned) if holding).
  void resign();
  // Stands again after a resign().
  void stand();

  bool is_holder() const;
  std::optional<term> current_term() const;
  const election_options& options() const noexcept { return options_; }
  // Watch events this candidate got from its predecessors (diagnostics).
  std::uint64_t predecessor_events() const;

 private:
  struct state;
  election_options options_;
  std::shared_ptr<state> state_;
  std::shared_ptr<detail::contender> contender_;
};

// Who holds a role, as anyone (candidate or not) sees it.
struct role_holder {
  std::string member_id;
  std::string endpoint;
  std::int64_t token = 0;
  std::string node;
};

namespace detail {
class role_observer_impl;
}

class role_observer {
 public:
  // Called with the new holder, or nullopt when nobody holds the role; on a
  // strand of the session's executor; never after the destructor returns.
  using callback = std::function<void(const std::optional<role_holder>&)>;

  role_observer(session& s, std::string root, std::string role, callback on_change);
  ~role_observer();
  role_observer(const role_observer&) = delete;
  role_observer& operator=(const role_observer&) = delete;

  std::optional<role_holder> current() const;

 private:
  std::shared_ptr<detail::role_observer_impl> impl_;
};

}  // namespace nominee
