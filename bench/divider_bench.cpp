// divider_bench: how fast and how precisely the divider moves work keys
// when members come and go.
//
//  - rebalance: 1,000 keys over 4 members (each its own session, in this
//    process). Each repeat: a 5th member joins; it leaves again gracefully
//    (async_cancel); a 5th member in a child process (this binary with
//    --child) joins and is killed with SIGKILL, so its session expires on the
//    server after --kill-session-timeout-ms (the clock runs from its last
//    heartbeat, so "minus session timeout" can be negative).
//  - scale: 10,000 keys over 4 members, then 4 -> 5 -> 4; the time to the
//    first full distribution after async_add_work, and join/leave
//    convergence. The large run: --large (100,000 keys over 50 members).
//    Every member shares this machine's cores: with 50 members, what one
//    member computes per change is paid 50 times over.
//
// Per change it reports: convergence (from the change until every key is
// owned exactly once, every member's status() shows the new member count
// and the full key count with nothing acquiring or stopping, and no callback
// came for --quiet-ms; the figure is the time of the last callback), when
// the membership was seen, keys moved against the ideal and against what the
// assignment itself dictates, needless stops, starts and moves (goal 0), how
// long each moved key had no owner (the old owner's on_stop, which confirms
// at once, or the kill, until the new owner's on_start), and ZooKeeper
// requests and responses per moved key (the server's mntr packet counters,
// pings included). The owners after each change are checked against every
// member's assigned() and against the library's own assignment function.
//
// Prints one JSON object, with the goals and whether they were met.
// Percentiles are nearest-rank over the repeats (p99 of 10 runs is the max).
//
//   divider_bench [--repeats N] [--keys N] [--members N] [--no-kill]
//                 [--scale-keys N] [--scale-members N] [--scale-repeats N] [--large] [--no-scale] [--no-rebalance]
//                 [--coalesce-ms MS] [--quiet-ms MS] [--kill-session-timeout-ms MS]
//                 [--confirm inline|post] [--no-fsync] [--io-threads T] [--log LEVEL] [--verbose]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <nominee/divider.hpp>
#include <nominee/error.hpp>
#include <nominee/log.hpp>
#include <nominee/session.hpp>

#include "assignment.hpp"  // recipes/: the library's own owner_of
#include "bench_stats.hpp"
#include "zookeeper_launcher.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using nominee::bench::clock_type;
using nominee::bench::fixed;
using nominee::bench::ms_between;
using nominee::bench::summarize;
using nominee::bench::summary;

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string summary_json(const summary& s, int digits = 2) {
  if (s.count == 0) return "null";
  return "{\"p50\": " + fixed(s.p50, digits) + ", \"p99\": " + fixed(s.p99, digits) + ", \"max\": " +
         fixed(s.max, digits) + ", \"min\": " + fixed(s.min, digits) + ", \"count\": " + std::to_string(s.count) + "}";
}

// --verbose: what the bench is doing, with seconds since start, on stderr.
std::atomic<bool> verbose{false};
const clock_type::time_point bench_start = clock_type::now();
void progress(const std::string& what) {
  if (!verbose) return;
  std::fprintf(stderr, "[%8.3f] %s\n", ms_between(bench_start, clock_type::now()) / 1000.0, what.c_str());
}

std::string work_key(std::size_t i) { return "key-" + std::to_string(i); }

// "key-<i>" -> i, or nullopt for a key the bench never added.
std::optional<std::uint32_t> key_index(std::string_view key) {
  if (key.substr(0, 4) != "key-") return std::nullopt;
  std::uint32_t i = 0;
  auto [end, ec] = std::from_chars(key.data() + 4, key.data() + key.size(), i);
  if (ec != std::errc{} || end != key.data() + key.size()) return std::nullopt;
  return i;
}

// --- who owns what, from the callbacks ------------------------------------

struct key_event {
  enum kind_type : std::uint8_t { start, stop, killed };
  clock_type::time_point at;
  int member = -1;
  std::uint32_t key = 0;
  kind_type kind = start;
  nominee::stop_reason reason = nominee::stop_reason::moved;
};

// Every on_start/on_stop of every member, in process or not. A start while
// another member owns the key is a double ownership (the one thing the
// divider must never allow); a stop by a member that does not own the key is
// a stray stop.
class ownership {
 public:
  explicit ownership(std::size_t keys) : owner_(keys, -1), unowned_(keys) {}

  void started(int member, std::string_view key, clock_type::time_point at) {
    auto i = key_index(key);
    std::lock_guard lock(mutex_);
    if (!i || *i >= owner_.size()) {
      ++unknown_keys_;
      return;
    }
    if (owner_[*i] == member) ++stray_starts_;  // started twice without a stop
    else if (owner_[*i] != -1) ++double_owned_;
    else --unowned_;
    owner_[*i] = member;
    record({at, member, *i, key_event::start, {}});
  }

  void stopped(int member, std::string_view key, nominee::stop_reason reason, clock_type::time_point at) {
    auto i = key_index(key);
    std::lock_guard lock(mutex_);
    if (!i || *i >= owner_.size()) {
      ++unknown_keys_;
      return;
    }
    if (owner_[*i] != member) {
      ++stray_stops_;
    } else {
      owner_[*i] = -1;
      ++unowned_;
    }
    record({at, member, *i, key_event::stop, reason});
  }

  // The member died at `at`: each key it held is unowned from then on.
  void killed(int member, clock_type::time_point at) {
    std::lock_guard lock(mutex_);
    for (std::uint32_t i = 0; i < owner_.size(); ++i)
      if (owner_[i] == member) {
        owner_[i] = -1;
        ++unowned_;
        record({at, member, i, key_event::killed, {}});
      }
  }

  // Clears the event log; returns the owners now.
  std::vector<int> begin_phase(clock_type::time_point now) {
    std::lock_guard lock(mutex_);
    events_.clear();
    last_event_ = now;
    return owner_;
  }
  std::vector<int> owners() const {
    std::lock_guard lock(mutex_);
    return owner_;
  }
  std::vector<key_event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::size_t event_count() const {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  std::size_t unowned() const {
    std::lock_guard lock(mutex_);
    return unowned_;
  }
  clock_type::time_point last_event() const {
    std::lock_guard lock(mutex_);
    return last_event_;
  }
  struct anomalies {
    std::uint64_t double_owned = 0, stray_stops = 0, stray_starts = 0, unknown_keys = 0;
  };
  anomalies counts() const {
    std::lock_guard lock(mutex_);
    return {double_owned_, stray_stops_, stray_starts_, unknown_keys_};
  }
  std::size_t size() const { return owner_.size(); }

 private:
  void record(key_event e) {
    events_.push_back(e);
    last_event_ = std::max(last_event_, e.at);
  }

  mutable std::mutex mutex_;
  std::vector<int> owner_;
  std::size_t unowned_;
  std::vector<key_event> events_;
  clock_type::time_point last_event_{};
  std::uint64_t double_owned_ = 0, stray_stops_ = 0, stray_starts_ = 0, unknown_keys_ = 0;
};

// --- configuration ----------------------------------------------------------

struct config {
  int repeats = 10;
  std::size_t keys = 1000;
  int members = 4;
  bool kill = true;
  bool rebalance = true;
  bool scale = true;
  std::size_t scale_keys = 10000;
  int scale_members = 4;
  int scale_repeats = 3;
  std::chrono::milliseconds coalesce{5};
  std::chrono::milliseconds quiet{200};
  std::chrono::milliseconds kill_session_timeout{2000};
  std::chrono::milliseconds member_session_timeout{10000};
  bool confirm_inline = true;
  bool fsync = true;
  int io_threads = 2;
  nominee::log_level log = nominee::log_level::error;
};

// --- an in-process member ---------------------------------------------------

struct member {
  int index = -1;
  std::string id;
  std::unique_ptr<nominee::session> session;
  std::unique_ptr<nominee::divider> divider;
  // What the callbacks confirm on; null while the divider is being replaced.
  std::atomic<nominee::divider*> live{nullptr};
  std::atomic<std::uint64_t> confirm_errors{0};
};

// --- a member in a child process (for kill -9) -----------------------------

std::string self_path() {
  std::array<char, 4096> buf{};
  auto n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

// This binary again, with --child: one divider member whose callbacks come
// back as lines on a pipe ("+ <ns> <key>", "- <ns> <reason> <key>", with
// steady_clock nanoseconds, the same clock in both processes on Linux).
// Killed with SIGKILL and reaped by PID.
class child_member {
 public:
  child_member(const std::vector<std::string>& args, ownership& owners, int index)
      : owners_(owners), index_(index) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::vector<std::string> argv_strings = args;
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_adddup2(&files, fds[1], 1);
    int rc = ::posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
    }
    fd_ = fds[0];
    reader_ = std::thread([this] { read_events(); });
  }
  ~child_member() { kill(); }
  child_member(const child_member&) = delete;
  child_member& operator=(const child_member&) = delete;

  bool wait_ready(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return ready_ || ended_; }) && ready_;
  }
  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }
  // SIGKILL, reap, and read what the child wrote before it died. Returns
  // when the signal was sent.
  clock_type::time_point kill() {
    auto at = clock_type::now();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return at;
  }

 private:
  void read_events() {
    std::string buffer;
    std::array<char, 65536> chunk{};
    while (true) {
      auto n = ::read(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk.data(), static_cast<std::size_t>(n));
      std::size_t begin = 0;
      for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', begin)) {
        handle(std::string_view(buffer).substr(begin, nl - begin));
        begin = nl + 1;
      }
      buffer.erase(0, begin);
    }
    std::lock_guard lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  void handle(std::string_view line) {
    if (line == "ready") {
      std::lock_guard lock(mutex_);
      ready_ = true;
      changed_.notify_all();
      return;
    }
    if (line.substr(0, 6) == "error ") {
      std::lock_guard lock(mutex_);
      failure_ = std::string(line.substr(6));
      return;
    }
    // "+ <ns> <key>" or "- <ns> <reason> <key>"
    if (line.size() < 3 || (line[0] != '+' && line[0] != '-')) return;
    auto rest = line.substr(2);
    std::int64_t ns = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ns);
    if (ec != std::errc{} || p == rest.data() + rest.size()) return;
    rest = rest.substr(static_cast<std::size_t>(p - rest.data()) + 1);
    clock_type::time_point at{std::chrono::duration_cast<clock_type::duration>(std::chrono::nanoseconds(ns))};
    if (line[0] == '+') {
      owners_.started(index_, rest, at);
      return;
    }
    int reason = 0;
    auto [q, ec2] = std::from_chars(rest.data(), rest.data() + rest.size(), reason);
    if (ec2 != std::errc{} || q == rest.data() + rest.size()) return;
    rest = rest.substr(static_cast<std::size_t>(q - rest.data()) + 1);
    owners_.stopped(index_, rest, static_cast<nominee::stop_reason>(reason), at);
  }

  ownership& owners_;
  int index_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool ready_ = false;
  bool ended_ = false;
  std::string failure_;
};

// The child's side: args are hosts, root, prefix, member id, session
// timeout (ms), coalesce window (ms).
int child_main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto parent = ::getppid();
  std::mutex out_mutex;
  auto emit = [&out_mutex](const std::string& line) {
    std::lock_guard lock(out_mutex);
    std::string l = line + "\n";
    const char* p = l.data();
    std::size_t left = l.size();
    while (left > 0) {
      auto n = ::write(1, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  };
  auto stamp = [] { return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              clock_type::now().time_since_epoch())
                                              .count()); };
  if (argc != 8) {
    emit("error child: wrong arguments");
    return 2;
  }
  try {
    nominee::set_log_level(nominee::log_level::error);
    nominee::session_options so;
    so.hosts = argv[2];
    so.session_timeout = std::chrono::milliseconds(std::atoi(argv[6]));
    nominee::session s(so);
    s.wait_connected(15s);
    nominee::divider_options d;
    d.root = argv[3];
    d.prefix = argv[4];
    d.member_id = argv[5];
    d.coalesce_window = std::chrono::milliseconds(std::atoi(argv[7]));
    std::atomic<nominee::divider*> live{nullptr};
    nominee::divider::callbacks cb;
    cb.on_start = [&](const nominee::key_lease& lease) { emit("+ " + stamp() + " " + lease.key); };
    cb.on_stop = [&](const std::string& key, nominee::stop_reason reason) {
      emit("- " + stamp() + " " + std::to_string(static_cast<int>(reason)) + " " + key);
      if (auto* dv = live.load()) dv->confirm_stop(key);
    };
    nominee::divider div(s, d, cb);
    live = &div;
    auto started = div.async_start(boost::asio::use_future);
    if (started.wait_for(30s) != std::future_status::ready) {
      emit("error child: async_start did not complete within 30 s");
      return 1;
    }
    started.get();
    emit("ready");
    // Lives until killed; a bound in case nobody does.
    auto end = clock_type::now() + 30min;
    while (clock_type::now() < end && ::getppid() == parent) std::this_thread::sleep_for(100ms);
    live = nullptr;
    return 0;
  } catch (const std::exception& e) {
    emit(std::string("error child: ") + e.what());
    return 1;
  }
}

// --- ZooKeeper's own counters ----------------------------------------------

struct packets {
  std::int64_t received = -1, sent = -1;
};

std::int64_t mntr_value(const std::string& text, std::string_view name) {
  auto at = text.find(std::string(name) + "\t");
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + name.size() + 1);
}

packets server_packets(const nominee::testing::zookeeper_cluster& cluster) {
  auto text = cluster.four_letter_word(0, "mntr");
  return {mntr_value(text, "zk_packets_received"), mntr_value(text, "zk_packets_sent")};
}

// --- one change, measured ----------------------------------------------------

enum class change { distribute, join, leave, kill };

const char* to_string(change c) {
  switch (c) {
    case change::distribute: return "distribute";
    case change::join: return "join";
    case change::leave: return "leave";
    case change::kill: return "kill";
  }
  return "?";
}

struct phase_result {
  change kind = change::join;
  double convergence_ms = 0;        // the change -> the last callback of the phase
  double membership_seen_ms = -1;   // the change -> every member's status() shows the new member count
  double after_membership_seen_ms = -1;  // membership seen by all -> the last callback
  double membership_seen_by_others_ms = -1;  // the same, leaving out the joiner itself
  double first_stop_ms = -1, first_start_ms = -1;  // the change -> the first on_stop / on_start
  double acknowledged_ms = -1;      // async_start / async_cancel / async_add_work completed
  std::size_t moved = 0;            // keys whose owner changed
  std::size_t assignment_moved = 0; // keys the assignment function moves for this change
  double ideal_moved = 0;           // keys / members-with-the-larger-count
  std::uint64_t stops = 0, starts = 0;
  std::uint64_t needless_stops = 0;   // stops of keys whose owner did not change
  std::uint64_t needless_starts = 0;  // starts of keys whose owner did not change
  std::uint64_t needless_moves = 0;   // moved keys that did not go to the joiner / come from the leaver
  std::uint64_t double_owned = 0, stray_stops = 0, stray_starts = 0, unknown_keys = 0;
  std::uint64_t assignment_mismatches = 0;  // final owner != owner_of(key, members)
  std::uint64_t assigned_mismatches = 0;    // the callbacks' view != the members' assigned()
  std::vector<double> unowned_moved_ms;     // per moved key: total time with no owner
  double longest_unowned_ms = 0;            // any key
  double requests_per_moved_key = -1, responses_per_moved_key = -1;
  std::map<std::string, std::uint64_t> stop_reasons;
};

struct phase_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One divider prefix, its members and the bookkeeping of one scenario.
class scenario {
 public:
  scenario(const config& cfg, boost::asio::any_io_executor executor, const nominee::testing::zookeeper_cluster& cluster,
           std::string root, std::string prefix, std::size_t keys)
      : cfg_(cfg),
        executor_(std::move(executor)),
        cluster_(cluster),
        root_(std::move(root)),
        prefix_(std::move(prefix)),
        keys_(keys),
        owners_(keys) {
    for (std::size_t i = 0; i < keys; ++i) key_names_.push_back(work_key(i));
  }
  ~scenario() { tear_down(); }

  ownership& owners() { return owners_; }
  const std::string& root() const { return root_; }
  const std::string& prefix() const { return prefix_; }
  std::size_t keys() const { return keys_; }

  // A session for member slot `index` (created once, reused by later dividers in that slot).
  member& slot(int index) {
    while (static_cast<int>(members_.size()) <= index) members_.push_back(std::make_unique<member>());
    auto& m = *members_[index];
    m.index = index;
    if (!m.session) {
      nominee::session_options so;
      so.hosts = cluster_.connect_string();
      so.session_timeout = cfg_.member_session_timeout;
      m.session = std::make_unique<nominee::session>(executor_, so);
      m.session->wait_connected(15s);
    }
    return m;
  }

  // A fresh divider in slot `index` under id; not started.
  member& make_divider(int index, std::string id) {
    auto& m = slot(index);
    if (m.divider) throw std::logic_error("slot " + std::to_string(index) + " still has a divider");
    m.id = std::move(id);
    nominee::divider_options d;
    d.root = root_;
    d.prefix = prefix_;
    d.member_id = m.id;
    d.coalesce_window = cfg_.coalesce;
    nominee::divider::callbacks cb;
    cb.on_start = [this, &m](const nominee::key_lease& lease) { owners_.started(m.index, lease.key, clock_type::now()); };
    cb.on_stop = [this, &m](const std::string& key, nominee::stop_reason reason) {
      owners_.stopped(m.index, key, reason, clock_type::now());
      if (cfg_.confirm_inline) {
        if (auto* dv = m.live.load())
          if (dv->confirm_stop(key)) ++m.confirm_errors;
      } else {
        boost::asio::post(executor_, [&m, key] {
          if (auto* dv = m.live.load())
            if (dv->confirm_stop(key)) ++m.confirm_errors;
        });
      }
    };
    m.divider = std::make_unique<nominee::divider>(*m.session, d, cb);
    m.live = m.divider.get();
    return m;
  }

  void destroy_divider(member& m) {
    m.live = nullptr;
    m.divider.reset();
  }

  // Waits (bounded) for a divider call made with a callback.
  struct completion_time {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<std::error_code> result;
    clock_type::time_point at;
    bool wait(std::chrono::milliseconds timeout) {
      std::unique_lock lock(mutex);
      return done.wait_for(lock, timeout, [&] { return result.has_value(); });
    }
  };
  static auto recorder(const std::shared_ptr<completion_time>& c) {
    return [c](std::error_code ec) {
      std::lock_guard lock(c->mutex);
      c->at = clock_type::now();
      c->result = ec;
      c->done.notify_all();
    };
  }

  void start_and_wait(member& m) {
    auto c = std::make_shared<completion_time>();
    m.divider->async_start(recorder(c));
    if (!c->wait(30s)) throw phase_failure("async_start of " + m.id + " did not complete within 30 s");
    if (*c->result) throw phase_failure("async_start of " + m.id + ": " + c->result->message());
  }

  // The in-process members that have a started divider.
  std::vector<member*> running() const {
    std::vector<member*> out;
    for (auto& m : members_)
      if (m->divider) out.push_back(m.get());
    return out;
  }

  struct converged {
    clock_type::time_point last_event;
    std::optional<clock_type::time_point> membership_seen;
    // Per member of `alive` (same order): when its status first showed the expected member count.
    std::vector<std::optional<clock_type::time_point>> seen_by;
  };

  // Until every key has exactly one owner, every running member's status
  // shows expected_members members and the full key count with nothing
  // acquiring or stopping, and no callback came for cfg.quiet.
  converged wait_converged(const std::vector<member*>& alive, std::size_t expected_members, bool need_event,
                           clock_type::time_point deadline) {
    std::optional<clock_type::time_point> membership_seen;
    std::vector<std::optional<clock_type::time_point>> seen_by(alive.size());
    auto poll = alive.size() > 10 ? 10ms : 2ms;
    auto next_report = clock_type::now() + 2s;
    while (true) {
      auto now = clock_type::now();
      bool members_ok = true, idle = true;
      for (std::size_t i = 0; i < alive.size(); ++i) {
        auto st = alive[i]->divider->status();
        if (st.members != expected_members) members_ok = false;
        else if (!seen_by[i]) seen_by[i] = now;
        if (!st.started || st.keys != keys_ || st.acquiring != 0 || st.stopping != 0) idle = false;
      }
      if (members_ok && !membership_seen) membership_seen = now;
      bool ok = members_ok && idle && owners_.unowned() == 0 && (!need_event || owners_.event_count() > 0);
      auto last = owners_.last_event();
      if (ok && now - last >= cfg_.quiet) return {last, membership_seen, seen_by};
      if (now > deadline) throw phase_failure("did not converge: " + describe(alive, expected_members));
      if (verbose && now >= next_report) {
        progress("still waiting: " + describe(alive, expected_members));
        next_report = now + 5s;
      }
      std::this_thread::sleep_for(poll);
    }
  }

  std::string describe(const std::vector<member*>& alive, std::size_t expected_members) const {
    std::ostringstream out;
    auto a = owners_.counts();
    out << "expected " << expected_members << " members and " << keys_ << " keys; unowned by callbacks "
        << owners_.unowned() << ", double owned " << a.double_owned << ", stray stops " << a.stray_stops
        << ", events this phase " << owners_.event_count() << "; status:";
    for (auto* m : alive) {
      auto st = m->divider->status();
      out << " " << m->id << "{members " << st.members << ", keys " << st.keys << ", assigned " << st.assigned
          << ", acquiring " << st.acquiring << ", stopping " << st.stopping << ", rebalances " << st.rebalances
          << ", no_eligible " << st.no_eligible_member << "}";
    }
    return out.str();
  }

  // How long the convergence wait may take.
  std::chrono::milliseconds budget() const {
    return std::max<std::chrono::milliseconds>(30s, std::chrono::milliseconds(keys_ * 2));
  }

  // The library's assignment for these member ids (all affinity 1).
  std::vector<std::string> expected_owners(const std::vector<std::string>& ids) const {
    std::vector<nominee::detail::weighted_member> ms;
    for (auto& id : ids) ms.push_back({id, 1});
    std::vector<std::string> out(keys_);
    for (std::size_t i = 0; i < keys_; ++i) out[i] = nominee::detail::owner_of(key_names_[i], ms).value_or("");
    return out;
  }

  // Measures one change. `act` makes it and returns its t0; `special` is the
  // joiner / leaver / killed member's index; ids_before/after name the
  // members (by index) on either side.
  phase_result measure(change kind, int special, const std::map<int, std::string>& before_ids,
                       const std::map<int, std::string>& after_ids, const std::function<clock_type::time_point()>& act,
                       const std::function<double(clock_type::time_point)>& acknowledged,
                       std::chrono::milliseconds extra_budget = 0ms) {
    progress(prefix_ + ": " + to_string(kind) + " begins");
    auto counts_before = owners_.counts();
    auto owners_before = owners_.begin_phase(clock_type::now());
    auto packets_before = server_packets(cluster_);
    auto t0 = act();
    std::vector<member*> alive;
    for (auto* m : running())
      if (after_ids.count(m->index)) alive.push_back(m);
    converged done;
    try {
      done = wait_converged(alive, after_ids.size(), true, clock_type::now() + budget() + extra_budget);
    } catch (const phase_failure& e) {
      throw phase_failure(std::string(to_string(kind)) + ": " + e.what());
    }
    progress(prefix_ + ": " + to_string(kind) + " converged after " + fixed(ms_between(t0, done.last_event)) + " ms");
    auto packets_after = server_packets(cluster_);
    auto owners_after = owners_.owners();
    auto events = owners_.events();
    auto counts_after = owners_.counts();

    phase_result r;
    r.kind = kind;
    r.convergence_ms = ms_between(t0, done.last_event);
    std::vector<double> others_seen_ms;
    for (std::size_t i = 0; i < alive.size(); ++i) {
      if (!done.seen_by[i]) continue;
      if (alive[i]->index == special) {
        progress(prefix_ + ": the " + to_string(kind) + "'s own member saw it after " +
                 fixed(ms_between(t0, *done.seen_by[i])) + " ms");
        continue;
      }
      others_seen_ms.push_back(ms_between(t0, *done.seen_by[i]));
      r.membership_seen_by_others_ms = std::max(r.membership_seen_by_others_ms, others_seen_ms.back());
    }
    if (verbose && !others_seen_ms.empty()) {
      std::sort(others_seen_ms.begin(), others_seen_ms.end());
      std::string spread;
      for (double q : {0.0, 0.1, 0.5, 0.9, 1.0})
        spread += " " + fixed(others_seen_ms[std::min(others_seen_ms.size() - 1,
                                                      static_cast<std::size_t>(q * others_seen_ms.size()))]);
      progress(prefix_ + ": the others saw the " + to_string(kind) + " after (min p10 p50 p90 max, ms)" + spread);
    }
    if (done.membership_seen) {
      r.membership_seen_ms = ms_between(t0, *done.membership_seen);
      r.after_membership_seen_ms = ms_between(*done.membership_seen, done.last_event);
    }
    r.acknowledged_ms = acknowledged ? acknowledged(t0) : -1;
    r.double_owned = counts_after.double_owned - counts_before.double_owned;
    r.stray_stops = counts_after.stray_stops - counts_before.stray_stops;
    r.stray_starts = counts_after.stray_starts - counts_before.stray_starts;
    r.unknown_keys = counts_after.unknown_keys - counts_before.unknown_keys;

    std::vector<char> moved(keys_, 0);
    for (std::size_t k = 0; k < keys_; ++k) {
      if (owners_before[k] == owners_after[k]) continue;
      moved[k] = 1;
      ++r.moved;
      bool needed = kind == change::distribute ||
                    (kind == change::join ? owners_after[k] == special : owners_before[k] == special);
      if (!needed) ++r.needless_moves;
    }
    r.ideal_moved = static_cast<double>(keys_) / static_cast<double>(std::max(before_ids.size(), after_ids.size()));
    if (kind == change::distribute) r.ideal_moved = static_cast<double>(keys_);

    // Per key: time with no owner (a stop or the kill opens a gap, the next start closes it).
    std::stable_sort(events.begin(), events.end(), [](const key_event& a, const key_event& b) { return a.at < b.at; });
    std::unordered_map<std::uint32_t, clock_type::time_point> gap_start;
    std::vector<double> unowned(keys_, 0);
    for (auto& e : events) {
      if (e.kind == key_event::stop && r.first_stop_ms < 0) r.first_stop_ms = ms_between(t0, e.at);
      if (e.kind == key_event::start && r.first_start_ms < 0) r.first_start_ms = ms_between(t0, e.at);
      bool unchanged = owners_before[e.key] == owners_after[e.key];
      switch (e.kind) {
        case key_event::start:
          ++r.starts;
          if (unchanged) ++r.needless_starts;
          if (auto g = gap_start.find(e.key); g != gap_start.end()) {
            unowned[e.key] += ms_between(g->second, e.at);
            gap_start.erase(g);
          }
          break;
        case key_event::stop:
          ++r.stops;
          ++r.stop_reasons[std::string(nominee::to_string(e.reason))];
          if (unchanged) ++r.needless_stops;
          gap_start.emplace(e.key, e.at);
          break;
        case key_event::killed:
          gap_start.emplace(e.key, e.at);
          break;
      }
    }
    for (std::size_t k = 0; k < keys_; ++k) {
      r.longest_unowned_ms = std::max(r.longest_unowned_ms, unowned[k]);
      if (moved[k] && kind != change::distribute) r.unowned_moved_ms.push_back(unowned[k]);
    }

    // Against the library's assignment and the members' own assigned().
    std::vector<std::string> ids_before, ids_after;
    for (auto& [i, id] : before_ids) ids_before.push_back(id);
    for (auto& [i, id] : after_ids) ids_after.push_back(id);
    auto want = expected_owners(ids_after);
    if (kind != change::distribute) {
      auto had = expected_owners(ids_before);
      for (std::size_t k = 0; k < keys_; ++k) r.assignment_moved += had[k] != want[k];
    } else {
      r.assignment_moved = keys_;
    }
    for (std::size_t k = 0; k < keys_; ++k) {
      auto o = owners_after[k];
      auto it = after_ids.find(o);
      if (it == after_ids.end() || it->second != want[k]) ++r.assignment_mismatches;
    }
    std::size_t in_process_owned = 0;
    for (auto* m : alive) {
      for (auto& key : m->divider->assigned()) {
        auto i = key_index(key);
        if (!i || *i >= keys_ || owners_after[*i] != m->index) ++r.assigned_mismatches;
        ++in_process_owned;
      }
    }
    std::size_t by_callbacks = 0;
    for (auto* m : alive) by_callbacks += static_cast<std::size_t>(std::count(owners_after.begin(), owners_after.end(), m->index));
    if (by_callbacks > in_process_owned) r.assigned_mismatches += by_callbacks - in_process_owned;

    if (packets_before.received >= 0 && packets_after.received >= 0 && r.moved > 0) {
      r.requests_per_moved_key =
          static_cast<double>(packets_after.received - packets_before.received) / static_cast<double>(r.moved);
      r.responses_per_moved_key =
          static_cast<double>(packets_after.sent - packets_before.sent) / static_cast<double>(r.moved);
    }
    return r;
  }

  // Adds every key through one member's divider and measures the first full distribution.
  phase_result distribute(member& adder, const std::map<int, std::string>& ids) {
    auto c = std::make_shared<completion_time>();
    auto r = measure(
        change::distribute, -1, ids, ids,
        [&] {
          auto t0 = clock_type::now();
          adder.divider->async_add_work(key_names_, recorder(c));
          return t0;
        },
        [&](clock_type::time_point t0) {
          if (!c->wait(60s)) throw phase_failure("async_add_work did not complete within 60 s of convergence");
          if (*c->result) throw phase_failure("async_add_work: " + c->result->message());
          return ms_between(t0, c->at);
        },
        std::chrono::milliseconds(keys_ * 5));
    return r;
  }

  // Cancels (bounded) and destroys every divider, then the sessions.
  void tear_down() noexcept {
    progress(prefix_ + ": tear down");
    try {
      std::vector<std::shared_ptr<completion_time>> pending;
      for (auto* m : running()) {
        auto c = std::make_shared<completion_time>();
        m->divider->async_cancel(recorder(c));
        pending.push_back(c);
      }
      for (auto& c : pending) c->wait(15s);
    } catch (...) {
    }
    progress(prefix_ + ": cancelled");
    for (auto& m : members_) destroy_divider(*m);
    progress(prefix_ + ": dividers destroyed");
    for (auto& m : members_) m->session.reset();
    members_.clear();
    progress(prefix_ + ": sessions closed");
  }

 private:
  const config& cfg_;
  boost::asio::any_io_executor executor_;
  const nominee::testing::zookeeper_cluster& cluster_;
  std::string root_, prefix_;
  std::size_t keys_;
  std::vector<std::string> key_names_;
  ownership owners_;
  std::vector<std::unique_ptr<member>> members_;
};

// --- aggregation and JSON ---------------------------------------------------

struct phase_totals {
  std::vector<phase_result> runs;

  summary convergence() const {
    std::vector<double> v;
    for (auto& r : runs) v.push_back(r.convergence_ms);
    return summarize(v);
  }
  summary unowned_moved() const {
    std::vector<double> v;
    for (auto& r : runs) v.insert(v.end(), r.unowned_moved_ms.begin(), r.unowned_moved_ms.end());
    return summarize(v);
  }
  std::uint64_t sum(std::uint64_t phase_result::*field) const {
    std::uint64_t n = 0;
    for (auto& r : runs) n += r.*field;
    return n;
  }
  double longest_unowned() const {
    double m = 0;
    for (auto& r : runs) m = std::max(m, r.longest_unowned_ms);
    return m;
  }
};

std::string phase_json(const phase_totals& t, double minus_ms = 0) {
  std::ostringstream out;
  if (t.runs.empty()) return "null";
  std::vector<double> membership, others, first_stop, first_start, after_membership, acknowledged, moved, assignment_moved, requests, responses;
  for (auto& r : t.runs) {
    if (r.membership_seen_ms >= 0) membership.push_back(r.membership_seen_ms);
    if (r.after_membership_seen_ms >= 0) after_membership.push_back(r.after_membership_seen_ms);
    if (r.membership_seen_by_others_ms >= 0) others.push_back(r.membership_seen_by_others_ms);
    if (r.first_stop_ms >= 0) first_stop.push_back(r.first_stop_ms);
    if (r.first_start_ms >= 0) first_start.push_back(r.first_start_ms);
    if (r.acknowledged_ms >= 0) acknowledged.push_back(r.acknowledged_ms);
    moved.push_back(static_cast<double>(r.moved));
    assignment_moved.push_back(static_cast<double>(r.assignment_moved));
    if (r.requests_per_moved_key >= 0) requests.push_back(r.requests_per_moved_key);
    if (r.responses_per_moved_key >= 0) responses.push_back(r.responses_per_moved_key);
  }
  std::map<std::string, std::uint64_t> reasons;
  for (auto& r : t.runs)
    for (auto& [k, v] : r.stop_reasons) reasons[k] += v;
  out << "{\"repeats\": " << t.runs.size() << ", \"convergence_ms\": " << summary_json(t.convergence());
  if (minus_ms > 0) {
    std::vector<double> v;
    for (auto& r : t.runs) v.push_back(r.convergence_ms - minus_ms);
    out << ", \"convergence_minus_session_timeout_ms\": " << summary_json(summarize(v));
  }
  out << ", \"membership_seen_ms\": " << summary_json(summarize(membership))
      << ", \"membership_seen_by_others_ms\": " << summary_json(summarize(others))
      << ", \"after_membership_seen_ms\": " << summary_json(summarize(after_membership))
      << ", \"first_stop_ms\": " << summary_json(summarize(first_stop))
      << ", \"first_start_ms\": " << summary_json(summarize(first_start))
      << ", \"acknowledged_ms\": " << summary_json(summarize(acknowledged))
      << ", \"keys_moved\": " << summary_json(summarize(moved), 0)
      << ", \"assignment_moved\": " << summary_json(summarize(assignment_moved), 0)
      << ", \"ideal_moved\": " << fixed(t.runs.front().ideal_moved, 1)
      << ", \"stops\": " << t.sum(&phase_result::stops) << ", \"starts\": " << t.sum(&phase_result::starts)
      << ", \"stop_reasons\": {";
  bool first = true;
  for (auto& [k, v] : reasons) {
    out << (first ? "" : ", ") << json_string(k) << ": " << v;
    first = false;
  }
  out << "}, \"needless_stops\": " << t.sum(&phase_result::needless_stops)
      << ", \"needless_starts\": " << t.sum(&phase_result::needless_starts)
      << ", \"needless_moves\": " << t.sum(&phase_result::needless_moves)
      << ", \"double_owned\": " << t.sum(&phase_result::double_owned)
      << ", \"stray_stops\": " << t.sum(&phase_result::stray_stops)
      << ", \"stray_starts\": " << t.sum(&phase_result::stray_starts)
      << ", \"unknown_keys\": " << t.sum(&phase_result::unknown_keys)
      << ", \"assignment_mismatches\": " << t.sum(&phase_result::assignment_mismatches)
      << ", \"assigned_mismatches\": " << t.sum(&phase_result::assigned_mismatches)
      << ", \"unowned_per_moved_key_ms\": " << summary_json(t.unowned_moved())
      << ", \"longest_unowned_ms\": " << fixed(t.longest_unowned())
      << ", \"zk_requests_per_moved_key\": " << summary_json(summarize(requests))
      << ", \"zk_responses_per_moved_key\": " << summary_json(summarize(responses)) << "}";
  return out.str();
}

std::string goal_json(const std::string& name, double goal, double actual, bool measured, const char* unit = "ms") {
  return json_string(name) + ": {\"goal_" + unit + "\": " + fixed(goal, 1) + ", \"actual_" + unit + "\": " +
         (measured ? fixed(actual) : "null") + ", \"met\": " + (measured ? (actual <= goal ? "true" : "false") : "null") +
         "}";
}

// --- the scenarios ------------------------------------------------------------

struct rebalance_result {
  std::optional<phase_result> first;
  phase_totals join, leave, kill;
};

// `members` in-process members and `keys` keys; each repeat: a 5th joins,
// leaves again (async_cancel), and a 5th in a child process joins and is
// SIGKILLed.
rebalance_result run_rebalance(const config& cfg, boost::asio::any_io_executor ex,
                               const nominee::testing::zookeeper_cluster& cluster, const std::string& root,
                               std::vector<std::string>& errors, std::size_t keys, int members, int repeats,
                               bool with_kill, const std::string& prefix) {
  rebalance_result out;
  scenario s(cfg, ex, cluster, root, prefix, keys);
  std::map<int, std::string> base;
  try {
    for (int i = 0; i < members; ++i) {
      auto& m = s.make_divider(i, "m" + std::to_string(i));
      s.start_and_wait(m);
      base[i] = m.id;
    }
    progress(prefix + ": " + std::to_string(members) + " members started");
    out.first = s.distribute(s.slot(0), base);
    const int joiner_slot = members;
    const int child_slot = members + 1;
    for (int r = 0; r < repeats; ++r) {
      // A member joins.
      auto& j = s.make_divider(joiner_slot, "j" + std::to_string(r));
      auto with_joiner = base;
      with_joiner[joiner_slot] = j.id;
      auto started = std::make_shared<scenario::completion_time>();
      out.join.runs.push_back(s.measure(
          change::join, joiner_slot, base, with_joiner,
          [&] {
            auto t0 = clock_type::now();
            j.divider->async_start(scenario::recorder(started));
            return t0;
          },
          [&](clock_type::time_point t0) {
            if (!started->wait(30s)) throw phase_failure("async_start of the joiner did not complete");
            if (*started->result) throw phase_failure("async_start of the joiner: " + started->result->message());
            return ms_between(t0, started->at);
          }));
      // It leaves gracefully.
      auto cancelled = std::make_shared<scenario::completion_time>();
      out.leave.runs.push_back(s.measure(
          change::leave, joiner_slot, with_joiner, base,
          [&] {
            auto t0 = clock_type::now();
            j.divider->async_cancel(scenario::recorder(cancelled));
            return t0;
          },
          [&](clock_type::time_point t0) {
            if (!cancelled->wait(30s)) throw phase_failure("async_cancel of the leaver did not complete");
            if (*cancelled->result) throw phase_failure("async_cancel of the leaver: " + cancelled->result->message());
            return ms_between(t0, cancelled->at);
          }));
      s.destroy_divider(j);
      if (!with_kill) continue;

      // A member in another process joins (not measured), then is killed.
      std::string child_id = "c" + std::to_string(r);
      auto with_child = base;
      with_child[child_slot] = child_id;
      auto running = s.running();
      s.owners().begin_phase(clock_type::now());
      progress(prefix + ": starting child " + child_id);
      child_member child({self_path(), "--child", cluster.connect_string(), s.root(), s.prefix(), child_id,
                          std::to_string(cfg.kill_session_timeout.count()), std::to_string(cfg.coalesce.count())},
                         s.owners(), child_slot);
      if (!child.wait_ready(30s)) throw phase_failure("the child member did not start: " + child.failure());
      progress(prefix + ": child " + child_id + " ready");
      s.wait_converged(running, with_child.size(), true, clock_type::now() + s.budget());
      out.kill.runs.push_back(s.measure(
          change::kill, child_slot, with_child, base,
          [&] {
            auto t0 = child.kill();
            s.owners().killed(child_slot, t0);
            return t0;
          },
          {}, cfg.kill_session_timeout * 3));
    }
  } catch (const std::exception& e) {
    errors.push_back(std::string(prefix) + ": " + e.what());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--child") return child_main(argc, argv);
  config cfg;
  auto usage = [] {
    std::cerr << "usage: divider_bench [--repeats N] [--keys N] [--members N] [--no-kill]\n"
                 "                     [--scale-keys N] [--scale-members N] [--scale-repeats N] [--no-scale]\n"
                 "                     [--no-rebalance] [--large] [--coalesce-ms MS] [--quiet-ms MS]\n"
                 "                     [--kill-session-timeout-ms MS] [--confirm inline|post] [--no-fsync]\n"
                 "                     [--io-threads T] [--log debug|info|warn|error] [--verbose]\n"
                 "  --large: the 100,000 keys over 50 members run (--scale-keys 100000 --scale-members 50)\n";
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--repeats") cfg.repeats = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--keys") cfg.keys = static_cast<std::size_t>(std::max(1, std::atoi(next().c_str())));
    else if (arg == "--members") cfg.members = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--no-kill") cfg.kill = false;
    else if (arg == "--scale-keys") cfg.scale_keys = static_cast<std::size_t>(std::max(1, std::atoi(next().c_str())));
    else if (arg == "--scale-members") cfg.scale_members = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--scale-repeats") cfg.scale_repeats = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--no-scale") cfg.scale = false;
    else if (arg == "--no-rebalance") cfg.rebalance = false;
    else if (arg == "--large") {
      cfg.scale_keys = 100000;
      cfg.scale_members = 50;
    } else if (arg == "--coalesce-ms") cfg.coalesce = std::chrono::milliseconds(std::max(0, std::atoi(next().c_str())));
    else if (arg == "--quiet-ms") cfg.quiet = std::chrono::milliseconds(std::max(20, std::atoi(next().c_str())));
    else if (arg == "--kill-session-timeout-ms")
      cfg.kill_session_timeout = std::chrono::milliseconds(std::max(400, std::atoi(next().c_str())));
    else if (arg == "--confirm") {
      auto v = next();
      if (v != "inline" && v != "post") {
        usage();
        return 2;
      }
      cfg.confirm_inline = v == "inline";
    } else if (arg == "--no-fsync") cfg.fsync = false;
    else if (arg == "--verbose") verbose = true;
    else if (arg == "--io-threads") cfg.io_threads = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--log") {
      auto v = next();
      cfg.log = v == "debug" ? nominee::log_level::debug
                : v == "info" ? nominee::log_level::info
                : v == "warn" ? nominee::log_level::warn
                              : nominee::log_level::error;
    } else {
      usage();
      return arg == "--help" ? 0 : 2;
    }
  }
  try {
    nominee::set_log_level(cfg.log);
    nominee::testing::zookeeper_options zk;
    zk.fsync = cfg.fsync;
    // 100,000 keys and their owner nodes do not fit the launcher's 256 MB heap comfortably.
    if (cfg.scale && cfg.scale_keys > 20000) zk.extra_jvm_args.push_back("-Xmx1g");
    progress("starting ZooKeeper");
    nominee::testing::zookeeper_cluster cluster(zk);
    progress("ZooKeeper serves on " + cluster.connect_string());

    // One io_context for every member (as group_bench): a few threads, not one per session.
    boost::asio::io_context io(cfg.io_threads);
    auto work = boost::asio::make_work_guard(io);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < cfg.io_threads; ++i) io_threads.emplace_back([&io] { io.run(); });

    std::string root = "/bench-divider-" + std::to_string(::getpid());
    std::vector<std::string> errors;
    auto wall0 = clock_type::now();
    rebalance_result rebalance, scale;
    if (cfg.rebalance)
      rebalance = run_rebalance(cfg, io.get_executor(), cluster, root, errors, cfg.keys, cfg.members, cfg.repeats,
                                cfg.kill, "rebalance");
    if (cfg.scale)
      scale = run_rebalance(cfg, io.get_executor(), cluster, root, errors, cfg.scale_keys, cfg.scale_members,
                            cfg.scale_repeats, false, "scale");
    double wall_s = ms_between(wall0, clock_type::now()) / 1000.0;

    std::ostringstream out;
    out << "{\"benchmark\": \"divider\", \"fsync\": " << (cfg.fsync ? "true" : "false")
        << ", \"coalesce_window_ms\": " << cfg.coalesce.count() << ", \"quiet_ms\": " << cfg.quiet.count()
        << ", \"confirm\": " << (cfg.confirm_inline ? "\"inline\"" : "\"post\"") << ", \"io_threads\": " << cfg.io_threads
        << ", \"member_session_timeout_ms\": " << cfg.member_session_timeout.count() << ", \"tick_ms\": " << zk.tick_ms;
    if (cfg.rebalance) {
      out << ", \"rebalance\": {\"keys\": " << cfg.keys << ", \"members\": " << cfg.members
          << ", \"repeats\": " << cfg.repeats << ", \"first_distribution\": "
          << (rebalance.first ? phase_json(phase_totals{{*rebalance.first}}) : "null")
          << ", \"join\": " << phase_json(rebalance.join) << ", \"leave\": " << phase_json(rebalance.leave);
      if (cfg.kill)
        out << ", \"kill\": {\"session_timeout_ms\": " << cfg.kill_session_timeout.count()
            << ", \"result\": " << phase_json(rebalance.kill, static_cast<double>(cfg.kill_session_timeout.count()))
            << "}";
      out << "}";
    }
    if (cfg.scale) {
      out << ", \"scale\": {\"keys\": " << cfg.scale_keys << ", \"members\": " << cfg.scale_members
          << ", \"repeats\": " << cfg.scale_repeats << ", \"first_distribution\": "
          << (scale.first ? phase_json(phase_totals{{*scale.first}}) : "null")
          << ", \"join\": " << phase_json(scale.join) << ", \"leave\": " << phase_json(scale.leave) << "}";
    }

    // Goals (from the issue).
    std::vector<std::string> goals;
    if (cfg.rebalance) {
      auto j = rebalance.join.convergence();
      bool have = !rebalance.join.runs.empty();
      goals.push_back(goal_json("join_" + std::to_string(cfg.keys) + "_keys_p50", 100, j.p50, have));
      goals.push_back(goal_json("join_" + std::to_string(cfg.keys) + "_keys_p99", 250, j.p99, have));
      std::vector<double> graceful;
      for (auto* t : {&rebalance.join, &rebalance.leave})
        for (auto& r : t->runs) graceful.insert(graceful.end(), r.unowned_moved_ms.begin(), r.unowned_moved_ms.end());
      auto g = summarize(graceful);
      goals.push_back(goal_json("graceful_unowned_per_moved_key_p99", 50, g.p99, g.count > 0));
    }
    std::uint64_t needless_moves = 0, needless_stops = 0, double_owned = 0;
    bool any = false;
    for (auto* t : {&rebalance.join, &rebalance.leave, &rebalance.kill, &scale.join, &scale.leave}) {
      needless_moves += t->sum(&phase_result::needless_moves);
      needless_stops += t->sum(&phase_result::needless_stops);
      double_owned += t->sum(&phase_result::double_owned);
      any = any || !t->runs.empty();
    }
    goals.push_back(goal_json("needless_moves", 0, static_cast<double>(needless_moves), any, "count"));
    goals.push_back(goal_json("needless_stops", 0, static_cast<double>(needless_stops), any, "count"));
    goals.push_back(goal_json("double_owned", 0, static_cast<double>(double_owned), any, "count"));
    if (cfg.scale) {
      double goal = cfg.scale_keys <= 10000 ? 300 : 1000;
      auto j = scale.join.convergence();
      goals.push_back(goal_json("scale_join_" + std::to_string(cfg.scale_keys) + "_keys_" +
                                    std::to_string(cfg.scale_members) + "_members_max",
                                goal, j.max, !scale.join.runs.empty()));
    }
    out << ", \"goals\": {";
    for (std::size_t i = 0; i < goals.size(); ++i) out << (i ? ", " : "") << goals[i];
    out << "}, \"errors\": [";
    for (std::size_t i = 0; i < errors.size(); ++i) out << (i ? ", " : "") << json_string(errors[i]);
    out << "], \"wall_s\": " << fixed(wall_s, 1) << "}\n";
    std::cout << out.str() << std::flush;

    work.reset();
    for (auto& t : io_threads) t.join();
    return errors.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "divider_bench: " << e.what() << "\n";
    return 1;
  }
}
