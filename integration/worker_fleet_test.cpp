// The sample worker fleet end to end: three nominee-worker processes on 60
// keys against a real server. Every key's record keeps counting up and names
// the member whose owner node holds the key; a worker killed with SIGKILL
// has its keys taken over once its session expires; one sent SIGTERM hands
// its keys over and exits 0. The workers' histories then go through the
// divider checker (no key on two workers at once, tokens only grow).
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <nominee/divider_admin.hpp>
#include <nominee/key_names.hpp>

#include "child_main.hpp"  // numbered_keys
#include "child_process.hpp"
#include "divider_history.hpp"
#include "key_records.hpp"
#include "owner_nodes.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using worker::decode_record;
using worker::record;

constexpr auto session_timeout = 4000ms;
const std::string prefix = "fleet";

class worker_process {
 public:
  worker_process(std::string name, const std::filesystem::path& dir) : name_(std::move(name)), dir_(dir) {}
  void spawn(const std::string& hosts, const std::string& root) {
    process_.spawn({NOMINEE_WORKER_PATH, "--hosts", hosts, "--root", root, "--prefix", prefix, "--name", name_,
                    "--session-timeout-ms", std::to_string(session_timeout.count()), "--tick-ms", "200",
                    "--status", "off", "--quiet", "--history", history().string()},
                   dir_ / (name_ + ".log"), {SIGTERM, SIGINT});
  }
  const std::string& name() const { return name_; }
  std::filesystem::path history() const { return dir_ / (name_ + ".history"); }
  child_process& process() { return process_; }
  std::string log_tail() const { return file_tail(dir_ / (name_ + ".log")); }

 private:
  std::string name_;
  std::filesystem::path dir_;
  child_process process_;
};

class WorkerFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
    observer_ = connect_session(hosts_);
    keys_ = numbered_keys(60);
  }

  void seed_keys() {
    divider_admin admin(*observer_, root_, prefix);
    auto added = admin.async_add_work(keys_, boost::asio::use_future);
    get_within(added);
  }

  // key -> its record, for the keys that have one.
  std::map<std::string, record> records() {
    std::map<std::string, record> out;
    auto dir = root_ + "/records/" + key_node_name(prefix);
    for (auto& key : keys_) {
      try {
        auto got = observer_->async_get(worker::key_records::path_of(dir, key), boost::asio::use_future);
        if (auto r = decode_record(get_within(got).data)) out[key] = *r;
      } catch (const error& e) {
        if (e.code() != errc::no_node) throw;
      }
    }
    return out;
  }

  // Every key is owned by one of `members`, and its record counted up since
  // `before` under that owner's name. Describes what is not so in *why.
  bool records_follow_owners(const std::map<std::string, record>& before, const std::set<std::string>& members,
                             std::string* why) {
    auto owners = read_owner_nodes(*observer_, root_, prefix);
    auto now = records();
    for (auto& key : keys_) {
      auto owner = owners.find(key);
      if (owner == owners.end() || !members.count(owner->second)) {
        *why = key + " is owned by '" + (owner == owners.end() ? std::string("nobody") : owner->second) + "'";
        return false;
      }
      auto r = now.find(key);
      if (r == now.end()) {
        *why = key + " has no record";
        return false;
      }
      if (r->second.current_worker != owner->second) {
        *why = key + ": CurrentWorker '" + r->second.current_worker + "' but owner '" + owner->second + "'";
        return false;
      }
      auto was = before.find(key);
      if (was != before.end() && r->second.value <= was->second.value) {
        *why = key + ": Value " + std::to_string(r->second.value) + " has not grown past " +
               std::to_string(was->second.value);
        return false;
      }
    }
    return true;
  }

  void expect_follow(const std::set<std::string>& members, std::chrono::milliseconds within, const char* phase) {
    auto before = records();
    std::string why;
    bool ok = poll_until([&] { return records_follow_owners(before, members, &why); }, within, 200ms);
    ASSERT_TRUE(ok) << phase << ": the records did not follow the owners within " << within.count() << " ms: "
                    << why;
  }

  std::string hosts_;
  std::string root_;
  std::unique_ptr<session> observer_;
  std::vector<std::string> keys_;
  fault_log faults_;
};

TEST_F(WorkerFleet, RecordsFollowTheOwnersThroughAKillAndACleanLeave) {
  scratch_dir dir("worker-fleet", "worker histories");
  seed_keys();
  std::vector<std::unique_ptr<worker_process>> workers;
  for (auto name : {"w1", "w2", "w3"}) {
    workers.push_back(std::make_unique<worker_process>(name, dir.path()));
    workers.back()->spawn(hosts_, root_);
  }
  expect_follow({"w1", "w2", "w3"}, 60s, "three workers start");
  if (HasFatalFailure()) return;
  expect_follow({"w1", "w2", "w3"}, 30s, "three workers count up");  // every Value grows
  if (HasFatalFailure()) return;
  auto shares = read_owner_nodes(*observer_, root_, prefix);
  for (auto& w : workers) {
    auto owned = std::count_if(shares.begin(), shares.end(), [&](auto& kv) { return kv.second == w->name(); });
    EXPECT_GT(owned, 0) << w->name() << " owns no key of 60";
  }

  // kill -9: w1's keys wait for its session to expire, then move.
  faults_.record(fault_kind::kill, "w1");
  workers[0]->process().kill();
  ASSERT_TRUE(workers[0]->process().wait_exit(10s).has_value());
  expect_follow({"w2", "w3"}, session_timeout + 30s, "after kill -9 of w1");
  if (HasFatalFailure()) return;

  // SIGTERM: w2 flushes (its keys go to w3), then exits 0.
  faults_.record(fault_kind::terminate, "w2");
  workers[1]->process().terminate();
  auto status = workers[1]->process().wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "w2 did not exit within 60 s of SIGTERM\n" << workers[1]->log_tail();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "w2 exit status " << *status << "\n"
                                                               << workers[1]->log_tail();
  expect_follow({"w3"}, 30s, "after w2 left");
  if (HasFatalFailure()) return;

  faults_.record(fault_kind::terminate, "w3");
  workers[2]->process().terminate();
  status = workers[2]->process().wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "w3 did not exit within 60 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "w3 exit status " << *status;

  std::vector<std::filesystem::path> files;
  for (auto& w : workers) files.push_back(w->history());
  divider_check_options options;
  options.session_timeout_ns = std::chrono::nanoseconds(session_timeout).count();
  auto report = check_divider_files(files, faults_.faults(), options);
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.unflushed_exits, 0u) << report.summary();
  std::cout << report.summary() << "\n";
}

}  // namespace
}  // namespace nominee::testing
