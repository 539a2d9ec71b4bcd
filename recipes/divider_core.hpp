#pragma once
// The divider's state machine, on one strand (see divider.hpp for the
// protocol). Per key we hold (held_):
//
//   acquiring  the key is ours by the assignment; its owner node belongs to
//              someone else and we watch it (exists watch) for its deletion
//   creating   our create of the owner node is in flight
//   running    we hold the owner node and the user runs the key (on_start)
//   stopping   on_stop sent, waiting for confirm_stop (or the stop timeout)
//   paused     stopped and confirmed while disconnected: the node is still
//              ours; on reconnect we either start again or delete it
//   deleting   our delete of the owner node is in flight
//
// Keys we have nothing to do with are not in held_.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/group.hpp>
#include <nominee/watched_children.hpp>

#include "assignment_table.hpp"
#include "session_link.hpp"
#include "watch_guard.hpp"
#include "work_keys.hpp"

namespace nominee::detail {

class divider_core : public std::enable_shared_from_this<divider_core> {
 public:
  using done_type = completion<std::error_code>;

  divider_core(session& s, divider_options options, divider::callbacks cb, std::string base);
  // Closes the gate: no callback runs after this returns, so the strand
  // state is ours to read; our nodes go.
  void close();

  const boost::asio::any_io_executor& executor() const { return executor_; }
  const divider_options& options() const { return options_; }

  void start(done_type done);
  void flush(done_type done, bool then_cancel);
  void cancel(done_type done);
  std::error_code confirm_stop(const std::string& key);
  void release(std::string key, bool exclude, done_type done);
  void set_affinity(std::int64_t affinity, done_type done);
  void alter_affinity(std::int64_t delta, completion<std::error_code, std::int64_t> done);
  void change_work(std::vector<std::string> keys, bool remove, done_type done);

  std::set<std::string> assigned() const;
  bool still_valid(const key_lease& lease) const;
  divider_status status() const;
  std::int64_t affinity() const;

 private:
  enum class phase { acquiring, creating, running, stopping, paused, deleting };
  struct key_state {
    phase at = phase::acquiring;
    std::uint64_t generation = 0;  // replies and watches of an older generation are stale
    std::int64_t token = 0;
    std::int64_t node_session = 0;  // the session our owner node belongs to (0: none)
    std::chrono::system_clock::time_point since;
    stop_reason reason = stop_reason::moved;
    int attempts = 0;
    bool create_pending = false;  // a create of its owner node is queued or unanswered
    std::shared_ptr<boost::asio::steady_timer> stop_timer;  // also: the next look after a failed one
    std::chrono::steady_clock::time_point stop_began;
  };

  // What to do with a key whose owner node may still be there, when its
  // owner shard is not worth listing: watch it (it comes from a live
  // member), or try the create (it had no owner in our table only because
  // we were still listing members or keys: a joiner, whose keys' old
  // owners have usually let go by then).
  enum class lone_key { watch, create };
  struct first_look {
    std::string key;
    std::uint64_t generation;
    lone_key if_alone;
  };

  template <class F>
  void later(F f);
  template <class F>
  auto on_strand(F f);
  void flush_at_turn_end(bool& scheduled, void (divider_core::*flush)());

  // Views and roles (created on the first start).
  void open_views();
  void on_members_changed();
  void apply_members();
  void on_keys_changed(const std::vector<std::string>& added, const std::vector<std::string>& removed, bool listed);
  void on_exclusions(const std::vector<std::string>& names);
  // new_keys: the changes are of keys just added to the work set, which
  // nobody can own yet.
  void note_changes(const std::vector<assignment_table::change>& changes, bool new_keys = false);
  bool ready() const;

  // The assignment against what we hold.
  void schedule_reconcile();
  void reconcile();
  void reconcile_everything_soon();
  void reconcile_everything_now();
  void mark_unsettled(const std::string& key);
  void settle(const std::string& key);
  const std::set<std::string>& desired() const;
  bool wants(const std::string& key) const;
  bool holding_on() const;
  void let_go_later();
  void look_again_when_ready();
  void write_flush_affinity(int attempt = 0);
  void join_when_ready();
  stop_reason reason_for(const std::string& key) const;

  // One key's life.
  void acquire(const std::string& key);
  void look_first(const std::string& key, std::uint64_t generation, lone_key if_alone);
  void flush_looks();
  void listed_owners(const std::vector<first_look>& keys, std::error_code ec, const std::vector<std::string>& names);
  bool still_acquiring(const std::string& key, std::uint64_t generation) const;
  void create_owner(const std::string& key, std::uint64_t generation);
  void on_created(const std::string& key, std::uint64_t generation, std::error_code ec, const created_node& made);
  void check_ours(const std::string& key, std::uint64_t generation);
  void watch_owner(const std::string& key, std::uint64_t generation);
  void took(const std::string& key, const stat& st);
  void begin_stop(const std::string& key, stop_reason reason);
  void on_confirmed(const std::string& key, bool timed_out);
  void on_stop_timeout(const std::string& key, std::uint64_t generation);
  void resume_or_delete(const std::string& key);
  void delete_owner(const std::string& key);
  void flush_deletes();
  void remove_one(const std::string& key, std::uint64_t generation);
  bool same_session(const std::vector<std::pair<std::string, std::uint64_t>>& batch) const;
  void deleted(const std::string& key, std::uint64_t generation, std::error_code ec);
  void forget(const std::string& key);
  // The lease (see key_lease::valid_until): a heartbeat read every T/4
  // extends it; check_lease() runs first in every handler.
  bool lease_valid() const;
  std::chrono::steady_clock::time_point lease_until() const;
  void watch_lease_end();
  void heartbeat();
  void extend_lease(std::chrono::steady_clock::time_point sent);
  void check_lease();
  void resume_paused();
  void look_again_later(const std::string& key, std::uint64_t generation);
  void drop_stale_node(const std::string& key, owned_node node);
  owned_node owner_node_of(const std::string& key, const key_state& st) const;
  void remove_exclusion(const std::string& key);
  void create_exclusion(const std::string& key, int attempt, done_type done);

  // Session, flush, cancel.
  void on_session_event(const session_event& e);
  void watch_takeover(const std::string& key);
  void check_waiters();
  void audit_owned();
  void arm_audit();

  // Work fetcher (only while we hold the divider's role).
  void arm_fetch();
  void fetch();

  void publish();
  void publish_soon();
  std::string owner_path(const std::string& key) const;
  void flush_creates();
  void schedule_creates();
  void look_answered();
  void create_one(const std::string& key, std::uint64_t generation);
  void created_in_batch(const std::vector<std::pair<std::string, std::uint64_t>>& batch, std::int64_t session_id,
                        std::error_code ec, const std::vector<operation_result>& results);
  std::string exclusion_path(const std::string& key) const;

  session* session_;
  session_link link_;
  boost::asio::any_io_executor executor_;
  watched_children::strand_type strand_;
  callback_gate gate_;
  session::listener_id listener_ = 0;
  const divider_options options_;
  const divider::callbacks callbacks_;
  const std::string base_;

  // Strand state.
  std::unique_ptr<group_member> member_;
  std::unique_ptr<group_view> members_view_;
  std::unique_ptr<key_set_view> keys_view_;
  std::unique_ptr<watched_children> exclusions_view_;
  std::unique_ptr<candidate> fetch_role_;
  bool exclusions_listed_ = false;
  // Every key shard's first listing has reached the table (keys_view_'s
  // complete() runs ahead of the deliveries posted to us).
  bool keys_listed_ = false;
  assignment_table table_;
  std::map<std::string, key_state> held_;
  // Keys the assignment gives us whose owner node may still be there.
  std::map<std::string, lone_key> maybe_owned_;
  std::map<std::string, owned_node> my_exclusions_;
  // Keys whose node a stale create made, being deleted: not acquired until
  // that ends (the delete would remove the node the new attempt adopted).
  std::set<std::string> removing_;
  // Holds the nodes our requests make (ephemeral_ledger): reset by close(),
  // so a create answered after it is deleted by the session.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::set<std::string> handoff_;          // flushed keys not yet owned by another member
  std::uint64_t generation_ = 0;
  bool started_ = false;
  bool joined_ = false;
  bool joining_ = false;
  bool letting_go_now_ = false;
  std::set<std::string> mine_;  // our keys by the assignment (table_.keys_of(us), kept incrementally)
  std::map<std::string, std::size_t> keys_per_member_;  // by the assignment, kept incrementally
  std::uint64_t keys_moved_ = 0;
  bool flushing_ = false;
  bool cancelling_ = false;
  bool connected_ = false;
  bool fetching_ = false;
  bool reconcile_pending_ = false;
  bool ready_check_armed_ = false;
  bool members_pending_ = false;
  bool publish_pending_ = false;
  bool deletes_scheduled_ = false;
  std::vector<std::pair<std::string, std::uint64_t>> pending_deletes_;  // key, generation
  bool creates_scheduled_ = false;
  std::vector<std::pair<std::string, std::uint64_t>> pending_creates_;  // key, generation
  bool looks_scheduled_ = false;
  // Keys waiting for their first look.
  std::map<std::string, std::vector<first_look>> pending_looks_;
  // What the next reconcile() must look at: the keys whose owner changed
  // or that left held_ since the last one, or everything (a change of
  // holding_on() or ready(), a session event, the audit). A pass over every
  // key cost each member milliseconds per event at 2,000 keys (perf, the
  // 100,000-key join); most events touch a few.
  std::set<std::string> unsettled_;
  bool settle_everything_ = true;
  bool was_holding_ = false;  // holding_on() && ready() at the last reconcile
  bool mine_changed_ = false;
  std::vector<done_type> start_waiters_, flush_waiters_, cancel_waiters_;
  boost::asio::steady_timer coalesce_timer_;
  boost::asio::steady_timer members_timer_;
  boost::asio::steady_timer audit_timer_;
  static constexpr int audit_slices = 10;  // audit ticks per reconcile_interval
  std::string audit_cursor_;               // the last key audited ("": from the start)
  boost::asio::steady_timer fetch_timer_;
  boost::asio::steady_timer let_go_timer_;
  boost::asio::steady_timer flush_affinity_timer_;  // retries a flush's affinity 0
  boost::asio::steady_timer ready_timer_;           // looks again while a view is still listing
  boost::asio::steady_timer creates_timer_;         // ends a gathering of owner-node creates
  boost::asio::steady_timer heartbeat_timer_;       // the next lease-extending read
  boost::asio::steady_timer lease_timer_;           // fires when the lease would lapse
  bool heartbeating_ = false;
  bool lease_lapsed_ = false;  // lapsed, and the running keys stopped; until a heartbeat answers
  bool creates_timer_armed_ = false;
  int looks_in_flight_ = 0;                         // exists() and owner listings of keys being acquired, unanswered
  static constexpr std::chrono::milliseconds create_gather_window{2};

  // What other threads read (assigned(), status(), confirm_stop()).
  mutable std::mutex mutex_;
  std::set<std::string> assigned_;
  std::map<std::string, std::int64_t> assigned_tokens_;  // still_valid()
  std::atomic<std::chrono::steady_clock::rep> lease_until_ns_{0};
  std::set<std::string> stopping_;
  std::set<std::string> timed_out_;  // handed over unconfirmed: a late confirm is fine
  divider_status status_;
  std::int64_t affinity_;
};

}  // namespace nominee::detail
