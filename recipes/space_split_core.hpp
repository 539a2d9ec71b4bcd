#pragma once
// The space split's state machine (see space_split.hpp for the protocol), on
// one strand, over a divider. Per range the divider gave us (runs_):
//
//   claiming   reading the status and writing "running" (compare-and-set)
//   queued     waiting for one of our threads
//   executing  the range function runs; the range_timeout timer is armed
//   recording  the outcome's fenced write is in flight
//   idle       nothing to do (recorded, skipped, or given up)
//
// A stop from the divider requests the run's stop at once and is confirmed
// once the run is not executing or recording any more.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/divider.hpp>
#include <nominee/space_split.hpp>

#include "range_keys.hpp"
#include "session_link.hpp"
#include "watch_guard.hpp"
#include "work_keys.hpp"

namespace nominee::detail {

class space_split_core : public std::enable_shared_from_this<space_split_core> {
 public:
  using done_type = completion<std::error_code>;
  using progress_done = completion<std::error_code, space_progress>;
  using statuses_done = completion<std::error_code, std::vector<std::pair<space_range, range_status>>>;

  space_split_core(session& s, space_split_options options, space_split::range_function on_range);
  // After construction (the divider's callbacks need weak_from_this).
  void open();
  // No strand handler or range function runs after this returns.
  void close();

  const boost::asio::any_io_executor& executor() const { return executor_; }
  const space_split_options& options() const { return options_; }

  void start(done_type done);
  void seed(done_type done);
  void stop(done_type done);
  void abandon(done_type done);
  void progress(progress_done done);
  void wait_finished(progress_done done);
  void statuses(statuses_done done);

  std::set<std::string> running() const;
  space_split_stats stats() const;
  divider_status members() const;

 private:
  struct job {
    std::string key;
    std::uint64_t run_id = 0;
    range_run run;
    // queued -> taken (a thread runs it) or cancelled (the strand confirmed
    // its stop): whichever comes first wins.
    enum : int { queued, taken, cancelled };
    std::atomic<int> state{queued};
    bool take() {
      int expected = queued;
      return state.compare_exchange_strong(expected, taken);
    }
    bool cancel() {
      int expected = queued;
      return state.compare_exchange_strong(expected, cancelled);
    }
  };
  enum class step { claiming, queued, executing, recording, idle };
  struct run_state {
    std::uint64_t id = 0;
    std::optional<space_range> range;
    key_lease lease;
    step at = step::claiming;
    std::int32_t version = -1;  // the status node's version after our last write
    range_status status;        // what we last wrote
    std::stop_source stop;
    std::shared_ptr<job> queued;
    bool stopping = false;  // the divider asked for the stop: confirm once settled
    bool removed = false;   // ... because the key left the work set (done elsewhere, abandoned)
    // At most one fenced write in flight: one asked for meanwhile (a late
    // outcome after a timeout's failure) runs once it completed.
    bool writing = false;
    std::function<void(space_split_core&)> after_write;
    bool timed_out = false;
    bool failure_recorded = false;
    int claims = 0;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  // A range we released: taken back if nobody else ends up owning it.
  struct released_key {
    std::string owner_node;
    int absent = 0;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  using status_list = std::vector<std::pair<space_range, std::optional<range_status>>>;
  using status_reply = std::function<void(space_split_core&, std::error_code, status_list)>;
  template <class... Args>
  using tracked = std::function<void(std::error_code, Args...)>;

  template <class F>
  void later(F f);
  template <class F>
  auto on_strand(F f);
  template <class... Args>
  tracked<Args...> track(completion<std::error_code, Args...> done);
  void after(std::chrono::milliseconds delay, std::function<void(space_split_core&)> f);

  std::string status_path(const std::string& key) const;

  // Divider events.
  void on_start(const key_lease& lease);
  void on_stop(const std::string& key, stop_reason reason);
  run_state* find(const std::string& key, std::uint64_t id);
  void claim(const std::string& key, std::uint64_t id);
  void claimed(const std::string& key, std::uint64_t id, const node& n);
  void enqueue(const std::string& key, run_state& r);
  void began(const std::string& key, std::uint64_t id);
  void timed_out(const std::string& key, std::uint64_t id);
  void finished(const std::string& key, std::uint64_t id, range_outcome outcome);
  void record_failure(const std::string& key, std::uint64_t id, std::string why, std::function<void(space_split_core&)> then);
  void write_fenced(const std::string& key, std::uint64_t id, range_status next, int tries,
                    std::function<void(space_split_core&, bool accepted)> then);
  void send_fenced(const std::string& key, std::uint64_t id, range_status next, int tries,
                   std::function<void(space_split_core&, bool accepted)> then);
  void recorded_stop(const std::string& key, std::uint64_t id);
  void settle(const std::string& key, std::uint64_t id);
  void confirm(const std::string& key);
  void remove_key(const std::string& key, int tries = 0);
  void release_key(const std::string& key, std::uint64_t id, const std::string& owner_node, int tries = 0);
  void restart(const std::string& key, std::uint64_t id);
  void check_released(const std::string& key);

  // ZooKeeper reads and the seeding.
  void read_statuses(status_reply reply);
  void read_progress(std::function<void(space_split_core&, std::error_code, space_progress)> then);
  void read_space(std::function<void(space_split_core&, std::error_code, std::optional<space_record>, std::int32_t)> then);
  void update_space(std::function<void(space_record&)> change, int tries, tracked<> done);
  void seed_ranges(tracked<> done);
  void create_statuses(std::vector<std::string> paths, std::size_t from, tracked<> done);
  void create_one_by_one(std::vector<std::string> paths, std::size_t i, std::size_t end, std::size_t from, tracked<> done);
  void check_finished();
  void arm_finish_check(std::chrono::milliseconds delay);

  // Threads.
  void work();
  void note(const std::function<void(space_split_stats&)>& change);

  session* session_;
  session_link link_;
  boost::asio::any_io_executor executor_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  callback_gate gate_;
  const space_split_options options_;
  const space_split::range_function on_range_;
  const space_definition space_;
  const std::string space_path_;
  const std::string ranges_path_;
  const std::string work_base_;

  // Strand state.
  std::unique_ptr<divider> divider_;
  std::map<std::string, run_state> runs_;
  std::map<std::string, released_key> released_;
  std::uint64_t next_run_ = 0;
  std::unique_ptr<key_set_view> keys_view_;
  std::vector<tracked<space_progress>> finish_waiters_;
  std::shared_ptr<boost::asio::steady_timer> finish_timer_;
  bool finish_read_in_flight_ = false;

  // The threads and their queue.
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<std::shared_ptr<job>> queue_;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;

  // Requests not yet completed: close() completes them with cancelled.
  std::mutex pending_mutex_;
  bool closed_ = false;
  std::uint64_t next_pending_ = 0;
  std::map<std::uint64_t, std::function<void()>> pending_;

  // What other threads read.
  mutable std::mutex mutex_;
  space_split_stats stats_;
  std::set<std::string> running_;
};

}  // namespace nominee::detail
