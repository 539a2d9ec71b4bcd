#pragma once
// Space split: a numeric space [lo, hi) cut into ranges of range_size that
// the members of a fleet process in proportion to their affinity, each range
// done once, with its status kept in ZooKeeper.
//
//   /<root>/splits/<space>                  {lo, hi, range_size, ranges, seeded, abandoned}
//   /<root>/splits/<space>/ranges/<key>     one range's status: {state, attempts, failures,
//                                           by, token, result, error}
//   /<root>/work/space:<space>/...          the divider's nodes: one work key per range
//
// Built on the divider: a range is a work key ("<index>_<lo>_<hi>", the
// index zero-padded so keys sort as the ranges do), so a range runs on at
// most one member at a time and a dead member's ranges move to the others
// with its session. A member starts a range by writing its status (running,
// by, token, attempts + 1) with a compare-and-set; every later write of the
// run (done, failed) is fenced by the status node's version: it is set at
// the version of the run's own last write, so once another member started
// the range (its start writes the status), the old owner's outcome is
// refused. (The same multi checks that our own owner node for the key
// exists, which only shows our session still holds it.)
//
// A done range (or one that failed max_failures times) leaves the work set:
// it stops everywhere. A failed or timed-out range is released to the next
// member in its ranking (and taken back if nobody else can run it).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/divider.hpp>
#include <nominee/session.hpp>

namespace nominee {

// Most ranges a space may have: every status lives under one parent, and
// its child list must stay well below jute.maxbuffer (1 MB).
inline constexpr std::uint64_t max_space_ranges = 10000;
// Longest result (or failure reason) a range records, in bytes.
inline constexpr std::size_t max_range_result_bytes = 64 * 1024;

// One range: the values lo, lo + 1, ..., hi - 1.
struct space_range {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  std::uint64_t index = 0;  // position in the space, from 0
  std::string key;          // its work key, e.g. "0007_700_800"
  std::uint64_t size() const noexcept { return static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo); }
  friend bool operator==(const space_range&, const space_range&) = default;
};

enum class range_state {
  pending,  // waiting for a member (never run, or released after a failure)
  running,  // a member started it (it may have died since: the divider moves it on)
  done,     // finished with a result; it left the work set
  failed,   // failed max_failures times; it left the work set
};
std::string_view to_string(range_state state) noexcept;

// A range's status node.
struct range_status {
  range_state state = range_state::pending;
  int attempts = 0;        // starts on some member (a resume after a reconnect does not count)
  int failures = 0;        // failed outcomes and timeouts
  std::string by;          // member of the last start or outcome
  std::int64_t token = 0;  // that member's fencing token for the range
  std::string result;      // what the range function returned with done()
  std::string error;       // the last failure's reason
  friend bool operator==(const range_status&, const range_status&) = default;
};

// What the range function gets.
struct range_run {
  space_range range;
  std::int64_t token = 0;  // fencing token: the divider's owner node's czxid (grows per range)
  std::string owner_node;  // the divider's owner node
  int attempt = 0;         // range_status::attempts after this start (1 on the first)
  // Requested when the range must stop: it moved, was removed (done
  // elsewhere, abandoned), timed out, the session was suspended, or the
  // space_split is closing. Return soon after (range_outcome::stopped()).
  std::stop_token stop;
};

// What the range function returns.
struct range_outcome {
  enum class kind { done, failed, stopped };
  kind what = kind::stopped;
  std::string text;  // done: the result; failed: the reason

  static range_outcome done(std::string result = {}) { return {kind::done, std::move(result)}; }
  static range_outcome failed(std::string why) { return {kind::failed, std::move(why)}; }
  // Gave up because stop was requested: nothing is recorded (a stopped()
  // without a stop request counts as a failure).
  static range_outcome stopped() { return {kind::stopped, {}}; }
};

// Counts of the ranges' states, read from ZooKeeper.
struct space_progress {
  std::size_t total = 0;
  std::size_t pending = 0;
  std::size_t running = 0;
  std::size_t done = 0;
  std::size_t failed = 0;
  bool abandoned = false;  // async_abandon was called: pending ranges will not run
  bool finished() const noexcept { return total > 0 && done + failed == total; }
};

// This member's counts since it was constructed.
struct space_split_stats {
  std::uint64_t started = 0;    // range function calls
  std::uint64_t completed = 0;  // done outcomes recorded
  std::uint64_t failed = 0;     // failures recorded (timeouts included)
  std::uint64_t timed_out = 0;  // runs over range_timeout
  std::uint64_t stopped = 0;    // runs stopped by the divider (moved, removed, suspended, ...)
  std::uint64_t refused = 0;    // outcomes refused by the fence: another member had started the range
  std::uint64_t skipped = 0;    // ranges the divider gave us that were finished already
  std::size_t running = 0;      // range functions running now
};

struct space_split_options {
  std::string root = "/nominee";
  std::string space;  // one znode name, e.g. "nonces-17"
  // The space [lo, hi) and its cut: ceil((hi - lo) / range_size) ranges, at
  // most max_space_ranges; the last one may be shorter. Every member of a
  // space must give the same three (the first to seed records them; a
  // different definition fails async_start with invalid_option).
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  std::int64_t range_size = 0;

  std::string member_id;      // one znode name, unique among the space's live members
  std::int64_t affinity = 1;  // >= 0; 0 = no ranges
  std::string endpoint;

  // A run longer than this is stopped, counted as a failure and released.
  std::chrono::milliseconds range_timeout{60000};
  // A range that failed this many times is failed for good.
  int max_failures = 3;
  // Range functions this member runs at once, each on a thread of its own.
  unsigned concurrency = 1;
  // async_start seeds the space first (create-if-absent, idempotent).
  bool seed = true;

  // Passed to the divider (see divider_options).
  std::chrono::milliseconds coalesce_window{20};
  std::chrono::milliseconds reconcile_interval{30000};
  std::chrono::milliseconds stop_timeout{30000};
};

namespace detail {
class space_split_core;
}

class space_split {
 public:
  // Runs on one of the space_split's own threads (options.concurrency of
  // them, so concurrently with itself when that is over 1); must return
  // soon after run.stop is requested. An exception counts as failed(what()).
  using range_function = std::function<range_outcome(const range_run& run)>;

  // Validates (throws nominee::error naming the bad field and value: an
  // empty or malformed space, lo >= hi, range_size <= 0, too many ranges,
  // affinity < 0, ...) before anything is sent. Nothing happens until
  // async_start (or async_seed, or a read).
  space_split(session& s, space_split_options options, range_function on_range);
  // Stops every range function (stop requested) and waits for each to
  // return, then leaves like a dying process (the divider's nodes go at
  // once). Prefer async_stop first. No callback runs after it returns.
  ~space_split();
  space_split(const space_split&) = delete;
  space_split& operator=(const space_split&) = delete;

  using completion = detail::completion<std::error_code>;
  using progress_completion = detail::completion<std::error_code, space_progress>;
  using statuses_completion = detail::completion<std::error_code, std::vector<std::pair<space_range, range_status>>>;

  // Seeds the space when options.seed (records the definition, creates the
  // ranges' status nodes and work keys that are missing; a range done or
  // failed stays so), then joins the divider. Completes once joined.
  template <class Token>
  auto async_start(Token&& token) {
    return initiate(token, [this](completion done) { start(std::move(done)); });
  }
  // Only the seeding: for an admin or coordinator that does not process ranges.
  template <class Token>
  auto async_seed(Token&& token) {
    return initiate(token, [this](completion done) { seed(std::move(done)); });
  }
  // Hands every range over (the divider's flush), then leaves. Range
  // functions get their stop request first; each range is confirmed to the
  // divider once its function returned and its outcome was written.
  template <class Token>
  auto async_stop(Token&& token) {
    return initiate(token, [this](completion done) { stop(std::move(done)); });
  }
  // Gives the space up: marks it abandoned and removes the ranges not yet
  // finished from the work set, so they stop on every member. Their status
  // stays, or goes back to, pending: a member whose run of a range stops for
  // the removal writes pending (fenced) once its function returned.
  template <class Token>
  auto async_abandon(Token&& token) {
    return initiate(token, [this](completion done) { abandon(std::move(done)); });
  }

  // Counts of the ranges' states, read from ZooKeeper now.
  template <class Token>
  auto async_progress(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, space_progress)>(
        [this](auto handler) { progress(progress_completion(std::move(handler), executor())); }, token);
  }
  // Completes once every range is done or failed for good, or the space
  // was abandoned (with the progress then). Watches the work set.
  template <class Token>
  auto async_wait_finished(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, space_progress)>(
        [this](auto handler) { wait_finished(progress_completion(std::move(handler), executor())); }, token);
  }
  // Every range with its status, in order.
  template <class Token>
  auto async_statuses(Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(std::error_code, std::vector<std::pair<space_range, range_status>>)>(
        [this](auto handler) { statuses(statuses_completion(std::move(handler), executor())); }, token);
  }

  // The ranges of a space, in order (throws nominee::error as the
  // constructor does for a bad lo, hi or range_size).
  static std::vector<space_range> split(std::int64_t lo, std::int64_t hi, std::int64_t range_size);

  // The keys of the ranges whose functions run here now.
  std::set<std::string> running() const;
  space_split_stats stats() const;
  // The divider underneath (members, shares, keys).
  divider_status members() const;
  const space_split_options& options() const noexcept;

 private:
  template <class Token, class Start>
  auto initiate(Token& token, Start start) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [start = std::move(start)](auto handler, boost::asio::any_io_executor ex) mutable {
          start(completion(std::move(handler), ex));
        },
        token, executor());
  }
  boost::asio::any_io_executor executor() const;
  void start(completion done);
  void seed(completion done);
  void stop(completion done);
  void abandon(completion done);
  void progress(progress_completion done);
  void wait_finished(progress_completion done);
  void statuses(statuses_completion done);

  std::shared_ptr<detail::space_split_core> core_;
};

}  // namespace nominee
