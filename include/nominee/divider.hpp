#pragma once
// Divider: the work keys under one prefix, split among the members in
// proportion to their affinity, each key owned by at most one member at a
// time.
//
//   /<root>/work/<prefix>/keys/<shard>/<key>        persistent work key
//   /<root>/work/<prefix>/members/<member>          ephemeral: {affinity, endpoint, meta}
//   /<root>/work/<prefix>/owners/<shard>/<key>      ephemeral owner; czxid = fencing token
//   /<root>/work/<prefix>/exclusions/<key>!<member> ephemeral: member released key
//
// Every member computes the same assignment (weighted rendezvous hashing) from
// the members, their affinities and the exclusions. A member starts a key
// (on_start) only after it created the key's owner node; it deletes the node
// only after the user confirmed the stop (confirm_stop), or its session died.
// So a key has at most one owner at every instant, and a change stops only the
// keys that move.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/latency_histogram.hpp>
#include <nominee/session.hpp>

namespace nominee {

// Longest work key, in bytes (keys are arbitrary bytes otherwise).
inline constexpr std::size_t max_work_key_bytes = 512;

enum class stop_reason {
  moved,      // a join, leave or affinity change gave the key to another member
  released,   // release(key) on this member
  removed,    // the key was removed from the work set
  flushing,   // flush(): this member hands all its keys over
  cancelled,  // cancel() or the divider's destruction
  suspended,  // connection lost: restarts (on_start, same token) if the same session comes back
  expired,    // the session expired: the owner node is gone
  lost,       // our owner node was deleted by someone else
  lease_lapsed,  // no reply confirmed the session in time (a freeze, a stalled link): the key may run elsewhere
};
std::string_view to_string(stop_reason reason) noexcept;

// What on_start hands over.
struct key_lease {
  std::string key;
  std::int64_t token = 0;  // fencing token: the owner node's czxid (only grows per key)
  std::string node;        // the owner node's path
  std::chrono::system_clock::time_point since;
  // Until when the key is surely ours, as of on_start: the send time of the
  // last reply that proved our session alive + 2/3 of its timeout (the
  // server cannot expire it sooner). The divider extends it while it runs;
  // divider::still_valid(lease) says whether it holds now.
  std::chrono::steady_clock::time_point valid_until;
  // The session that holds the owner node. Writes made under this lease
  // belong to it: session::async_set(..., on_session{session_id}, ...)
  // never lets a retry land on a later session, after the key moved on.
  std::int64_t session_id = 0;
};

// What happens to a stop the user never confirms, after stop_timeout.
enum class unconfirmed_stop {
  hand_over,  // delete the owner node anyway (logged): the key moves on; fencing protects it
  keep,       // keep owning it (logged) until confirmed; the key does not move
};

struct divider_options {
  std::string root = "/nominee";
  std::string prefix;          // e.g. "/process/me/": any bytes, at most max_work_key_bytes
  std::string member_id;       // one znode name, unique among this prefix's live members
  std::int64_t affinity = 1;   // >= 0; 0 = no work
  std::string endpoint;
  // Membership changes closer together than this are handled as one.
  std::chrono::milliseconds coalesce_window{20};
  // Re-checks owned and wanted keys against ZooKeeper this often (each owned
  // key's node once per interval, a tenth of them at a time).
  std::chrono::milliseconds reconcile_interval{30000};
  std::chrono::milliseconds stop_timeout{30000};
  unconfirmed_stop on_stop_timeout = unconfirmed_stop::hand_over;
  // Optional: the source of truth for the key set. Only the holder of the
  // role "divider:<prefix>" calls it (on the session's executor, every
  // fetch_interval) and adds/removes keys to match what it returns.
  std::function<std::vector<std::string>()> work_fetcher;
  std::chrono::milliseconds fetch_interval{10000};
};

// One member of the prefix, as this member's assignment sees it.
struct member_share {
  std::int64_t affinity = 0;
  std::string endpoint;
  std::size_t keys = 0;  // keys the assignment gives it
};

struct divider_status {
  bool started = false;
  bool flushing = false;
  std::size_t members = 0;            // members of this prefix
  std::size_t members_with_work = 0;  // members with affinity > 0
  bool no_eligible_member = false;    // keys exist, but no member has affinity > 0: they stay unowned
  std::size_t keys = 0;               // work keys under the prefix
  std::size_t assigned = 0;           // keys this member owns and runs
  std::size_t acquiring = 0;          // keys given to us, waiting for the old owner's node to go
  std::size_t stopping = 0;           // on_stop sent, confirm pending
  std::uint64_t rebalances = 0;       // assignment recomputations that changed our set
  std::uint64_t starts = 0;
  std::uint64_t stops = 0;
  std::uint64_t keys_moved = 0;       // keys the assignment moved from one member to another
  std::uint64_t stop_timeouts = 0;    // stops not confirmed within stop_timeout
  latency_histogram stop_confirm_latency;  // on_stop to confirm_stop
  std::map<std::string, member_share> shares;  // by member id
};

namespace detail {
class divider_core;
}

class divider {
 public:
  struct callbacks {
    std::function<void(const key_lease&)> on_start;
    // The user calls confirm_stop(key) once it has stopped working on key.
    std::function<void(const std::string& key, stop_reason)> on_stop;
  };

  // Validates (throws nominee::error naming the bad field). Nothing happens
  // until async_start. Callbacks run on a strand of the session's executor,
  // never after the destructor returns; per key, start and stop alternate.
  divider(session& s, divider_options options, callbacks on_events);
  // Like the process dying, but faster: our nodes are deleted at once (a
  // stop not yet confirmed is not waited for). Prefer async_cancel first.
  ~divider();
  divider(const divider&) = delete;
  divider& operator=(const divider&) = delete;

  using completion = detail::completion<std::error_code>;

  // Joins the prefix's members and starts taking keys. Completes once joined.
  template <class Token>
  auto async_start(Token&& token) {
    return initiate(token, [this](completion done) { start(std::move(done)); });
  }
  // Stops taking work (affinity 0 in ZooKeeper), stops every owned key,
  // waits for the confirms, hands the keys over, and completes once other
  // members own them (or at once when no other member has affinity > 0).
  template <class Token>
  auto async_flush(Token&& token) {
    return initiate(token, [this](completion done) { flush(std::move(done)); });
  }
  // Leaves: the member node goes first (so others start waiting), then every
  // key stops, and each owner node is deleted once its stop is confirmed.
  // Completes when our nodes are gone. The divider can be started again.
  template <class Token>
  auto async_cancel(Token&& token) {
    return initiate(token, [this](completion done) { cancel(std::move(done)); });
  }
  template <class Token>
  auto async_flush_and_cancel(Token&& token) {
    return initiate(token, [this](completion done) { flush_and_cancel(std::move(done)); });
  }

  // Call once the work on a key that got on_stop has stopped. Returns
  // errc::not_stopping (and changes nothing) for a key not being stopped.
  std::error_code confirm_stop(const std::string& key);

  // Gives key up: it goes to the next member in the key's ranking, never
  // back to us, while our exclusion lasts. The exclusion is an ephemeral
  // node: it ends with async_reclaim, when we leave or our session ends, or
  // when the key is removed. Completes once the exclusion is in ZooKeeper.
  template <class Token>
  auto async_release(std::string key, Token&& token) {
    return initiate(token, [this, key = std::move(key)](completion done) mutable { release(std::move(key), true, std::move(done)); });
  }
  template <class Token>
  auto async_reclaim(std::string key, Token&& token) {
    return initiate(token, [this, key = std::move(key)](completion done) mutable { release(std::move(key), false, std::move(done)); });
  }

  // The keys this member owns and runs now (started, not being stopped).
  std::set<std::string> assigned() const;
  // True while the key is still ours under this lease (same token) and
  // the lease runs: cheap (a lock and a clock read), for a check right
  // before each side effect. After a freeze it is false at once, before
  // the divider has run anything. What no lease can give: a side effect
  // already under way when the process froze lands late; only a store that
  // checks the fencing token (lease.token) rejects it.
  bool still_valid(const key_lease& lease) const;
  divider_status status() const;
  const divider_options& options() const noexcept;

  // This member's affinity as ZooKeeper has it (changes by others included).
  std::int64_t affinity() const;
  template <class Token>
  auto async_set_affinity(std::int64_t affinity, Token&& token) {
    return initiate(token, [this, affinity](completion done) { set_affinity(affinity, std::move(done)); });
  }
  // Atomic (compare-and-set on the member node); never below 0. Completes
  // with the new affinity.
  template <class Token>
  auto async_alter_affinity(std::int64_t delta, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::int64_t)>(
        [this, delta](auto handler) {
          alter_affinity(delta, detail::completion<std::error_code, std::int64_t>(std::move(handler), executor()));
        },
        token);
  }

  // Batched (multi of at most 100) and idempotent. Each key is checked
  // first: an empty or over-long key fails the call before anything is sent.
  template <class Token>
  auto async_add_work(std::vector<std::string> keys, Token&& token) {
    return initiate(token, [this, k = std::move(keys)](completion done) mutable { change_work(std::move(k), false, std::move(done)); });
  }
  template <class Token>
  auto async_remove_work(std::vector<std::string> keys, Token&& token) {
    return initiate(token, [this, k = std::move(keys)](completion done) mutable { change_work(std::move(k), true, std::move(done)); });
  }

 private:
  template <class Token, class Start>
  auto initiate(Token& token, Start start) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this, start = std::move(start)](auto handler) mutable { start(completion(std::move(handler), executor())); },
        token);
  }
  boost::asio::any_io_executor executor() const;
  void start(completion done);
  void flush(completion done);
  void cancel(completion done);
  void flush_and_cancel(completion done);
  void release(std::string key, bool exclude, completion done);
  void set_affinity(std::int64_t affinity, completion done);
  void alter_affinity(std::int64_t delta, detail::completion<std::error_code, std::int64_t> done);
  void change_work(std::vector<std::string> keys, bool remove, completion done);

  std::shared_ptr<detail::divider_core> core_;
};

}  // namespace nominee
