// The divider across real processes (nominee-divider-member) against a real
// server: five members share 500 keys while the test kills them (kill -9),
// makes them leave (SIGTERM: flush and cancel), restarts them under the same
// id or a new one, and changes their affinity. The members write histories;
// the checker (divider_history.hpp) asserts that no key ever ran on two
// members at once, that each key's tokens grew, and that after the last
// fault every key was owned again within the session timeout plus a second.
// (Exact movement and handoff order are in divider_test.cpp, in process.)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <nominee/session.hpp>

#include "child_main.hpp"  // numbered_keys
#include "child_process.hpp"
#include "divider_history.hpp"
#include "fault_deck.hpp"
#include "key_codec.hpp"
#include "owner_nodes.hpp"
#include "test_support.hpp"
#include "work_keys.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

std::string member_binary() {
  if (const char* path = std::getenv("NOMINEE_DIVIDER_MEMBER")) return path;
  return NOMINEE_DIVIDER_MEMBER_PATH;
}

// How late a key may be owned again, beyond the session timeout, after the
// fault that held it up: the server expires sessions in tickTime (200 ms)
// buckets, then the members react and create the owner nodes. A sanitizer
// makes all of that several times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::int64_t liveness_margin_ms = 4000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::int64_t liveness_margin_ms = 4000;
#else
constexpr std::int64_t liveness_margin_ms = 1000;
#endif
#else
constexpr std::int64_t liveness_margin_ms = 1000;
#endif

// One nominee-divider-member process (one member id; restarts append to the
// same history). child_process: ended by its PID, SIGKILLed and reaped by
// the destructor when still running.
class member_process {
 public:
  struct config {
    std::string hosts, root, prefix, member;
    fs::path dir;
    int session_timeout_ms = 2000;
    int seed_keys = 0;  // on the first start only
  };

  explicit member_process(config c) : config_(std::move(c)) {}

  const std::string& member() const { return config_.member; }
  fs::path history() const { return config_.dir / (config_.member + ".history"); }
  fs::path log() const { return config_.dir / (config_.member + ".log"); }
  bool running() const { return child_.running(); }
  std::int64_t affinity() const { return affinity_; }
  int starts() const { return starts_; }

  void start() {
    if (running()) throw std::logic_error(config_.member + " is running already");
    std::vector<std::string> args = {member_binary(),
                                     "--hosts", config_.hosts,
                                     "--root", config_.root,
                                     "--prefix", config_.prefix,
                                     "--member", config_.member,
                                     "--affinity", "1",
                                     "--history", history().string(),
                                     "--session-timeout-ms", std::to_string(config_.session_timeout_ms),
                                     "--leave-timeout-ms", "60000"};
    if (config_.seed_keys > 0 && starts_ == 0)
      args.insert(args.end(), {"--seed-keys", std::to_string(config_.seed_keys)});
    child_.spawn(std::move(args), log(), {SIGTERM, SIGINT, SIGUSR1, SIGPIPE});
    affinity_ = 1;
    ++starts_;
  }

  parsed_divider_history read_history() const { return parse_divider_file(history()); }

  // The events of the current process (from its `started` line on).
  std::vector<divider_event> current_run() const {
    auto events = read_history().events;
    auto mine = "started pid=" + std::to_string(child_.pid()) + " ";
    auto it = std::find_if(events.rbegin(), events.rend(), [&](const divider_event& e) {
      return e.verb == divider_verb::started && e.line.find(mine) != std::string::npos;
    });
    if (!running() || it == events.rend()) return {};
    return {std::prev(it.base()), events.end()};
  }
  // The current process wrote `started` (from then on it handles SIGTERM
  // and SIGUSR1; they were blocked before, so not lost either).
  bool ready() const { return !current_run().empty(); }
  bool joined() const {
    auto run = current_run();
    return std::any_of(run.begin(), run.end(),
                       [](const divider_event& e) { return e.verb == divider_verb::note && e.detail == "joined"; });
  }

  void signal(int sig) const { child_.signal(sig); }
  // Cycles as the member does on SIGUSR1: 1 -> 3 -> 0 -> 1.
  std::int64_t next_affinity() const { return affinity_ == 1 ? 3 : affinity_ == 3 ? 0 : 1; }
  void change_affinity() {
    affinity_ = next_affinity();
    signal(SIGUSR1);
  }

  // The wait status once the process has exited, or nullopt at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) { return child_.wait_exit(timeout); }

  std::string log_tail(std::size_t max_chars = 3000) const { return file_tail(log(), max_chars); }

 private:
  config config_;
  child_process child_;
  std::int64_t affinity_ = 1;
  int starts_ = 0;
};

class DividerChurnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
    watcher_ = std::make_unique<session>(test_options(hosts_));
    watcher_->wait_connected(15s);
  }

  member_process::config config(const std::string& member) const {
    member_process::config c;
    c.hosts = hosts_;
    c.root = root_;
    c.prefix = prefix_;
    c.member = member;
    c.dir = dir_.path();
    c.session_timeout_ms = session_timeout_ms_;
    return c;
  }

  // key -> member ids whose live process runs it now (from the histories).
  std::map<std::string, std::vector<std::string>> running(const std::vector<member_process*>& live) const {
    std::map<std::string, std::vector<std::string>> out;
    for (auto* p : live)
      for (auto& key : running_keys(p->current_run())) out[key].push_back(p->member());
    return out;
  }

  // key -> the member id in its owner node's data, from ZooKeeper.
  std::map<std::string, std::string> owner_nodes() { return read_owner_nodes(*watcher_, root_, prefix_); }

  // SIGTERM to every running process; each must exit 0 within the deadline.
  void terminate_all(const std::vector<member_process*>& all) {
    std::vector<member_process*> processes;
    for (auto* p : all)
      if (p->running()) processes.push_back(p);
    for (auto* p : processes) {
      faults_.record(fault_kind::terminate, p->member(), "final");
      p->signal(SIGTERM);
    }
    auto deadline = steady::now() + 90s;
    for (auto* p : processes) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      auto status = p->wait_exit(std::max(left, 1ms));
      ASSERT_TRUE(status.has_value()) << p->member() << " did not exit within 90 s of SIGTERM\n" << p->log_tail();
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << p->member() << " exited with wait status " << *status << "\n"
          << p->log_tail();
    }
  }

  divider_report check(const std::vector<fs::path>& files, std::int64_t end_ns, const std::vector<std::string>& keys) {
    auto faults = faults_.faults();
    write_fault_log(dir_.path() / "faults.log", faults);
    divider_check_options options;
    options.session_timeout_ns = std::int64_t{session_timeout_ms_} * 1'000'000;
    options.liveness_margin_ns = liveness_margin_ms * 1'000'000;
    options.end_ns = end_ns;
    options.expected_keys = keys;
    auto report = check_divider_files(files, faults, options);
    std::cout << report.summary();
    return report;
  }

  std::string hosts_;
  std::string root_;
  std::string prefix_ = "/churn/";
  // Every member's. The shared server's tickTime is 200 ms (timeouts from
  // 400 ms are allowed); 2 s is what election_churn_test uses too.
  int session_timeout_ms_ = 2000;
  scratch_dir dir_{"divider", "histories and member logs"};
  fault_log faults_;
  std::unique_ptr<session> watcher_;
};

TEST_F(DividerChurnTest, FiveMembersUnderKillsLeavesAndAffinityChangesNeverShareAKey) {
  constexpr int members = 5;
  constexpr int key_count = 500;
  constexpr auto churn_time = 25s;
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("NOMINEE_DIVIDER_CHURN_SEED")) seed = std::stoull(s);
  std::cout << "divider churn seed " << seed << " (NOMINEE_DIVIDER_CHURN_SEED=<seed> repeats the fault choices)\n";
  std::mt19937_64 random(seed);
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(random() % n); };
  // Every 8 faults hold 3 kills, 3 leaves and 2 affinity changes, in a
  // random order: the checks at the end count on at least 2 of each of
  // the first two kinds.
  enum class fault_choice { kill, leave, affinity };
  fault_deck<fault_choice> deck({{fault_choice::kill, 3}, {fault_choice::leave, 3}, {fault_choice::affinity, 2}},
                                random);
  const auto keys = numbered_keys(key_count);

  // slots[i] is the process in slot i now; a slot restarted under a new id
  // gets a new process, and the old one stays in all (for its history).
  std::vector<std::unique_ptr<member_process>> all;
  std::vector<member_process*> slots;
  for (int i = 0; i < members; ++i) {
    auto c = config("m" + std::to_string(i));
    if (i == 0) c.seed_keys = key_count;
    all.push_back(std::make_unique<member_process>(c));
    slots.push_back(all.back().get());
    slots.back()->start();
  }
  auto live = [&] {
    std::vector<member_process*> out;
    for (auto* p : slots)
      if (p->running()) out.push_back(p);
    return out;
  };
  auto every_key_owned_once = [&](std::string* why) {
    auto now = live();
    for (auto* p : now)
      if (!p->joined()) {
        if (why) *why = p->member() + " has not joined";
        return false;
      }
    auto owners = running(now);
    std::size_t doubles = 0;
    for (auto& [key, who] : owners) doubles += who.size() > 1;
    if (why) *why = std::to_string(owners.size()) + " of " + std::to_string(key_count) + " keys running, " +
                    std::to_string(doubles) + " on two members";
    return owners.size() == static_cast<std::size_t>(key_count) && doubles == 0;
  };
  std::string why;
  ASSERT_TRUE(poll_until([&] { return every_key_owned_once(&why); }, 90s))
      << "the keys were not spread over the members within 90 s: " << why << "\n"
      << slots[0]->log_tail();

  struct restart {
    std::size_t slot;
    bool new_id;
    steady::time_point at;
  };
  std::vector<restart> restarts;
  int kills = 0, leaves = 0, affinity_changes = 0, new_ids = 0;
  auto do_restart = [&](const restart& r) {
    if (r.new_id) {
      auto c = config("m" + std::to_string(r.slot) + "-" + std::to_string(++new_ids));
      all.push_back(std::make_unique<member_process>(c));
      slots[r.slot] = all.back().get();
    }
    faults_.record(fault_kind::restart, slots[r.slot]->member(), r.new_id ? "new id" : "same id");
    slots[r.slot]->start();
  };

  auto end = steady::now() + churn_time;
  while (steady::now() < end) {
    // Pacing between faults (not synchronisation: nothing waits on it).
    std::this_thread::sleep_for(std::chrono::milliseconds(600 + pick(1200)));
    auto now = steady::now();
    for (auto it = restarts.begin(); it != restarts.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      do_restart(*it);
      it = restarts.erase(it);
    }
    // At most two members down at once, so the keys always have somewhere
    // to go; a process that has not written `started` yet is left alone.
    std::vector<std::size_t> candidates;
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i]->running() && slots[i]->ready()) candidates.push_back(i);
    if (live().size() < static_cast<std::size_t>(members) - 1 || candidates.empty()) continue;
    auto slot = candidates[pick(candidates.size())];
    auto* victim = slots[slot];
    auto choice = deck.draw();
    if (choice == fault_choice::kill) {
      faults_.record(fault_kind::kill, victim->member());
      victim->signal(SIGKILL);
      auto status = victim->wait_exit(10s);
      ASSERT_TRUE(status && WIFSIGNALED(*status)) << victim->member() << " did not die of SIGKILL";
      ++kills;
      // Under the same id right away (it retries its join until the server
      // expires the dead session's member node), or under a new id.
      restarts.push_back({slot, pick(2) == 0, steady::now() + std::chrono::milliseconds(200 + pick(1500))});
    } else if (choice == fault_choice::leave) {
      faults_.record(fault_kind::terminate, victim->member());
      victim->signal(SIGTERM);
      auto status = victim->wait_exit(90s);
      ASSERT_TRUE(status.has_value()) << victim->member() << " did not leave within 90 s of SIGTERM\n"
                                      << victim->log_tail();
      ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << victim->member() << " exited with wait status " << *status << "\n"
          << victim->log_tail();
      ++leaves;
      restarts.push_back({slot, false, steady::now() + std::chrono::milliseconds(200 + pick(1000))});
    } else {
      // Never leave fewer than two live members with work.
      std::size_t others_with_work = 0;
      for (auto* p : live())
        if (p != victim && p->affinity() > 0) ++others_with_work;
      if (victim->next_affinity() == 0 && others_with_work < 2) continue;
      victim->change_affinity();
      ++affinity_changes;
    }
  }
  for (auto& r : restarts) do_restart(r);
  restarts.clear();

  // Quiet now: every member joined, every key running on exactly one, and
  // ZooKeeper agrees: one owner node per key, of the member whose process
  // runs it. Both are polled together: a member restarted at the end of the
  // churn has joined but not yet taken its share, so the histories alone can
  // look settled while keys are still moving.
  auto zookeeper_agrees = [&](std::string* why) {
    auto nodes = owner_nodes();
    auto histories = running(live());
    std::size_t disagree = 0;
    std::string first;
    for (auto& [key, who] : histories) {
      auto it = nodes.find(key);
      if (it != nodes.end() && who.size() == 1 && it->second == who.front()) continue;
      if (disagree++ == 0)
        first = key + ": history says " + who.front() + ", node says " + (it == nodes.end() ? "(none)" : it->second);
    }
    if (why)
      *why = std::to_string(nodes.size()) + " owner nodes for " + std::to_string(key_count) + " keys, " +
             std::to_string(disagree) + " not matching the histories" + (disagree ? ", the first: " + first : "");
    return nodes.size() == static_cast<std::size_t>(key_count) && disagree == 0;
  };
  bool settled = poll_until([&] { return every_key_owned_once(&why) && zookeeper_agrees(&why); }, 60s);
  auto end_ns = steady_now_ns();
  EXPECT_TRUE(settled) << "not settled 60 s after the churn: " << why;

  std::vector<member_process*> everyone;
  for (auto& p : all) everyone.push_back(p.get());
  ASSERT_NO_FATAL_FAILURE(terminate_all(everyone));
  EXPECT_TRUE(poll_until([&] { return owner_nodes().empty(); }, 20s))
      << owner_nodes().size() << " owner nodes left behind after every member exited";

  std::vector<fs::path> files;
  for (auto& p : all) files.push_back(p->history());
  auto report = check(files, end_ns, keys);
  std::cout << "kills " << kills << ", leaves " << leaves << ", affinity changes " << affinity_changes
            << ", new ids " << new_ids << "\n";
  std::string timelines;
  for (std::size_t i = 0; i < report.violations.size() && i < 3; ++i) {
    auto& d = report.violations[i].description;
    for (auto& key : keys)
      if (d.find("'" + key + "'") != std::string::npos) timelines += report.timeline(key);
  }
  EXPECT_TRUE(report.ok()) << report.summary() << "timelines:\n" << timelines;
  EXPECT_EQ(report.keys, static_cast<std::size_t>(key_count));

  // The run exercised what it claims to.
  int processes_started = 0;
  for (auto& p : all) processes_started += p->starts();
  EXPECT_EQ(report.runs, static_cast<std::size_t>(processes_started)) << "every process started wrote `started`";
  EXPECT_GE(kills, 2);
  EXPECT_GE(leaves, 2);
  EXPECT_GE(report.stops_by_reason["moved"], 50u) << "joins and affinity changes move keys";
  EXPECT_GE(report.stops_by_reason["flushing"], 50u) << "leaves hand keys over";
  // (How long the keys of killed members waited is the checker's
  // slow_takeover rule: within the session timeout and the margin of the
  // last kill that could have held them up.)
  EXPECT_TRUE(report.longest_gap_after_kill.has_value()) << "no key of a killed member was ever taken over";
}

// The checker itself, on made-up histories: it must see what it claims to.
class DividerHistoryCheckerTest : public ::testing::Test {
 protected:
  // "<ms> <member> <verb> ..." lines, times in milliseconds for brevity.
  void lines(std::initializer_list<const char*> text) {
    for (auto* line : text) {
      std::istringstream in(line);
      std::int64_t at_ms = 0;
      std::string rest;
      in >> at_ms;
      std::getline(in, rest);
      auto e = parse_divider_line(std::to_string(at_ms * 1'000'000) + rest);
      ASSERT_TRUE(e.has_value()) << line;
      events_.push_back(*e);
    }
  }
  void fault_at(std::int64_t at_ms, fault_kind kind, const std::string& member) {
    faults_.push_back({at_ms * 1'000'000, kind, member, {}});
  }
  divider_report check(std::int64_t end_ms = 0, std::vector<std::string> keys = {}) {
    divider_check_options o;
    o.session_timeout_ns = 2'000'000'000;
    o.liveness_margin_ns = 1'000'000'000;
    o.end_ns = end_ms * 1'000'000;
    o.expected_keys = std::move(keys);
    return check_divider_histories(events_, faults_, o);
  }
  static std::vector<std::string> kinds(const std::vector<divider_violation>& vs) {
    std::vector<std::string> out;
    for (auto& v : vs) out.push_back(v.kind);
    return out;
  }

  std::vector<divider_event> events_;
  std::vector<fault> faults_;
};

TEST_F(DividerHistoryCheckerTest, AnOrderlyHandoffIsClean) {
  lines({"0 a started", "1 b started", "10 a start k 5", "10 a start j 6", "20 a stop k moved", "21 a confirm k",
         "23 b start k 7", "40 b stop k flushing", "40 b confirm k", "41 b exiting flush=ok", "42 a start k 9"});
  auto r = check(50, {"k", "j"});
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.starts, 4u);
  EXPECT_EQ(r.stops_by_reason["moved"], 1u);
  EXPECT_EQ(r.keys, 2u);
  ASSERT_TRUE(r.longest_gap.has_value());
  EXPECT_EQ(r.longest_gap->length_ns(), 2'000'000);
  EXPECT_EQ(r.timeline("k").size() > 0, true);
}

TEST_F(DividerHistoryCheckerTest, TwoMembersOnOneKeyAreAnOverlapUnlessWithinTheClockMargin) {
  lines({"0 a started", "0 b started", "10 a start k 5", "15 b start k 7", "20 a stop k moved", "20 a confirm k",
         "30 a start j 8", "40 a stop j moved", "41 a confirm j", "40 b start j 9", "50 b exiting flush=timeout"});
  auto r = check();
  EXPECT_EQ(kinds(r.violations), std::vector<std::string>{"overlap"}) << r.summary();
  EXPECT_NE(r.violations[0].description.find("'k'"), std::string::npos) << r.violations[0].description;
  EXPECT_NE(r.violations[0].context.find("b start k 7"), std::string::npos) << r.violations[0].context;
  EXPECT_EQ(kinds(r.tolerated), std::vector<std::string>{"overlap"}) << "j overlaps by 1 ms only";
  EXPECT_EQ(r.unflushed_exits, 1u);
}

TEST_F(DividerHistoryCheckerTest, AKilledMemberHoldsUntilTheKillNotUntilItsSessionEnds) {
  lines({"0 a started", "0 b started", "10 a start k 5", "2400 b start k 7", "2500 a started", "3000 a start j 9",
         "3100 a exiting flush=ok", "3100 b exiting flush=ok"});
  auto unexplained = check();
  EXPECT_EQ(kinds(unexplained.violations), (std::vector<std::string>{"vanished", "held_after_flush", "held_after_flush",
                                                                     "overlap"}))
      << unexplained.summary();
  events_.erase(events_.end() - 2, events_.end());
  lines({"3100 a stop j flushing", "3100 a confirm j", "3101 a exiting flush=ok", "3101 b stop k flushing",
         "3101 b confirm k", "3102 b exiting flush=ok"});
  fault_at(400, fault_kind::kill, "a");
  auto r = check();
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.runs, 3u);
  ASSERT_EQ(r.intervals.size(), 3u);
  EXPECT_EQ(r.intervals[0].end_cause, "kill");
  EXPECT_EQ(r.intervals[0].end_ns, 400'000'000);
  ASSERT_TRUE(r.longest_gap_after_kill.has_value());
  EXPECT_EQ(r.longest_gap_after_kill->length_ns(), 2000'000'000);
}

TEST_F(DividerHistoryCheckerTest, TokensMustGrowExceptForTheSameProcessResumingItsNode) {
  lines({"0 a started", "0 b started", "10 a start k 9", "20 a stop k suspended", "20 a confirm k",
         "30 a start k 9", "40 a stop k moved", "40 a confirm k", "50 b start k 7", "60 b stop k moved",
         "60 b confirm k", "70 a start k 7", "80 a exiting flush=timeout", "80 b exiting flush=timeout"});
  auto r = check();
  EXPECT_EQ(kinds(r.violations), (std::vector<std::string>{"token_order", "token_order"})) << r.summary();
}

TEST_F(DividerHistoryCheckerTest, StartStopAndConfirmMustAlternate) {
  lines({"0 a started", "5 a confirm k", "6 a stop k moved", "10 a start k 5", "12 a start k 5",
         "13 a stop k moved", "14 a stop k moved", "15 a confirm k", "15 a confirm_failed k not_stopping",
         "20 a exiting flush=ok"});
  EXPECT_EQ(kinds(check().violations),
            (std::vector<std::string>{"confirm_without_stop", "stop_without_start", "start_while_held",
                                      "stop_without_start", "confirm_failed"}));
}

TEST_F(DividerHistoryCheckerTest, EveryKeyMustBeOwnedAgainSoonAfterTheLastFault) {
  lines({"0 a started", "0 b started", "10 a start k 5", "10 a start j 6", "10 b start i 7",
         "3400 b start k 8", "4100 b start j 9"});
  fault_at(1000, fault_kind::kill, "a");
  // At 5000: i and k are fine, j came back 3100 ms after the kill (limit
  // 2000 + 1000 ms), h never ran.
  auto r = check(5000, {"h", "i", "j", "k"});
  EXPECT_EQ(kinds(r.violations), (std::vector<std::string>{"unowned_at_end", "slow_takeover", "slow_reown"}))
      << r.summary();
  ASSERT_TRUE(r.all_owned_ns.has_value());
  EXPECT_EQ(*r.all_owned_ns, 4100'000'000);
  // Before b took k and j, they were not owned at the end.
  auto early = check(3000, {"i", "j", "k"});
  EXPECT_EQ(kinds(early.violations), (std::vector<std::string>{"slow_takeover", "unowned_at_end", "unowned_at_end"}))
      << early.summary();
}

TEST_F(DividerHistoryCheckerTest, AKeyMayWaitForAChainOfKilledMembersButNotLonger) {
  // a holds k and j and dies; the server still lists b (killed too), which
  // the assignment picks next: k waits for b's session as well.
  lines({"0 a started", "0 b started", "0 c started", "10 a start k 5", "10 a start j 6", "4400 c start k 7",
         "5600 c start j 8"});
  fault_at(1000, fault_kind::kill, "a");
  fault_at(2500, fault_kind::kill, "b");
  auto r = check();
  EXPECT_EQ(kinds(r.violations), std::vector<std::string>{"slow_takeover"}) << r.summary();
  EXPECT_NE(r.violations[0].description.find("'j'"), std::string::npos) << r.violations[0].description;
  ASSERT_TRUE(r.longest_gap_after_kill.has_value());
  EXPECT_EQ(r.longest_gap_after_kill->key, "j");
}

TEST_F(DividerHistoryCheckerTest, FilesWithTornOrBadLinesAreProblems) {
  scratch_dir dir("divider", "histories and member logs");
  auto path = dir.path() / "x.history";
  std::ofstream(path) << "1 a started pid=1\n2 a start k x\n3 a session connected 01\n4 a start k 5\n5 a sto";
  auto parsed = parse_divider_file(path);
  ASSERT_EQ(parsed.events.size(), 3u);
  ASSERT_EQ(parsed.problems.size(), 2u);
  EXPECT_NE(parsed.problems[0].find("token"), std::string::npos) << parsed.problems[0];
  EXPECT_NE(parsed.problems[1].find("torn"), std::string::npos) << parsed.problems[1];
  EXPECT_EQ(parsed.events[1].verb, divider_verb::note);
  EXPECT_EQ(running_keys(parsed.events), std::set<std::string>{"k"});
}

}  // namespace
}  // namespace nominee::testing
