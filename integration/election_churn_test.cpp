// Election across real processes (nominee-contender) against a real server:
// churn with resigns, kill -9 and forced expiries; a holder frozen with
// SIGSTOP past its session timeout. The processes write histories; the
// checker (election_history.hpp) asserts that no two ever held the role at
// once, that tokens only grew, and that nobody acted as holder while another
// held. (The herd-free handoff is in election_test.cpp, in process.)
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
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <zookeeper/zookeeper.h>

#include <nominee/election.hpp>
#include <nominee/session.hpp>

#include "child_process.hpp"
#include "election_history.hpp"
#include "fault_deck.hpp"
#include "session_expiry.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

std::string contender_binary() {
  if (const char* path = std::getenv("NOMINEE_CONTENDER")) return path;
  return NOMINEE_CONTENDER_PATH;
}

std::string ms_text(std::int64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

// One nominee-contender process (child_process: ended by its PID, SIGKILLed
// and reaped by the destructor when still running).
class contender_process {
 public:
  struct config {
    std::string hosts, root, role, member;
    fs::path dir;
    int session_timeout_ms = 2000;
    int resign_every_ms = 0;
    std::uint64_t seed = 0;
    int act_every_ms = 0;
  };

  explicit contender_process(config c) : config_(std::move(c)) {}

  const std::string& member() const { return config_.member; }
  fs::path history() const { return config_.dir / (config_.member + ".history"); }
  fs::path session_file() const { return config_.dir / (config_.member + ".session"); }
  fs::path log() const { return config_.dir / (config_.member + ".log"); }
  bool running() const { return child_.running(); }
  pid_t pid() const { return child_.pid(); }

  void start() {
    if (running()) throw std::logic_error(config_.member + " is running already");
    std::vector<std::string> args = {contender_binary(),
                                     "--hosts", config_.hosts,
                                     "--root", config_.root,
                                     "--role", config_.role,
                                     "--member", config_.member,
                                     "--history", history().string(),
                                     "--session-file", session_file().string(),
                                     "--session-timeout-ms", std::to_string(config_.session_timeout_ms)};
    if (config_.resign_every_ms > 0) {
      args.insert(args.end(), {"--resign-every-ms", std::to_string(config_.resign_every_ms), "--seed",
                               std::to_string(config_.seed)});
    }
    if (config_.act_every_ms > 0) args.insert(args.end(), {"--act-every-ms", std::to_string(config_.act_every_ms)});
    child_.spawn(std::move(args), log(), {SIGTERM, SIGINT, SIGPIPE});
  }

  // The last process started got as far as writing `started` (it handles
  // SIGTERM from then on; before, SIGTERM would kill it).
  bool ready() const {
    auto mine = "started pid=" + std::to_string(pid());
    for (auto& e : events(history_verb::started))
      if (e.line.ends_with(" " + mine)) return true;
    return false;
  }

  void signal(int sig) const { child_.signal(sig); }

  // The wait status once the process has exited, or nullopt at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) { return child_.wait_exit(timeout); }

  parsed_history read_history() const { return parse_history_file(history(), config_.role); }

  // Events of one verb at or after `since_ns`.
  std::vector<history_event> events(history_verb verb, std::int64_t since_ns = 0) const {
    std::vector<history_event> out;
    for (auto& e : read_history().events)
      if (e.verb == verb && e.at_ns >= since_ns) out.push_back(e);
    return out;
  }
  std::vector<history_event> notes_starting(const std::string& words, std::int64_t since_ns = 0) const {
    std::vector<history_event> out;
    for (auto& e : read_history().events)
      if (e.verb == history_verb::note && e.detail.rfind(words, 0) == 0 && e.at_ns >= since_ns) out.push_back(e);
    return out;
  }

  std::string log_tail(std::size_t max_chars = 3000) const { return file_tail(log(), max_chars); }

 private:
  config config_;
  child_process child_;
};

class ElectionChurnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
    watcher_ = std::make_unique<session>(test_options(hosts_));
    watcher_->wait_connected(15s);
  }

  contender_process::config config(const std::string& member) const {
    contender_process::config c;
    c.hosts = hosts_;
    c.root = root_;
    c.role = role_;
    c.member = member;
    c.dir = dir_.path();
    c.session_timeout_ms = session_timeout_ms_;
    return c;
  }

  std::size_t queue_length() {
    auto kids = watcher_->async_get_children(root_ + "/roles/" + role_, boost::asio::use_future);
    try {
      return get_within(kids).names.size();
    } catch (const error& e) {
      if (e.code() == errc::no_node) return 0;
      throw;
    }
  }

  // SIGTERM to every running process; each must exit 0 within the deadline.
  void terminate_all(std::vector<contender_process*> processes) {
    ASSERT_TRUE(wait_until(
        [&] { return std::all_of(processes.begin(), processes.end(), [](auto* p) { return !p->running() || p->ready(); }); },
        30s))
        << "a contender did not start within 30 s";
    for (auto* p : processes)
      if (p->running()) {
        faults_.record(fault_kind::terminate, p->member());
        p->signal(SIGTERM);
      }
    auto deadline = steady::now() + 30s;
    for (auto* p : processes) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      auto status = p->wait_exit(std::max(left, 1ms));
      ASSERT_TRUE(status.has_value()) << p->member() << " did not exit within 30 s of SIGTERM\n" << p->log_tail();
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << p->member() << " exited with wait status " << *status << "\n"
          << p->log_tail();
    }
  }

  // Checks the histories against the fault log (which goes beside them).
  history_report check(const std::vector<fs::path>& files) {
    auto faults = faults_.faults();
    write_fault_log(dir_.path() / "faults.log", faults);
    history_check_options options;
    options.forced_expiry_grace_ns = std::int64_t{session_timeout_ms_} * 1'000'000;
    auto report = check_history_files(files, role_, faults, options);
    std::cout << report.summary();
    return report;
  }

  std::string hosts_;
  std::string root_;
  std::string role_ = "coordinator";
  int session_timeout_ms_ = 2000;  // every contender's
  scratch_dir dir_{"election", "histories and contender logs"};
  fault_log faults_;
  std::unique_ptr<session> watcher_;
};

TEST_F(ElectionChurnTest, TenProcessesUnderKillsExpiriesAndResignsNeverHaveTwoHolders) {
  constexpr int processes = 10;
  constexpr auto churn_time = 20s;
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("NOMINEE_CHURN_SEED")) seed = std::stoull(s);
  std::cout << "churn seed " << seed << " (NOMINEE_CHURN_SEED=<seed> repeats the fault choices and resign seeds)\n";
  std::mt19937_64 random(seed);

  std::vector<std::unique_ptr<contender_process>> contenders;
  for (int i = 0; i < processes; ++i) {
    auto c = config("c" + std::to_string(i));
    c.resign_every_ms = 1000;
    c.seed = seed + static_cast<std::uint64_t>(i);
    c.act_every_ms = 10;
    contenders.push_back(std::make_unique<contender_process>(c));
    contenders.back()->start();
  }
  role_observer observer(*watcher_, root_, role_, {});
  ASSERT_TRUE(wait_until([&] { return observer.current().has_value(); }, 30s)) << "nobody was elected";

  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(random() % n); };
  // Every 5 rounds hold 2 kills, 2 expiries and one round without a
  // fault, in a random order (the checks at the end count kills).
  enum class fault_choice { kill, expire, none };
  fault_deck<fault_choice> deck({{fault_choice::kill, 2}, {fault_choice::expire, 2}, {fault_choice::none, 1}}, random);
  // Half the faults go to whoever holds the role right now; a process that
  // has not got as far as writing `started` is left alone.
  auto target = [&]() -> contender_process* {
    if (random() % 2 == 0) {
      if (auto h = observer.current())
        for (auto& c : contenders)
          if (c->member() == h->member_id && c->running() && c->ready()) return c.get();
    }
    std::vector<contender_process*> alive;
    for (auto& c : contenders)
      if (c->running() && c->ready()) alive.push_back(c.get());
    return alive.empty() ? nullptr : alive[pick(alive.size())];
  };

  struct restart {
    contender_process* process;
    steady::time_point at;
  };
  std::vector<restart> restarts;
  int kills = 0, expiries = 0, attached = 0;
  bool expired_a_holder = false;
  auto end = steady::now() + churn_time;
  while (steady::now() < end) {
    // Pacing between faults (not synchronisation: nothing waits on it).
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + pick(900)));
    auto now = steady::now();
    for (auto it = restarts.begin(); it != restarts.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      faults_.record(fault_kind::restart, it->process->member());
      it->process->start();
      it = restarts.erase(it);
    }
    auto* victim = target();
    auto choice = deck.draw();
    if (!expired_a_holder) {
      // Until one expiry has hit a holder, aim the next one at the holder:
      // the run must show a holder losing the role to an expiry.
      if (auto h = observer.current())
        for (auto& c : contenders)
          if (c->member() == h->member_id && c->running() && c->ready()) {
            victim = c.get();
            choice = fault_choice::expire;
          }
    }
    if (!victim) continue;
    if (choice == fault_choice::kill) {
      faults_.record(fault_kind::kill, victim->member());
      victim->signal(SIGKILL);
      auto status = victim->wait_exit(10s);
      ASSERT_TRUE(status && WIFSIGNALED(*status)) << victim->member() << " did not die of SIGKILL";
      ++kills;
      restarts.push_back({victim, steady::now() + std::chrono::milliseconds(200 + pick(1500))});
    } else if (choice == fault_choice::expire) {
      auto credentials = read_session_file(victim->session_file().string());
      if (!credentials) continue;
      char id[32];
      std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(credentials->id));
      fault f{steady_now_ns(), fault_kind::expire, victim->member(), id};
      auto outcome = expire_session(hosts_, *credentials);
      f.detail += " " + outcome;
      faults_.add(f);
      ++expiries;
      attached += outcome == "attached and closed";
      if (outcome == "attached and closed" && observer.current() && observer.current()->member_id == victim->member())
        expired_a_holder = true;
    }
  }
  for (auto& r : restarts) {
    faults_.record(fault_kind::restart, r.process->member());
    r.process->start();
  }
  // The restarted ones get a moment to stand before everyone stops.
  ASSERT_TRUE(wait_until([&] { return queue_length() >= static_cast<std::size_t>(processes) - 2; }, 20s));

  std::vector<contender_process*> all;
  for (auto& c : contenders) all.push_back(c.get());
  ASSERT_NO_FATAL_FAILURE(terminate_all(all));
  ASSERT_TRUE(wait_until([&] { return queue_length() == 0; }, 20s))
      << "candidate nodes left behind after every process exited: " << queue_length();

  std::vector<fs::path> files;
  for (auto& c : contenders) files.push_back(c->history());
  auto report = check(files);
  EXPECT_TRUE(report.ok()) << report.summary() << "holds:\n" << report.timeline();

  // The run exercised what it claims to.
  EXPECT_GE(report.elections, 12u) << "too few handoffs to mean anything";
  EXPECT_GE(report.revoke_reasons["resigned"], 5u);
  EXPECT_GE(kills, 3);
  EXPECT_GE(attached, 2) << "forced expiries that took: " << attached << " of " << expiries;
  EXPECT_GE(report.revoke_reasons["expired"] + report.revoke_reasons["suspended"], 1u)
      << "no holder ever lost the role to an expiry";
  EXPECT_GE(report.acts, 100u) << "holders act every 10 ms";
  // Liveness: the role is never vacant for long. The worst case is a
  // handoff to a killed process's node, which lives one session timeout
  // after the kill; four seconds more of margin for a loaded machine (a
  // clean-clone run beside three builds saw 4.05 s with a 2 s session).
  ASSERT_EQ(report.longest_vacancy.count(role_), 1u);
  auto& gap = report.longest_vacancy[role_];
  EXPECT_LE(gap.length_ns(), std::int64_t{session_timeout_ms_ + 4000} * 1'000'000)
      << "nobody held the role for " << ms_text(gap.length_ns()) << " after " << gap.before << ", until "
      << gap.after;
  // Every process started wrote `started`.
  EXPECT_EQ(report.runs, static_cast<std::size_t>(processes + kills));
  // Each last run ended cleanly.
  for (auto& c : contenders) {
    auto events = c->read_history().events;
    auto last_start = std::find_if(events.rbegin(), events.rend(),
                                   [](const history_event& e) { return e.verb == history_verb::started; });
    bool exited = std::any_of(events.rbegin(), last_start,
                              [](const history_event& e) { return e.verb == history_verb::exiting; });
    EXPECT_TRUE(exited) << c->member() << " did not log `exiting` after SIGTERM\n" << c->log_tail();
  }
}

TEST_F(ElectionChurnTest, AHolderFrozenBySigstopIsReplacedOnlyAfterItsTimeoutAndNeverActsAgain) {
  const int timeout_ms = session_timeout_ms_;
  auto ca = config("frozen");
  ca.act_every_ms = 5;  // and at once after SIGCONT
  contender_process a(ca);
  auto cb = config("successor");
  cb.act_every_ms = 5;
  contender_process b(cb);

  a.start();
  ASSERT_TRUE(wait_until([&] { return !a.events(history_verb::acquired).empty(); }, 30s)) << a.log_tail();
  b.start();
  ASSERT_TRUE(wait_until([&] { return queue_length() == 2; }, 30s)) << b.log_tail();
  auto a_token = a.events(history_verb::acquired).front().token;
  // Let a act a while as holder: the freeze comes mid-term.
  ASSERT_TRUE(wait_until([&] { return a.events(history_verb::acted).size() >= 20; }, 10s));

  auto stop_ns = faults_.record(fault_kind::stop, a.member());
  a.signal(SIGSTOP);
  // Frozen for 2.5 session timeouts; the successor should win meanwhile.
  auto frozen_until = steady::now() + std::chrono::milliseconds(timeout_ms * 5 / 2);
  bool elected_while_frozen = wait_until([&] { return !b.events(history_verb::acquired).empty(); },
                                         std::chrono::milliseconds(timeout_ms * 5 / 2));
  std::this_thread::sleep_until(frozen_until);
  auto resume_ns = faults_.record(fault_kind::resume, a.member());
  a.signal(SIGCONT);

  EXPECT_TRUE(elected_while_frozen) << "the successor was not elected while the holder was frozen\n" << b.log_tail();
  ASSERT_TRUE(wait_until([&] { return !a.events(history_verb::released, resume_ns).empty(); }, 15s))
      << "the frozen holder never logged `revoked` after it was resumed\n"
      << a.log_tail();
  // It stands again on a new session, behind the successor.
  bool restood = wait_until([&] { return queue_length() == 2; }, 15s);

  ASSERT_NO_FATAL_FAILURE(terminate_all({&a, &b}));
  EXPECT_TRUE(restood) << "the frozen contender did not stand again after its session expired\n" << a.log_tail();

  auto report = check({a.history(), b.history()});
  EXPECT_TRUE(report.ok()) << report.summary() << "holds:\n" << report.timeline();

  auto revoked = a.events(history_verb::released, resume_ns);
  ASSERT_FALSE(revoked.empty());
  EXPECT_TRUE(revoked.front().detail == "suspended" || revoked.front().detail == "expired") << revoked.front().line;
  auto elected = b.events(history_verb::acquired);
  ASSERT_FALSE(elected.empty());
  auto b_elected_ns = elected.front().at_ns;
  EXPECT_GT(elected.front().token, a_token) << "tokens only grow";

  // The successor won while a was frozen, and only once a's session could
  // have expired: the server last heard from a at most one heartbeat (a
  // quarter of the timeout) or ping before the stop; half a timeout of margin.
  EXPECT_GT(b_elected_ns, stop_ns);
  EXPECT_LT(b_elected_ns, resume_ns);
  EXPECT_GE(b_elected_ns - stop_ns, static_cast<std::int64_t>(timeout_ms - timeout_ms / 2) * 1'000'000)
      << "elected " << ms_text(b_elected_ns - stop_ns) << " after the stop: before the old session could expire";

  // a never acted as holder once the successor was elected: not while
  // frozen (it cannot), and not in the moment after SIGCONT before it
  // noticed that its lease had lapsed. (An act stamped between the test's
  // record of the stop and the signal landing is fine: a still held the role.)
  auto late_acts = a.events(history_verb::acted, b_elected_ns);
  EXPECT_TRUE(late_acts.empty()) << late_acts.size() << " `act` lines after the successor was elected, the first "
                                 << (late_acts.empty() ? 0 : (late_acts.front().at_ns - resume_ns) / 1000)
                                 << " us after SIGCONT, while the successor had held the role since "
                                 << ms_text(resume_ns - b_elected_ns) << " before SIGCONT: "
                                 << (late_acts.empty() ? "" : late_acts.front().line);
  // And it let go at once once it ran again.
  EXPECT_LT(revoked.front().at_ns - resume_ns, static_cast<std::int64_t>(timeout_ms) * 1'000'000)
      << "revoked " << ms_text(revoked.front().at_ns - resume_ns) << " after SIGCONT";
  auto new_session = a.notes_starting("session connected", resume_ns);
  std::cout << "successor elected " << ms_text(b_elected_ns - stop_ns) << " after the stop; frozen holder revoked ("
            << revoked.front().detail << ") " << (revoked.front().at_ns - resume_ns) / 1000
            << " us after SIGCONT; its new session connected "
            << (new_session.empty() ? std::string("never") : ms_text(new_session.front().at_ns - resume_ns))
            << " after SIGCONT\n";
}

// The checker itself, on made-up histories: it must see what it claims to.
class HistoryCheckerTest : public ::testing::Test {
 protected:
  // "<ms> <member> <verb> ..." lines, times in milliseconds for brevity.
  void lines(std::initializer_list<const char*> text) {
    for (auto* line : text) {
      std::istringstream in(line);
      std::int64_t at_ms = 0;
      std::string rest;
      in >> at_ms;
      std::getline(in, rest);
      auto e = parse_history_line(std::to_string(at_ms * 1'000'000) + rest, "role");
      ASSERT_TRUE(e.has_value()) << line;
      events_.push_back(*e);
    }
  }
  void fault_at(std::int64_t at_ms, fault_kind kind, const std::string& member) {
    faults_.push_back({at_ms * 1'000'000, kind, member, {}});
  }
  history_report check() { return check_histories(events_, faults_); }
  static std::vector<std::string> kinds(const std::vector<violation>& vs) {
    std::vector<std::string> out;
    for (auto& v : vs) out.push_back(v.kind);
    return out;
  }

  std::vector<history_event> events_;
  std::vector<fault> faults_;
};

TEST_F(HistoryCheckerTest, AnOrderlyHandoffIsClean) {
  lines({"0 a started", "1 b started", "10 a elected 5", "20 a revoked resigned", "21 b elected 7", "30 b act 7",
         "40 b exiting", "41 a exiting"});
  auto r = check();
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.elections, 2u);
  EXPECT_EQ(r.runs, 2u);
  ASSERT_EQ(r.holds.size(), 2u);
  EXPECT_EQ(r.holds[1].end_cause, "exiting");
  EXPECT_EQ(r.longest_vacancy["role"].length_ns(), 1'000'000);
}

TEST_F(HistoryCheckerTest, TwoHoldersAtOnceAreAnOverlap) {
  lines({"0 a started", "0 b started", "10 a elected 5", "15 b elected 7", "20 a revoked suspended", "30 b exiting"});
  auto r = check();
  EXPECT_EQ(kinds(r.violations), std::vector<std::string>{"overlap"}) << r.summary();
  EXPECT_NE(r.violations[0].context.find("b elected 7"), std::string::npos) << r.violations[0].context;
}

TEST_F(HistoryCheckerTest, AKilledHolderHoldsUntilTheKillAndNotForever) {
  lines({"0 a started", "0 b started", "10 a elected 5", "3000 b elected 7", "3100 a started", "3200 b exiting",
         "3200 a exiting"});
  auto unexplained = check();
  EXPECT_EQ(kinds(unexplained.violations), (std::vector<std::string>{"open_hold", "overlap"})) << unexplained.summary();
  fault_at(500, fault_kind::kill, "a");
  auto r = check();
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.runs, 3u);
  EXPECT_EQ(r.holds[0].end_cause, "kill");
  EXPECT_EQ(r.holds[0].end_ns, 500'000'000);
}

TEST_F(HistoryCheckerTest, AStoppedHolderEndsAtTheStopButItsLaterActsCount) {
  lines({"0 a started", "0 b started", "10 a elected 5", "20 a act 5", "2100 b elected 7", "5000 a act 5",
         "5001 a revoked suspended", "6000 a exiting", "6000 b exiting"});
  fault_at(100, fault_kind::stop, "a");
  fault_at(4999, fault_kind::resume, "a");
  auto r = check();
  EXPECT_EQ(kinds(r.violations), std::vector<std::string>{"acted_while_other_held"}) << r.summary();
  EXPECT_EQ(r.holds[0].end_cause, "stop");
  EXPECT_EQ(r.holds[0].released_ns, 5001'000'000);
}

TEST_F(HistoryCheckerTest, TokensMustGrow) {
  lines({"0 a started", "0 b started", "10 a elected 9", "20 a revoked resigned", "30 b elected 7", "40 b exiting",
         "40 a exiting"});
  EXPECT_EQ(kinds(check().violations), std::vector<std::string>{"token_order"});
}

TEST_F(HistoryCheckerTest, RevokesWithoutAHoldAndDoubleElectionsAreViolations) {
  lines({"0 a started", "5 a revoked resigned", "10 a elected 5", "12 a elected 5", "20 a exiting"});
  EXPECT_EQ(kinds(check().violations), (std::vector<std::string>{"revoke_without_hold", "acquired_twice"}));
}

TEST_F(HistoryCheckerTest, AForcedExpiryExplainsAShortOverlapOnly) {
  lines({"0 a started", "0 b started", "10 a elected 5", "105 b elected 7", "110 a revoked suspended",
         "200 b revoked resigned", "300 a elected 9", "3000 b elected 11", "3900 a revoked suspended",
         "4000 a exiting", "4000 b exiting"});
  fault_at(100, fault_kind::expire, "a");
  fault_at(2900, fault_kind::expire, "a");
  auto r = check_histories(events_, faults_, [] {
    history_check_options o;
    o.forced_expiry_grace_ns = 500'000'000;
    return o;
  }());
  EXPECT_EQ(kinds(r.tolerated), std::vector<std::string>{"overlap"}) << r.summary();
  EXPECT_EQ(kinds(r.violations), std::vector<std::string>{"overlap"}) << "a held on 900 ms after the expiry";
}

TEST_F(HistoryCheckerTest, FilesWithTornOrBadLinesAreProblems) {
  scratch_dir dir("election", "histories and contender logs");
  auto path = dir.path() / "x.history";
  std::ofstream(path) << "1 a started\n2 a elected x\n3 a session connected 01\n4 a elec";
  auto parsed = parse_history_file(path, "role");
  EXPECT_EQ(parsed.events.size(), 2u);
  ASSERT_EQ(parsed.problems.size(), 2u);
  EXPECT_NE(parsed.problems[0].find("token"), std::string::npos) << parsed.problems[0];
  EXPECT_NE(parsed.problems[1].find("torn"), std::string::npos) << parsed.problems[1];
  EXPECT_EQ(parsed.events[1].verb, history_verb::note);
}

}  // namespace
}  // namespace nominee::testing
