#include "fault_runner.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <nominee/divider_admin.hpp>
#include <nominee/error.hpp>
#include <nominee/session.hpp>

#include "child_process.hpp"
#include "election_history.hpp"
#include "fleet_history.hpp"
#include "session_expiry.hpp"
#include "tcp_proxy.hpp"
#include "txn_log_check.hpp"
#include "zookeeper_launcher.hpp"

namespace nominee::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

const std::string root = "/faults";
const std::string prefix = "jobs";
const std::string role = "cluster-manager";
const std::string space = "ids";

std::string server_name(int server) { return "zk" + std::to_string(server + 1); }

template <class Future>
auto get_within(Future& f, milliseconds timeout) {
  if (f.wait_for(timeout) != std::future_status::ready)
    throw error(make_error_code(errc::deadline_exceeded), "no answer within " + std::to_string(timeout.count()) + " ms");
  return f.get();
}

// One worker of the fleet: its process (restarted under the same name), its
// files, and for a linked worker the proxies between it and each server.
class fleet_worker {
 public:
  fleet_worker(int index, const fs::path& dir) : index_(index), name_("w" + std::to_string(index)), dir_(dir) {}

  const std::string& name() const { return name_; }
  fs::path history() const { return dir_ / (name_ + ".history"); }
  fs::path log() const { return dir_ / (name_ + ".log"); }
  fs::path session_file() const { return dir_ / (name_ + ".session"); }
  child_process& process() { return process_; }
  std::vector<std::unique_ptr<tcp_proxy>>& proxies() { return proxies_; }

  void link_through_proxies(const zookeeper_cluster& cluster) {
    std::string hosts;
    for (int s = 0; s < cluster.size(); ++s) {
      proxies_.push_back(std::make_unique<tcp_proxy>("127.0.0.1", cluster.client_port(s)));
      hosts += (hosts.empty() ? "" : ",") + proxies_.back()->address();
    }
    hosts_ = hosts;
  }

  void spawn(const fault_run_options& o, const std::string& direct_hosts) {
    process_.spawn({o.worker_path, "--hosts", hosts_.empty() ? direct_hosts : hosts_, "--root", root, "--prefix",
                    prefix, "--name", name_, "--affinity", "1", "--session-timeout-ms",
                    std::to_string(o.schedule.session_timeout.count()), "--tick-ms", std::to_string(o.tick.count()),
                    "--status", "off", "--quiet", "--history", history().string(), "--range-space",
                    space, "--draw-interval-ms", std::to_string(o.draw_interval.count()), "--session-file",
                    session_file().string()},
                   log(), {SIGTERM, SIGINT});
    paused_ = false;
    exit_expected_ = false;
  }

  void set_paused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }
  // Set when the runner kills or terminates it: an exit it did not cause
  // is a crash.
  void expect_exit() { exit_expected_ = true; }
  bool exit_expected() const { return exit_expected_; }

 private:
  int index_;
  std::string name_;
  fs::path dir_;
  child_process process_;
  std::vector<std::unique_ptr<tcp_proxy>> proxies_;
  std::string hosts_;  // through the proxies; empty: straight to the servers
  bool paused_ = false;
  bool exit_expected_ = false;
};

class fault_run {
 public:
  explicit fault_run(const fault_run_options& options)
      : options_(options),
        steps_(make_schedule(options.schedule)),
        scratch_(options.directory.empty() ? std::make_unique<scratch_dir>("faults", "fault runner histories")
                                           : nullptr),
        dir_(options.directory.empty() ? scratch_->path() : options.directory) {
    fs::create_directories(dir_);
  }

  fault_run_result run() {
    fault_run_result result;
    result.directory = dir_;
    std::ostringstream text;
    text << "fault runner: seed " << options_.schedule.seed << ", " << steps_.size() << " steps over "
         << options_.schedule.duration.count() / 1000 << " s, " << options_.schedule.workers << " workers ("
         << options_.schedule.partitionable << " behind proxies), session timeout "
         << options_.schedule.session_timeout.count() << " ms\n";
    say(text.str());
    try {
      start_cluster();
      start_fleet();
    } catch (...) {
      keep_ = scratch_ != nullptr;  // the logs say why
      throw;
    }
    std::string trouble;
    auto played_from = clock_type::now();
    try {
      play();
      trouble = settle();
    } catch (const std::exception& e) {
      trouble = std::string("the run stopped: ") + e.what();
    }
    auto played = std::chrono::duration_cast<milliseconds>(clock_type::now() - played_from);
    std::int64_t end_ns = steady_now_ns();
    stop_fleet();
    write_fault_log(dir_ / "faults.log", faults_.faults());

    fleet_check_options check;
    check.session_timeout_ns = options_.schedule.session_timeout.count() * 1'000'000;
    check.end_ns = trouble.empty() ? end_ns : 0;
    check.expected_keys = {expected_keys_.begin(), expected_keys_.end()};
    check.expected_roles = {role};
    std::vector<fs::path> files;
    for (auto& w : workers_) files.push_back(w->history());
    auto report = check_fleet_files(files, faults_.faults(), check);
    auto server_log = check_server_logs();

    result.ok = trouble.empty() && report.ok() && crashes_.empty() && server_log.ok();
    text << "played " << played.count() << " ms (the latest step " << max_lateness_.count() << " ms late); steps:";
    for (auto& [kind, n] : count_steps(steps_)) text << " " << kind << "=" << n;
    text << "\n" << report.summary();
    text << "server txn log: " << server_log.summary << "\n";
    if (!server_log.ok()) text << "FAILED: the servers' own logs break a rule\n" << server_log.describe();
    if (!trouble.empty()) text << "\nFAILED: " << trouble << "\n";
    for (auto& c : crashes_) text << "\nCRASH: " << c << "\n";
    const auto& sc = options_.schedule;
    text << (result.ok ? "fault runner: OK\n"
                       : "fault runner: FAILED (replay: --seed " + std::to_string(sc.seed) + " --duration-s " +
                             std::to_string(sc.duration.count() / 1000) + " --workers " + std::to_string(sc.workers) +
                             " --partitionable " + std::to_string(sc.partitionable) + " --keys " +
                             std::to_string(sc.initial_keys) + " --session-timeout-ms " +
                             std::to_string(sc.session_timeout.count()) + ")\n");
    result.summary = text.str();

    std::ostringstream json;
    json << "{\"seed\": " << options_.schedule.seed << ", \"ok\": " << (result.ok ? "true" : "false")
         << ", \"duration_ms\": " << played.count() << ", \"max_step_lateness_ms\": " << max_lateness_.count()
         << ", \"crashes\": " << crashes_.size()
         << ", \"workers\": " << options_.schedule.workers
         << ", \"session_timeout_ms\": " << options_.schedule.session_timeout.count() << ", \"steps\": {";
    bool first = true;
    for (auto& [kind, n] : count_steps(steps_)) {
      json << (first ? "" : ", ") << "\"" << kind << "\": " << n;
      first = false;
    }
    json << "}, \"check\": " << report.json()
         << ", \"txn_log\": " << (server_log.summary.empty() ? "null" : server_log.summary) << "}";
    result.json = json.str();
    if (!result.ok || options_.keep_files) {
      if (scratch_) keep_ = true;
      result.directory = dir_;
    }
    return result;
  }

  ~fault_run() {
    // Whatever happened, no process outlives the run (child_process and
    // zookeeper_cluster kill by PID in their destructors).
    if (server_restart_.joinable()) server_restart_.join();
    if (scratch_ && keep_) ::setenv("NOMINEE_KEEP_HISTORIES", "1", 1);
  }

 private:
  void say(const std::string& words) {
    if (options_.verbose) std::cerr << words << std::flush;
  }

  // The servers' own word (issue 14): their transaction logs, replayed by
  // nominee-txnlog-check, show no session deleting a node it did not own
  // and no record written by a session that did not own its key. Read
  // while the servers still run: each logs a txn before it answers, and a
  // torn record at a log's end is a note, not a failure. The dataDirs are
  // fresh, so the logs cover every node the run made.
  txn_log_check_result check_server_logs() {
    txn_log_check_options check;
    for (int s = 0; s < cluster_->size(); ++s) check.data_dirs.push_back(cluster_->data_directory(s));
    check.flags = {"--root", root, "--records", root + "/records/" + prefix, "--max-lines", "20"};
    try {
      auto result = run_txn_log_check(check);
      say("server txn log: " + result.summary + "\n");
      return result;
    } catch (const std::exception& e) {
      txn_log_check_result failed;
      failed.errors = std::string("cannot run the checker: ") + e.what() + "\n";
      return failed;
    }
  }

  void start_cluster() {
    zookeeper_options z;
    z.servers = 3;
    // The runner tests the recipes' guarantees, not the disk: a kill -9
    // loses nothing the server wrote to the page cache, and fsync stalls on
    // a shared disk would only add noise to the timings.
    z.fsync = false;
    cluster_ = std::make_unique<zookeeper_cluster>(z);
    session_options s;
    s.hosts = cluster_->connect_string();
    s.session_timeout = 10s;
    admin_session_ = std::make_unique<session>(s);
    admin_session_->wait_connected(30s);
    admin_ = std::make_unique<divider_admin>(*admin_session_, root, prefix);
    auto keys = initial_keys(options_.schedule);
    change_keys(step_kind::add_keys, keys);
  }

  void start_fleet() {
    for (int i = 0; i < options_.schedule.workers; ++i) {
      workers_.push_back(std::make_unique<fleet_worker>(i, dir_));
      if (i < options_.schedule.partitionable) workers_.back()->link_through_proxies(*cluster_);
      workers_.back()->spawn(options_, cluster_->connect_string());
    }
    // Warm up: every key owned before the first fault.
    std::string why;
    if (!poll_until([&] { return fleet_stays_settled(&why); }, 60s, 250ms)) {
      for (auto& w : workers_)
        if (w->process().wait_exit(0ms)) why += "\n" + w->name() + " exited:\n" + file_tail(w->log(), 1500);
      throw std::runtime_error("the fleet did not own every key within 60 s of starting: " + why);
    }
    say("fleet ready: every key owned\n");
  }

  void play() {
    auto start = clock_type::now();
    for (auto& step : steps_) {
      std::this_thread::sleep_until(start + step.at);
      // A step that blocks (a restart waiting for a flush to end, an admin
      // write during an election) makes the next ones late: measured, so a
      // replay that drifted says so.
      auto late = std::chrono::duration_cast<milliseconds>(clock_type::now() - (start + step.at));
      max_lateness_ = std::max(max_lateness_, late);
      say("  " + describe(step) + (late > 500ms ? " (" + std::to_string(late.count()) + " ms late)" : "") + "\n");
      find_crashes();
      execute(step);
    }
    if (server_restart_.joinable()) server_restart_.join();
    if (!server_restart_error_.empty()) throw std::runtime_error(server_restart_error_);
  }

  void execute(const fault_step& step) {
    fleet_worker* w = step.worker >= 0 ? workers_.at(static_cast<std::size_t>(step.worker)).get() : nullptr;
    switch (step.kind) {
      case step_kind::kill_worker:
        faults_.record(fault_kind::kill, w->name());
        w->expect_exit();
        if (w->paused()) w->process().resume();
        w->process().kill();
        w->process().wait_exit(10s);
        break;
      case step_kind::terminate_worker:
        faults_.record(fault_kind::terminate, w->name());
        w->expect_exit();
        w->process().terminate();  // it flushes and exits; restart_worker waits for that
        break;
      case step_kind::restart_worker:
        if (!w->exit_expected()) break;  // it crashed and was started again already
        if (!w->process().wait_exit(options_.schedule.session_timeout * 3 + 5s)) {
          faults_.record(fault_kind::kill, w->name(), "did not exit after SIGTERM");
          w->process().kill();
          w->process().wait_exit(10s);
        }
        faults_.record(fault_kind::restart, w->name());
        w->spawn(options_, cluster_->connect_string());
        break;
      case step_kind::pause_worker:
        faults_.record(fault_kind::stop, w->name(), step.value ? "past the session timeout" : "short of it");
        w->process().stop();
        w->set_paused(true);
        break;
      case step_kind::resume_worker:
        faults_.record(fault_kind::resume, w->name());
        w->process().resume();
        w->set_paused(false);
        break;
      case step_kind::expire_session: expire(*w); break;
      case step_kind::kill_leader:
      case step_kind::kill_follower: kill_server(step.kind == step_kind::kill_leader); break;
      case step_kind::restart_server: restart_server(); break;
      case step_kind::partition:
        faults_.record(fault_kind::partition, w->name(), step.value ? "past the session timeout" : "short of it");
        for (auto& p : w->proxies()) p->black_hole();
        break;
      case step_kind::slow_link:
        faults_.record(fault_kind::slow_link, w->name(), std::to_string(step.value) + " ms");
        for (auto& p : w->proxies()) p->delay(milliseconds(step.value));
        break;
      case step_kind::heal:
        faults_.record(fault_kind::heal, w->name());
        for (auto& p : w->proxies()) p->pass();
        break;
      case step_kind::set_affinity: set_affinity(*w, step.value); break;
      case step_kind::add_keys:
      case step_kind::remove_keys: change_keys(step.kind, step.keys); break;
    }
  }

  // A worker that exited without the runner killing or terminating it
  // crashed: that fails the run whatever the histories say (its last lines
  // and its log's tail go in the report). It is started again so the
  // schedule goes on; the kill recorded now ends its work for the
  // checker, later than it really ended.
  void find_crashes() {
    for (auto& w : workers_) {
      if (w->exit_expected() || !w->process().running()) continue;
      auto status = w->process().wait_exit(0ms);
      if (!status) continue;
      std::string how = WIFSIGNALED(*status) ? "killed by signal " + std::to_string(WTERMSIG(*status))
                                             : "exited with status " + std::to_string(WEXITSTATUS(*status));
      faults_.record(fault_kind::kill, w->name(), "crashed: " + how);
      crashes_.push_back(w->name() + " " + how + "; its log ends:\n" + file_tail(w->log(), 1500));
      say("    " + w->name() + " CRASHED (" + how + "); starting it again\n");
      faults_.record(fault_kind::restart, w->name(), "after a crash");
      w->spawn(options_, cluster_->connect_string());
    }
  }

  void expire(fleet_worker& w) {
    auto credentials = read_session_file(w.session_file().string());
    if (!credentials) {
      say("    (no session file yet: nothing to expire)\n");
      return;
    }
    // Recorded only when it took: the checkers forgive a holder for a few
    // moments after a forced expiry, and must not for one that failed.
    auto at = steady_now_ns();
    auto outcome = expire_session(cluster_->connect_string(), *credentials, 5s);
    say("    " + outcome + "\n");
    if (outcome == "attached and closed") faults_.add(fault{at, fault_kind::expire, w.name(), outcome});
  }

  void kill_server(bool leader) {
    if (server_restart_.joinable()) server_restart_.join();
    std::optional<int> victim;
    if (leader) victim = cluster_->leader();
    if (!victim) {
      for (int s = 0; s < cluster_->size() && !victim; ++s)
        if (cluster_->running(s) && (!leader ? cluster_->mode(s) == "follower" : true)) victim = s;
    }
    if (!victim) {
      say("    (no server to kill)\n");
      return;
    }
    faults_.record(fault_kind::server_kill, server_name(*victim), leader ? "leader" : "follower");
    cluster_->kill(*victim);
    down_server_ = victim;
  }

  // On a thread of its own: a JVM takes seconds to start, and the schedule
  // goes on meanwhile.
  void restart_server() {
    if (!down_server_) return;
    int server = *down_server_;
    down_server_.reset();
    faults_.record(fault_kind::server_restart, server_name(server));
    if (server_restart_.joinable()) server_restart_.join();
    server_restart_ = std::thread([this, server] {
      try {
        cluster_->start(server);
      } catch (const std::exception& e) {
        server_restart_error_ = server_name(server) + " did not come back: " + e.what();
      }
    });
  }

  void set_affinity(fleet_worker& w, std::int64_t affinity) {
    faults_.record(fault_kind::affinity, w.name(), std::to_string(affinity));
    try {
      auto done = admin_->async_set_affinity(w.name(), affinity, boost::asio::use_future);
      get_within(done, 10s);
    } catch (const std::exception& e) {
      // The member may be between sessions; the affinity it comes back with
      // is its own flag's.
      say(std::string("    (not applied: ") + e.what() + ")\n");
    }
  }

  // Retried until ZooKeeper confirms it (adding and removing are
  // idempotent), so the expected work set is exactly what ZooKeeper has.
  void change_keys(step_kind kind, const std::vector<std::string>& keys) {
    bool adding = kind == step_kind::add_keys;
    faults_.record(adding ? fault_kind::add_keys : fault_kind::remove_keys, "admin", std::to_string(keys.size()));
    std::string last_error;
    auto deadline = clock_type::now() + 60s;
    for (int attempt = 0; attempt < 30 && clock_type::now() < deadline; ++attempt) {
      try {
        auto done = adding ? admin_->async_add_work(keys, boost::asio::use_future)
                           : admin_->async_remove_work(keys, boost::asio::use_future);
        get_within(done, 10s);
        for (auto& k : keys) {
          if (adding) expected_keys_.insert(k);
          else expected_keys_.erase(k);
        }
        return;
      } catch (const std::exception& e) {
        last_error = e.what();
        std::this_thread::sleep_for(500ms);
      }
    }
    throw std::runtime_error(std::string(adding ? "adding" : "removing") + " keys failed for 60 s: " + last_error);
  }

  // Every expected key (and no other) is in ZooKeeper, owned by the member
  // the assignment gives it, and the role has a holder.
  bool fleet_settled(std::string* why) {
    try {
      auto got = admin_->async_assignment(boost::asio::use_future);
      auto a = get_within(got, 10s);
      std::set<std::string> present;
      for (auto& k : a.keys) {
        present.insert(k.key);
        if (!k.owned() || k.moving()) {
          *why = k.key + (k.owned() ? " is moving from " + *k.owner : std::string(" is unowned"));
          return false;
        }
      }
      if (present != expected_keys_) {
        *why = "ZooKeeper has " + std::to_string(present.size()) + " keys, the runner expects " +
               std::to_string(expected_keys_.size());
        for (auto& k : expected_keys_)
          if (!present.count(k)) *why += "; lost: " + k;
        return false;
      }
      // A killed worker's nodes outlive it until its session expires: only
      // members (and a role holder) that are a running worker count.
      auto live = live_endpoints();
      for (auto& [id, m] : a.members)
        if (!live.count(m.endpoint)) {
          *why = "member " + id + " (" + m.endpoint + ") is not a running worker";
          return false;
        }
      auto roles = admin_->async_roles(boost::asio::use_future);
      auto r = get_within(roles, 10s);
      auto it = r.roles.find(role);
      if (it == r.roles.end() || !it->second.holder) {
        *why = "nobody holds " + role;
        return false;
      }
      if (!live.count(it->second.holder->endpoint)) {
        *why = role + " is held by " + it->second.holder->member_id + " (" + it->second.holder->endpoint +
               "), not a running worker";
        return false;
      }
      return true;
    } catch (const std::exception& e) {
      *why = e.what();
      return false;
    }
  }

  // "pid:<pid>" of every worker process running now (its endpoint).
  std::set<std::string> live_endpoints() {
    std::set<std::string> out;
    for (auto& w : workers_)
      if (w->process().running() && !w->process().wait_exit(0ms)) out.insert("pid:" + std::to_string(w->process().pid()));
    return out;
  }

  // Settled, and still so a second later (an owner node is created a moment
  // before its worker writes `start`; a member may be about to leave).
  bool fleet_stays_settled(std::string* why) {
    find_crashes();
    if (!fleet_settled(why)) return false;
    std::this_thread::sleep_for(1s);
    return fleet_settled(why);
  }

  std::string settle() {
    for (auto& w : workers_) {
      if (w->paused()) {
        faults_.record(fault_kind::resume, w->name(), "settle");
        w->process().resume();
        w->set_paused(false);
      }
      for (auto& p : w->proxies()) p->pass();
    }
    std::string why;
    if (!poll_until([&] { return fleet_stays_settled(&why); }, options_.settle_timeout, 250ms))
      return "the fleet did not settle within " + std::to_string(options_.settle_timeout.count()) + " ms: " + why;
    say("settled: every key owned by its target\n");
    return {};
  }

  void stop_fleet() {
    find_crashes();
    for (auto& w : workers_) {
      if (!w->process().running()) continue;
      if (w->paused()) {
        faults_.record(fault_kind::resume, w->name(), "final");
        w->process().resume();
        w->set_paused(false);
      }
      faults_.record(fault_kind::terminate, w->name(), "final");
      w->expect_exit();
      w->process().terminate();
    }
    for (auto& w : workers_) {
      if (w->process().running() && !w->process().wait_exit(options_.schedule.session_timeout * 3 + 5s)) {
        w->process().kill();
        w->process().wait_exit(10s);
      }
    }
  }

  fault_run_options options_;
  std::vector<fault_step> steps_;
  std::unique_ptr<scratch_dir> scratch_;
  fs::path dir_;
  bool keep_ = false;
  std::unique_ptr<zookeeper_cluster> cluster_;
  std::unique_ptr<session> admin_session_;
  std::unique_ptr<divider_admin> admin_;
  std::vector<std::unique_ptr<fleet_worker>> workers_;
  std::set<std::string> expected_keys_;
  fault_log faults_;
  std::optional<int> down_server_;
  milliseconds max_lateness_{0};
  std::vector<std::string> crashes_;  // what each crash looked like
  std::thread server_restart_;
  std::string server_restart_error_;
};

}  // namespace

fault_run_result run_faults(const fault_run_options& options) {
  if (options.worker_path.empty() || !fs::exists(options.worker_path))
    throw std::runtime_error("no nominee-worker at '" + options.worker_path + "' (build it, or pass --worker PATH)");
  fault_run run(options);
  return run.run();
}

}  // namespace nominee::testing
