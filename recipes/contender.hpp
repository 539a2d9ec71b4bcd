#pragma once
// The engine under election and lock: a protected ephemeral-sequential node
// in a directory; the lowest sequence holds; each contender watches only its
// predecessor (a release wakes one process, not the herd).
//
// Safety (DESIGN.md, suspension rule): the holder gives up at once when the
// connection is suspended, and also when its lease lapses: every read that
// confirms its node (ephemeralOwner == this session) extends the lease to
// send time + 2/3 of the session timeout. A process frozen (SIGSTOP, a long
// pause) past that finds its lease lapsed the moment it runs again. After a
// reconnect it checks ownership before holding again; after an expiry it
// stands again by itself (configurable).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/session.hpp>

#include "session_link.hpp"
#include "watch_guard.hpp"

namespace nominee::detail {

enum class contender_loss { resigned, suspended, expired, node_deleted, closed };

struct contender_options {
  std::string directory;  // e.g. /nominee/roles/cluster-manager
  std::string name;       // node name before the sequence, e.g. "latch-"
  std::string data;
  bool renominate_after_expiry = true;
};

struct contender_callbacks {
  std::function<void(std::int64_t token, const std::string& node)> acquired;
  std::function<void(contender_loss)> lost;
};

// Orders candidate names by their trailing sequence number alone (what
// Curator's LeaderLatch does): the protected prefix must not decide.
std::int64_t sequence_of(const std::string& name);
std::vector<std::string> sorted_by_sequence(std::vector<std::string> names);

class contender : public std::enable_shared_from_this<contender> {
 public:
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

  contender(session& s, contender_options options, contender_callbacks callbacks, strand_type strand);

  // Before start(): for owners that need weak_from_this() in their callbacks.
  void set_callbacks(contender_callbacks callbacks) { callbacks_ = std::move(callbacks); }
  // Call once, after construction: listens to the session, then stands.
  void start();
  // Listens to the session without standing yet (stand() later).
  void start_listening();
  void stand();
  // Gives up: deletes the node, reports lost(resigned) if holding.
  void resign();
  // For the owner's destructor: no callback runs after this returns, and
  // the node is deleted.
  void stop();

  // True only while the lease runs too: after a freeze (SIGSTOP, a long
  // pause) the strand may not yet have run the lapsed-lease timer, and a
  // thread asking before acting must already get false.
  bool holding() const { return holding_flag_.load() && std::chrono::steady_clock::now() < lease_end(); }
  // Watch events from predecessors seen so far (tests count them: herd-free).
  std::uint64_t predecessor_events() const { return predecessor_events_.load(); }

 private:
  template <class F>
  void on_strand(F f);
  template <class F>
  auto guarded(F f);

  void on_session_event(const session_event& e);
  void create();
  void on_created(std::error_code ec, created_node made);
  void check();
  void watch_predecessor(const std::string& predecessor);
  void verify_and_acquire();
  void acquire(std::chrono::steady_clock::time_point confirmed_at);
  void lose(contender_loss reason);
  void forget_node();
  void node_gone();
  void watch_own_node();
  void delete_node(const owned_node& node);
  void schedule_heartbeat();
  void heartbeat();
  void extend_lease(std::chrono::steady_clock::time_point confirmed_at);
  void retry_later(void (contender::*step)());

  session_link link_;
  contender_options options_;
  contender_callbacks callbacks_;
  strand_type strand_;
  callback_gate gate_;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer lease_timer_;
  boost::asio::steady_timer retry_timer_;
  session::listener_id listener_ = 0;

  // Strand state.
  bool standing_ = false;
  bool creating_ = false;
  bool holding_ = false;
  std::uint64_t epoch_ = 0;  // bumped whenever in-flight replies must be ignored
  std::string node_;         // full path of our node, or empty
  std::int64_t token_ = 0;
  std::int64_t node_session_ = 0;  // the session that owns node_ (its ephemeralOwner)
  int retries_ = 0;

  // Read from other threads.
  std::atomic<bool> holding_flag_{false};
  std::atomic<std::chrono::steady_clock::rep> lease_until_ns_{0};
  std::atomic<std::int64_t> lease_session_{0};  // the session the lease is for (any thread reads it)
  // The heartbeat's lease, or a later one that any reply on the node's
  // session grants (session_link::answered_sent_at).
  std::chrono::steady_clock::time_point lease_end() const;
  void watch_lease_end();
  std::atomic<std::uint64_t> predecessor_events_{0};
  mutable std::mutex node_mutex_;
  owned_node node_for_cleanup_;  // what stop() deletes
  // Holds the nodes our creates make (ephemeral_ledger): reset by stop(),
  // so a create answered after that is deleted by the session.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace nominee::detail
