// nominee-txnlog-check (testing/txn_log/) against a real server's own
// transaction log: a well-behaved history passes with every rule exercised,
// and a session that deletes another live session's ephemeral, or writes a
// record whose key it does not own, is reported at its zxid with its path.
//
// Each test starts its own server: a fresh dataDir, so the log covers every
// node the checker sees deleted (nothing is a "created before the log"
// note), and one test's deliberate violation cannot fail another.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <nominee/operations.hpp>
#include <nominee/session.hpp>

#include "tcp_proxy.hpp"
#include "test_support.hpp"
#include "txn_log_check.hpp"
#include "zookeeper_launcher.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// The layout the checker knows (Layout.java): owner nodes and the sample
// worker's records of divider prefix "jobs" under root "/checked".
const std::string root = "/checked";
const std::string owners = root + "/work/jobs/owners/0a";
const std::string records = root + "/records/jobs";

std::string hex(std::int64_t id) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(id));
  return text;
}

class TxnLogCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zookeeper_options options;
    options.servers = 1;
    cluster_ = std::make_unique<zookeeper_cluster>(options);
  }

  std::unique_ptr<session> connect(const std::string& hosts, bool reconnect_after_expiry = true) {
    auto options = test_options(hosts);
    options.session_timeout = 2000ms;
    options.reconnect_after_expiry = reconnect_after_expiry;
    auto s = std::make_unique<session>(options);
    s->wait_connected(15s);
    return s;
  }

  static void ensure(session& s, const std::string& path) {
    auto done = s.async_ensure_path(path, asio::use_future);
    get_within(done);
  }
  static void create(session& s, const std::string& path, create_mode mode, const std::string& data = "") {
    auto done = s.async_create(path, data, create_options{mode, 0ms, std::nullopt}, asio::use_future);
    get_within(done);
  }
  static void set(session& s, const std::string& path, const std::string& data) {
    auto done = s.async_set(path, data, -1, asio::use_future);
    get_within(done);
  }
  static void remove(session& s, const std::string& path) {
    auto done = s.async_remove(path, -1, asio::use_future);
    get_within(done);
  }
  static bool exists(session& s, const std::string& path) {
    auto done = s.async_exists(path, asio::use_future);
    return get_within(done).has_value();
  }

  // A key owned the way the divider owns one, and its record written the
  // way the sample worker writes it.
  static void own_and_write(session& s, const std::string& key) {
    create(s, owners + "/" + key, create_mode::ephemeral, "member");
    create(s, records + "/" + key, create_mode::persistent, "{\"Value\": 1}");
    set(s, records + "/" + key, "{\"Value\": 2}");
  }

  txn_log_check_result check() {
    txn_log_check_options options;
    options.data_dirs = {cluster_->data_directory(0)};
    options.flags = {"--root", root, "--records", records};
    options.timeout = 120s;
    return run_txn_log_check(options);
  }

  std::unique_ptr<zookeeper_cluster> cluster_;
};

TEST_F(TxnLogCheckTest, WellBehavedSessionsPassWithEveryRuleExercised) {
  const auto hosts = cluster_->connect_string();
  {
    // Declared first, so it outlives the session that reaches the server
    // through it.
    tcp_proxy proxy("127.0.0.1", cluster_->client_port(0));
    auto a = connect(hosts);
    auto b = connect(hosts);
    ensure(*a, owners);
    ensure(*a, records);

    own_and_write(*a, "k1");
    own_and_write(*a, "k2");
    own_and_write(*b, "k3");
    create(*b, root + "/plain", create_mode::ephemeral_sequential);

    // Its own nodes: b one by one, a in a multi (the divider's batched
    // release), and a failed multi that changes nothing.
    remove(*b, owners + "/k3");
    auto released = a->async_multi({op::remove{owners + "/k1", -1}, op::remove{owners + "/k2", -1}}, asio::use_future);
    EXPECT_EQ(get_within(released).size(), 2u);
    auto refused = a->async_multi({op::create{owners + "/k4", "", {create_mode::ephemeral, 0ms, std::nullopt}},
                                   op::remove{owners + "/gone", -1}},
                                  asio::use_future);
    EXPECT_THROW(get_within(refused), std::exception);
    // A new owner of k1 writes its record after the old one let go.
    create(*b, owners + "/k1", create_mode::ephemeral);
    set(*b, records + "/k1", "{\"Value\": 3}");

    // A session the server expires (a partition through the proxy): the
    // server deletes its owner node at its closeSession.
    auto lost = connect(proxy.address(), false);
    state_recorder states(*lost);
    own_and_write(*lost, "k9");
    proxy.black_hole();
    EXPECT_TRUE(wait_until([&] { return !exists(*a, owners + "/k9"); }, 30s)) << "the server never expired it";
    proxy.pass();
    EXPECT_TRUE(states.wait_for(session_state::expired, 30s));
    lost.reset();
    b.reset();  // a client close: its remaining ephemerals go too
    EXPECT_FALSE(exists(*a, owners + "/k1"));
  }

  auto result = check();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(result.violations.empty()) << result.describe();
  EXPECT_EQ(result.count("violations"), 0);
  EXPECT_EQ(result.count("notes"), 0) << result.output;
  EXPECT_EQ(result.count("unknown_deletes"), 0);
  EXPECT_GT(result.count("txns"), 20);
  EXPECT_GE(result.count("sessions_created"), 3);
  EXPECT_GE(result.count("ephemeral_creates"), 6);
  EXPECT_GE(result.count("multis"), 2);
  EXPECT_GE(result.count("failed_txns"), 1);
  EXPECT_GE(result.count("expiries"), 1);
  EXPECT_GE(result.count("session_closes"), 2);
  // k3, k1, k2 by their owners; k9 (expiry) and the second k1 (b's close) by the server.
  EXPECT_EQ(result.count("owner_node_deletes_checked"), 5) << result.summary;
  EXPECT_EQ(result.count("owner_node_expiry_deletes"), 2) << result.summary;
  // Two writes each for k1, k2, k3 and k9, and the new owner's of k1.
  EXPECT_EQ(result.count("record_writes_checked"), 9) << result.summary;
  std::printf("%s\n", result.summary.c_str());
}

TEST_F(TxnLogCheckTest, DeletingAnotherLiveSessionsEphemeralIsReportedAtItsZxid) {
  const auto hosts = cluster_->connect_string();
  auto owner = connect(hosts);
  auto intruder = connect(hosts);
  ensure(*owner, root);
  const std::string path = root + "/not-yours";
  create(*owner, path, create_mode::ephemeral);
  // The server allows it; nominee must never do it.
  remove(*intruder, path);

  auto result = check();
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  ASSERT_EQ(result.violations.size(), 1u) << result.describe();
  const auto& v = result.violations[0];
  EXPECT_EQ(v.kind, "ephemeral_deleted_by_other_session") << v.line;
  EXPECT_EQ(v.path, path) << v.line;
  EXPECT_EQ(v.session, hex(intruder->session_id())) << v.line;
  EXPECT_EQ(v.owner, hex(owner->session_id())) << v.line;
  EXPECT_EQ(v.zxid.rfind("0x", 0), 0u) << v.line;
  EXPECT_EQ(result.count("violations"), 1);
}

TEST_F(TxnLogCheckTest, TakingAnOwnerNodeOrWritingAnotherOwnersRecordIsReported) {
  const auto hosts = cluster_->connect_string();
  auto owner = connect(hosts);
  auto other = connect(hosts);
  ensure(*owner, owners);
  ensure(*owner, records);
  own_and_write(*owner, "k1");
  own_and_write(*owner, "k2");
  set(*other, records + "/k1", "{\"Value\": 9}");  // k1 is owner's
  remove(*other, owners + "/k2");                  // so is k2's owner node
  set(*other, records + "/k2", "{\"Value\": 9}");  // and now k2 has no owner

  auto result = check();
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  ASSERT_EQ(result.violations.size(), 3u) << result.describe();
  EXPECT_EQ(result.violations[0].kind, "record_written_by_non_owner");
  EXPECT_EQ(result.violations[0].path, records + "/k1");
  EXPECT_EQ(result.violations[0].owner, hex(owner->session_id()));
  EXPECT_EQ(result.violations[1].kind, "owner_node_deleted_by_other_session");
  EXPECT_EQ(result.violations[1].path, owners + "/k2");
  EXPECT_EQ(result.violations[1].session, hex(other->session_id()));
  EXPECT_EQ(result.violations[2].kind, "record_written_without_owner_node");
  EXPECT_EQ(result.violations[2].path, records + "/k2");
}

TEST_F(TxnLogCheckTest, BadUsageNamesTheBadValue) {
  txn_log_check_options options;
  options.data_dirs = {"/nonexistent-nominee-data-dir"};
  auto missing = run_txn_log_check(options);
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_NE(missing.errors.find("/nonexistent-nominee-data-dir"), std::string::npos) << missing.errors;

  options.data_dirs = {cluster_->data_directory(0)};
  options.flags = {"--max-lines", "many"};
  auto flag = run_txn_log_check(options);
  EXPECT_EQ(flag.exit_code, 2) << flag.describe();
  EXPECT_NE(flag.errors.find("'many'"), std::string::npos) << flag.errors;
}

}  // namespace
}  // namespace nominee::testing
