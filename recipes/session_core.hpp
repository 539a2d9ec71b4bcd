#pragma once
// The engine behind nominee::session.
//
// Threads: the C client's completion thread only posts to `strand_` (session
// state, replies, watch events); all state transitions, retries and timers
// run on that strand; user handlers are posted to their own executors. The
// mutex guards what user threads read directly (state, ids) and the current
// handle, and is never held across a call into the C client that blocks.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/acl.hpp>
#include <nominee/detail/completion.hpp>
#include <nominee/session.hpp>
#include <nominee/session_options.hpp>
#include <nominee/session_state.hpp>
#include <nominee/watch_event.hpp>

#include "ephemeral_ledger.hpp"
#include "zookeeper_handle.hpp"

namespace nominee::detail {

class session_core : public std::enable_shared_from_this<session_core> {
 public:
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

  // Checks the options (throws nominee::error naming the bad one).
  static std::shared_ptr<session_core> create(boost::asio::any_io_executor executor, session_options options);
  ~session_core();

  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
  const strand_type& strand() const noexcept { return strand_; }
  const session_options& options() const noexcept { return options_; }
  const acl& default_acl() const noexcept { return default_acl_; }
  std::mt19937_64& random() noexcept { return random_; }  // strand only

  session_state state() const;
  std::int64_t session_id() const;
  std::string session_password() const;
  std::chrono::milliseconds negotiated_timeout() const;
  std::string current_server() const;
  bool closed() const;
  session_statistics statistics() const;
  void record_operation(std::chrono::nanoseconds elapsed, bool failed);

  session::listener_id add_listener(session::listener on_event);
  void remove_listener(session::listener_id id);

  void close();
  void wait_connected(std::chrono::milliseconds timeout, completion<std::error_code> done);

  // The handle requests go to now; null once closed (or while none is open).
  std::shared_ptr<zookeeper_handle> current_handle() const;
  // The newest handle's generation (its handle may not be published yet).
  std::uint64_t generation() const;
  // The generation of the handle that holds this session, if it is the
  // current one; 0 if the session is not ours now (it ended, or a new
  // handle is opening). A request bound to a session uses it.
  std::uint64_t generation_of(std::int64_t session_id) const;
  // When the newest request the server answered on this session was sent
  // (zookeeper_handle::note_answer); epoch (0) if none, or if the session
  // is not the current one.
  std::chrono::steady_clock::time_point answered_sent_at(std::int64_t session_id) const;

  // --- the ephemeral ledger (ephemeral_ledger.hpp), strand only ---------
  // A create made this node for `holder`: recorded, or deleted at once if
  // the holder is gone already.
  void record_ephemeral(const owned_node& node, const node_holder& holder);
  ephemeral_ledger& ledger() noexcept { return ledger_; }
  void count_orphan_removed();

  // --- watch registry ---------------------------------------------------
  // A watch's id travels through the C client as its context; an id that is
  // no longer registered (fired, cancelled, flushed) is ignored, so repeated
  // session events and a close can never call a watcher twice or late.
  std::uint64_t register_watch(session::watcher on_change, std::string path);
  // The server accepted the watch on this handle's session: from now on an
  // expiry of that session ends it with session_lost. (Until then, an
  // expiry leaves it alone: its request will be retried on the next session.)
  void arm_watch(std::uint64_t id, std::uint64_t generation);
  void cancel_watch(std::uint64_t id);
  static void watch_trampoline(zhandle_t* zh, int type, int state, const char* path, void* context);

  // From the C client's completion thread.
  void post_session_state(std::uint64_t generation, int zoo_state);

 private:
  struct watch_entry {
    session::watcher on_change;
    std::string path;
    std::uint64_t generation = 0;
  };
  struct connect_waiter {
    completion<std::error_code> done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  session_core(boost::asio::any_io_executor executor, session_options options);
  void open_handle();  // a fresh session, on the strand (or in create)
  void on_session_state(std::uint64_t generation, int zoo_state);  // strand
  void apply_session_state(std::uint64_t generation, int zoo_state);  // strand
  void set_state(session_state next);                              // strand
  void notify(const session_event& event);                         // strand
  void fire_watch(std::uint64_t id, watch_event event);            // strand
  void flush_watches(std::uint64_t generation, bool all);           // strand
  void finish_waiters(std::error_code ec);                          // strand
  void retire_handle(std::shared_ptr<zookeeper_handle> handle);     // close it off the strand
  void reopen_after_expiry(int attempt);                            // strand
  void arm_orphan_audit();                                          // strand
  void audit_orphans();                                             // strand

  boost::asio::any_io_executor executor_;
  strand_type strand_;
  session_options options_;
  acl default_acl_;
  std::mt19937_64 random_{std::random_device{}()};

  mutable std::mutex mutex_;
  mutable std::mutex statistics_mutex_;  // apart: every operation takes it
  session_statistics statistics_;
  std::shared_ptr<zookeeper_handle> handle_;
  std::uint64_t generation_ = 0;
  // States the current handle reported before open_handle published it.
  static constexpr int no_new_state = std::numeric_limits<int>::min();
  std::vector<int> early_states_;
  session_state state_ = session_state::connecting;
  std::int64_t session_id_ = 0;
  std::uint64_t session_generation_ = 0;  // the handle that got session_id_
  std::string password_;
  std::chrono::milliseconds negotiated_timeout_{0};
  bool closed_ = false;
  std::map<session::listener_id, std::shared_ptr<session::listener>> listeners_;
  session::listener_id next_listener_id_ = 1;
  std::unordered_map<std::uint64_t, watch_entry> watches_;
  std::uint64_t next_watch_id_ = 1;
  // Threads closing retired handles; `done` lets finished ones be joined early.
  struct closer {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<closer> closers_;

  std::vector<connect_waiter> waiters_;  // strand only
  std::unique_ptr<boost::asio::steady_timer> reopen_timer_;  // strand only
  ephemeral_ledger ledger_;                                  // strand only
  boost::asio::steady_timer orphan_timer_;                   // strand only
  bool orphan_audit_armed_ = false;                          // strand only
};

}  // namespace nominee::detail
