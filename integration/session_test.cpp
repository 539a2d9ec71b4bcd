// The session against a real ZooKeeper server.
#include <nominee/session.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "fault_injection.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

template <class T>
struct outcome {
  std::error_code ec;
  T value{};
};

// Runs start(callback) and waits (bounded) for the callback's arguments.
template <class T, class Start>
outcome<T> await(Start start, std::chrono::milliseconds timeout = 20s) {
  auto promise = std::make_shared<std::promise<outcome<T>>>();
  auto result = promise->get_future();
  start([promise](std::error_code ec, T value) { promise->set_value({ec, std::move(value)}); });
  return get_within(result, timeout);
}

template <class Start>
std::error_code await_ec(Start start, std::chrono::milliseconds timeout = 20s) {
  auto promise = std::make_shared<std::promise<std::error_code>>();
  auto result = promise->get_future();
  start([promise](std::error_code ec) { promise->set_value(ec); });
  return get_within(result, timeout);
}


class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }

  std::unique_ptr<session> connect(session_options options) {
    auto s = std::make_unique<session>(std::move(options));
    s->wait_connected(15s);
    return s;
  }
  std::unique_ptr<session> connect() { return connect(test_options(hosts_)); }

  void ensure(session& s, const std::string& path) {
    ASSERT_FALSE(await_ec([&](auto cb) { s.async_ensure_path(path, cb); })) << path;
  }

  std::string hosts_;
  std::string root_;
};

// Expected answers (no_node, node_exists, bad_version) are counted as
// operations but not as failures; an operation with no answer is.
TEST_F(SessionTest, StatisticsCountOnlyUnansweredOperationsAsFailed) {
  auto s = connect();
  ensure(*s, root_);
  auto path = root_ + "/counted";
  EXPECT_EQ(await<node>([&](auto cb) { s->async_get(path, cb); }).ec, errc::no_node);
  ASSERT_FALSE(await<created_node>([&](auto cb) { s->async_create(path, "", {}, cb); }).ec);
  EXPECT_EQ(await<created_node>([&](auto cb) { s->async_create(path, "", {}, cb); }).ec, errc::node_exists);
  EXPECT_EQ(await<stat>([&](auto cb) { s->async_set(path, "x", 7, cb); }).ec, errc::bad_version);
  auto answered = s->statistics();
  EXPECT_GE(answered.operations.count, 4u);
  EXPECT_EQ(answered.failed, 0u);

  // No server behind this one: its connect times out.
  auto options = test_options("127.0.0.1:" + std::to_string(unused_loopback_port()));
  session lonely(options);
  auto unanswered = await<node>([&](auto cb) { lonely.async_get("/x", cb); }, 60s);
  EXPECT_TRUE(unanswered.ec) << "a get with no server cannot succeed";
  EXPECT_EQ(lonely.statistics().failed, 1u) << unanswered.ec.message();
}

TEST_F(SessionTest, ConnectsAndReportsTheSession) {
  auto s = connect();
  EXPECT_EQ(s->state(), session_state::connected);
  EXPECT_NE(s->session_id(), 0);
  EXPECT_EQ(s->session_password().size(), 16u);
  EXPECT_GT(s->negotiated_timeout().count(), 0);
  EXPECT_NE(s->current_server().find("127.0.0.1"), std::string::npos) << s->current_server();
}

// The C client connects on its own thread, and can say so before the new
// handle is published to the session: that "connected" must still count.
// (It was dropped as a retired handle's news; the session stayed
// "connecting" while its requests went through.)
TEST_F(SessionTest, AConnectReportedBeforeTheHandleIsPublishedStillCounts) {
  // An executor that is already running, as in a service: the report is
  // handled while the constructor is still publishing the handle.
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  detail::fault_injection::delay_handle_publication_by(1000);
  std::unique_ptr<session> s;
  try {
    s = std::make_unique<session>(io.get_executor(), test_options(hosts_));
  } catch (...) {
    detail::fault_injection::delay_handle_publication_by(0);
    work.reset();
    io.stop();
    runner.join();
    throw;
  }
  detail::fault_injection::delay_handle_publication_by(0);
  EXPECT_NO_THROW(s->wait_connected(15s));
  EXPECT_EQ(s->state(), session_state::connected);
  EXPECT_NE(s->session_id(), 0);
  s.reset();
  work.reset();
  runner.join();
}

TEST_F(SessionTest, CreateGetSetExistsChildrenRemove) {
  auto s = connect();
  ensure(*s, root_);
  auto path = root_ + "/a";

  auto created = await<created_node>([&](auto cb) { s->async_create(path, "hello", {}, cb); });
  ASSERT_FALSE(created.ec) << created.ec.message();
  EXPECT_EQ(created.value.path, path);
  EXPECT_EQ(created.value.stat.version, 0);
  EXPECT_GT(created.value.stat.czxid, 0);
  EXPECT_EQ(created.value.stat.ephemeral_owner, 0);

  auto got = await<node>([&](auto cb) { s->async_get(path, cb); });
  ASSERT_FALSE(got.ec);
  EXPECT_EQ(got.value.data, "hello");
  EXPECT_EQ(got.value.path, path);
  EXPECT_EQ(got.value.stat, created.value.stat);

  auto set = await<stat>([&](auto cb) { s->async_set(path, "world", 0, cb); });
  ASSERT_FALSE(set.ec);
  EXPECT_EQ(set.value.version, 1);
  EXPECT_EQ(set.value.data_length, 5);

  auto there = await<std::optional<stat>>([&](auto cb) { s->async_exists(path, cb); });
  ASSERT_FALSE(there.ec);
  ASSERT_TRUE(there.value.has_value());
  EXPECT_EQ(there.value->version, 1);

  auto missing = await<std::optional<stat>>([&](auto cb) { s->async_exists(root_ + "/missing", cb); });
  EXPECT_FALSE(missing.ec) << "a missing node is not an error for exists";
  EXPECT_FALSE(missing.value.has_value());

  auto kids = await<children>([&](auto cb) { s->async_get_children(root_, cb); });
  ASSERT_FALSE(kids.ec);
  EXPECT_EQ(kids.value.names, std::vector<std::string>{"a"});
  EXPECT_EQ(kids.value.stat.num_children, 1);

  auto again = await<created_node>([&](auto cb) { s->async_create(path, "", {}, cb); });
  EXPECT_EQ(again.ec, errc::node_exists);
  EXPECT_TRUE(is_node_exists(again.ec));
  EXPECT_EQ(again.value.path, path) << "a failed result still names its path";

  EXPECT_FALSE(await_ec([&](auto cb) { s->async_remove(path, 1, cb); }));
  auto gone = await<node>([&](auto cb) { s->async_get(path, cb); });
  EXPECT_EQ(gone.ec, errc::no_node);
  EXPECT_EQ(gone.value.path, path);
}

TEST_F(SessionTest, CreateModes) {
  auto s = connect();
  ensure(*s, root_);

  create_options sequential{create_mode::persistent_sequential, {}, {}};
  auto first = await<created_node>([&](auto cb) { s->async_create(root_ + "/q-", "", sequential, cb); });
  auto second = await<created_node>([&](auto cb) { s->async_create(root_ + "/q-", "", sequential, cb); });
  ASSERT_FALSE(first.ec);
  ASSERT_FALSE(second.ec);
  EXPECT_EQ(first.value.path.size(), (root_ + "/q-").size() + 10) << first.value.path;
  EXPECT_LT(first.value.path, second.value.path);
  EXPECT_LT(first.value.stat.czxid, second.value.stat.czxid) << "czxid is a token that only grows";

  auto trailing = await<created_node>([&](auto cb) { s->async_create(root_ + "/", "", sequential, cb); });
  ASSERT_FALSE(trailing.ec) << "sequential creates may name the parent with a trailing '/'";
  EXPECT_EQ(trailing.value.path.size(), root_.size() + 1 + 10);

  auto eph = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/e", "", {create_mode::ephemeral, {}, {}}, cb); });
  ASSERT_FALSE(eph.ec);
  EXPECT_EQ(eph.value.stat.ephemeral_owner, s->session_id());

  auto container = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/c", "", {create_mode::container, {}, {}}, cb); });
  EXPECT_FALSE(container.ec) << container.ec.message();

  auto ttl = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/t", "", {create_mode::persistent_with_ttl, 60s, {}}, cb); });
  EXPECT_FALSE(ttl.ec) << ttl.ec.message() << " (the server needs extendedTypesEnabled=true)";

  auto no_ttl = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/t2", "", {create_mode::persistent_with_ttl, 0ms, {}}, cb); });
  EXPECT_EQ(no_ttl.ec, errc::invalid_option) << "a TTL mode needs a TTL";
  auto stray_ttl = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/t3", "", {create_mode::persistent, 5s, {}}, cb); });
  EXPECT_EQ(stray_ttl.ec, errc::invalid_option) << "a TTL without a TTL mode is a mistake";
}

TEST_F(SessionTest, EphemeralNodeIsGoneAfterClose) {
  auto owner = connect();
  auto observer = connect();
  ensure(*owner, root_);
  auto path = root_ + "/ephemeral";
  auto created =
      await<created_node>([&](auto cb) { owner->async_create(path, "", {create_mode::ephemeral, {}, {}}, cb); });
  ASSERT_FALSE(created.ec);

  auto seen = await<std::optional<stat>>([&](auto cb) { observer->async_exists(path, cb); });
  ASSERT_TRUE(seen.value.has_value());
  EXPECT_EQ(seen.value->ephemeral_owner, owner->session_id());

  owner->close();
  EXPECT_EQ(owner->state(), session_state::closed);
  // Closing tells the server, so the node goes at once, not after the timeout.
  auto after = await<std::optional<stat>>([&](auto cb) { observer->async_exists(path, cb); });
  EXPECT_FALSE(after.ec);
  EXPECT_FALSE(after.value.has_value());

  auto late = await<node>([&](auto cb) { owner->async_get(path, cb); });
  EXPECT_EQ(late.ec, errc::session_closed) << "a closed session refuses work with a clear error";
}

TEST_F(SessionTest, VersionConflictIsBadVersion) {
  auto s = connect();
  ensure(*s, root_);
  auto path = root_ + "/v";
  ASSERT_FALSE(await<created_node>([&](auto cb) { s->async_create(path, "one", {}, cb); }).ec);

  auto stale_set = await<stat>([&](auto cb) { s->async_set(path, "two", 7, cb); });
  EXPECT_EQ(stale_set.ec, errc::bad_version);
  EXPECT_TRUE(is_bad_version(stale_set.ec));
  EXPECT_EQ(await_ec([&](auto cb) { s->async_remove(path, 3, cb); }), errc::bad_version);

  auto still = await<node>([&](auto cb) { s->async_get(path, cb); });
  EXPECT_EQ(still.value.data, "one");
  EXPECT_EQ(still.value.stat.version, 0);
}

TEST_F(SessionTest, MultiIsAllOrNothing) {
  auto s = connect();
  ensure(*s, root_);
  auto ok = await<std::vector<operation_result>>([&](auto cb) {
    s->async_multi({op::create{root_ + "/m1", "x", {}}, op::create{root_ + "/m2", "y", {}},
                    op::set{root_ + "/m1", "z", 0}, op::check{root_ + "/m2", 0}},
                   cb);
  });
  ASSERT_FALSE(ok.ec) << ok.ec.message();
  ASSERT_EQ(ok.value.size(), 4u);
  EXPECT_EQ(ok.value[0].path, root_ + "/m1");
  ASSERT_TRUE(ok.value[2].stat.has_value());
  EXPECT_EQ(ok.value[2].stat->version, 1);

  auto failed = await<std::vector<operation_result>>([&](auto cb) {
    s->async_multi({op::create{root_ + "/m3", "", {}}, op::check{root_ + "/m1", 0}, op::remove{root_ + "/m2", -1}},
                   cb);
  });
  EXPECT_EQ(failed.ec, errc::bad_version);
  ASSERT_EQ(failed.value.size(), 3u);
  EXPECT_EQ(failed.value[1].error, errc::bad_version) << "the results name the operation that failed";
  auto m3 = await<std::optional<stat>>([&](auto cb) { s->async_exists(root_ + "/m3", cb); });
  EXPECT_FALSE(m3.value.has_value()) << "nothing of a failed multi is applied";
  auto m2 = await<std::optional<stat>>([&](auto cb) { s->async_exists(root_ + "/m2", cb); });
  EXPECT_TRUE(m2.value.has_value());

  std::vector<operation> too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back(op::check{root_, -1});
  auto refused = await<std::vector<operation_result>>([&](auto cb) { s->async_multi(too_many, cb); });
  EXPECT_EQ(refused.ec, errc::too_many_operations);
}

TEST_F(SessionTest, OneShotWatchesFireOnceOnTheRightEvent) {
  auto s = connect();
  auto writer = connect();
  ensure(*s, root_);
  auto path = root_ + "/w";

  std::promise<watch_event> created_event;
  std::atomic<int> created_calls{0};
  auto missing = await<std::optional<stat>>([&](auto cb) {
    s->async_exists(
        path,
        [&](const watch_event& e) {
          if (created_calls++ == 0) created_event.set_value(e);
        },
        cb);
  });
  ASSERT_FALSE(missing.ec);
  ASSERT_FALSE(missing.value.has_value());
  ASSERT_FALSE(await<created_node>([&](auto cb) { writer->async_create(path, "", {}, cb); }).ec);
  auto created_future = created_event.get_future();
  auto e = get_within(created_future);
  EXPECT_EQ(e.type, watch_event_type::created);
  EXPECT_EQ(e.path, path);

  std::promise<watch_event> data_event;
  ASSERT_FALSE(await<node>([&](auto cb) {
                 s->async_get(path, [&](const watch_event& ev) { data_event.set_value(ev); }, cb);
               }).ec);
  std::promise<watch_event> child_event;
  ASSERT_FALSE(await<children>([&](auto cb) {
                 s->async_get_children(path, [&](const watch_event& ev) { child_event.set_value(ev); }, cb);
               }).ec);

  ASSERT_FALSE(await<stat>([&](auto cb) { writer->async_set(path, "new", -1, cb); }).ec);
  auto data_future = data_event.get_future();
  EXPECT_EQ(get_within(data_future).type, watch_event_type::data_changed);

  ASSERT_FALSE(await<created_node>([&](auto cb) { writer->async_create(path + "/kid", "", {}, cb); }).ec);
  auto child_future = child_event.get_future();
  EXPECT_EQ(get_within(child_future).type, watch_event_type::children_changed);

  // One-shot: further changes do not call the exists() watcher again.
  ASSERT_FALSE(await<stat>([&](auto cb) { writer->async_set(path, "again", -1, cb); }).ec);
  ASSERT_FALSE(await<node>([&](auto cb) { s->async_get(path, cb); }).ec);  // a round trip after the set
  EXPECT_EQ(created_calls.load(), 1);
}

TEST_F(SessionTest, WatchOnAMissingNodeForGetIsNeverCalled) {
  auto s = connect();
  std::atomic<int> calls{0};
  auto missing = await<node>([&](auto cb) {
    s->async_get(root_ + "/nothing", [&](const watch_event&) { ++calls; }, cb);
  });
  EXPECT_EQ(missing.ec, errc::no_node);
  s->close();  // a close flushes every registered watch: this one must not be among them
  ASSERT_FALSE(wait_until([&] { return calls.load() != 0; }, 300ms));
}

TEST_F(SessionTest, CloseEndsPendingWatchesWithSessionLost) {
  auto s = connect();
  std::promise<watch_event> lost;
  auto r = await<std::optional<stat>>([&](auto cb) {
    s->async_exists(root_ + "/never", [&](const watch_event& e) { lost.set_value(e); }, cb);
  });
  ASSERT_FALSE(r.ec);
  state_recorder states(*s);
  s->close();
  auto f = lost.get_future();
  auto e = get_within(f);
  EXPECT_EQ(e.type, watch_event_type::session_lost);
  EXPECT_EQ(e.path, root_ + "/never");
  EXPECT_TRUE(states.wait_for(session_state::closed, 5s));
}

// A sender registers its call with the handle and then hands it to the C
// client. If the thread is preempted in between, close() must wait for it:
// without that it runs zookeeper_close after its drain limit (here 2 s),
// and the sender then writes into the freed handle (the process crashes).
TEST_F(SessionTest, CloseWaitsOutASenderStalledInsideItsSend) {
  auto options = test_options(hosts_);
  options.session_timeout = 2s;  // the drain limit is min(timeout, 5 s)
  auto s = connect(options);
  detail::fault_injection::stall_sends(1, 4000);
  auto reply = std::make_shared<std::promise<std::error_code>>();
  auto answered = reply->get_future();
  s->async_get(root_ + "/anything", {}, [reply](std::error_code ec, node) { reply->set_value(ec); });
  bool stalled = wait_until([] { return detail::fault_injection::sends_stalling() == 1; }, 10s);
  detail::fault_injection::stall_sends(0, 0);
  ASSERT_TRUE(stalled) << "the get never reached its send";
  auto closing = std::chrono::steady_clock::now();
  s->close();
  auto closed_after = std::chrono::steady_clock::now() - closing;
  EXPECT_EQ(detail::fault_injection::sends_stalling(), 0) << "close() returned while the sender was still stalled";
  EXPECT_LT(closed_after, 30s);
  // The get was sent on a handle being closed: it fails, and says so, within a bound.
  auto ec = get_within(answered, 20s);
  EXPECT_TRUE(ec) << "a get sent while its session closed succeeded";
  s.reset();
}

TEST_F(SessionTest, ForcedExpiryIsReportedAndAFreshSessionFollows) {
  auto options = test_options(hosts_);
  options.session_timeout = 2000ms;
  auto s = connect(options);
  state_recorder states(*s);
  ensure(*s, root_);
  auto eph = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/mine", "", {create_mode::ephemeral, {}, {}}, cb); });
  ASSERT_FALSE(eph.ec);
  std::promise<watch_event> lost;
  ASSERT_FALSE(await<std::optional<stat>>([&](auto cb) {
                 s->async_exists(root_ + "/absent", [&](const watch_event& e) { lost.set_value(e); }, cb);
               }).ec);

  // Attach a second client to the same session and close it: the server
  // ends the session, and the first client learns it is expired.
  auto old_id = s->session_id();
  force_expiry(*s, hosts_);

  ASSERT_TRUE(states.wait_for(session_state::expired, 15s)) << "states seen: " << states.states().size();
  ASSERT_TRUE(states.wait_for(session_state::connected, 15s));
  EXPECT_NE(s->session_id(), old_id) << "a fresh session, not the old one";
  EXPECT_EQ(s->state(), session_state::connected);
  auto seq = states.states();
  auto expired_at = std::find(seq.begin(), seq.end(), session_state::expired);
  EXPECT_NE(std::find(expired_at, seq.end(), session_state::connected), seq.end()) << "connected follows expired";

  auto f = lost.get_future();
  EXPECT_EQ(get_within(f).type, watch_event_type::session_lost);
  auto gone = await<std::optional<stat>>([&](auto cb) { s->async_exists(root_ + "/mine", cb); });
  EXPECT_FALSE(gone.ec);
  EXPECT_FALSE(gone.value.has_value()) << "the expired session's ephemeral node is gone";
  auto again = await<created_node>(
      [&](auto cb) { s->async_create(root_ + "/mine", "", {create_mode::ephemeral, {}, {}}, cb); });
  ASSERT_FALSE(again.ec) << "the new session works";
  EXPECT_EQ(again.value.stat.ephemeral_owner, s->session_id());
}

TEST_F(SessionTest, ServerRestartShowsSuspendedThenReconnected) {
  zookeeper_cluster own{zookeeper_options{}};  // its own server: stopping it disturbs no other test
  auto options = test_options(own.connect_string());
  // Outlives the restart: a JVM start under the sanitizers on a loaded
  // machine has taken over 15 s.
  options.session_timeout = 40000ms;
  // The read below waits out the restart. A server that accepts before it
  // answers holds the client's connect attempt for up to 2/3 of the session
  // timeout, and the JVM start takes seconds more.
  options.operation_timeout = 120000ms;
  auto s = connect(options);
  state_recorder states(*s);
  auto id = s->session_id();
  ensure(*s, "/restart");

  own.stop(0);
  ASSERT_TRUE(states.wait_for(session_state::suspended, 15s));
  EXPECT_EQ(s->state(), session_state::suspended);
  // A read issued during the outage retries and completes once the server is back.
  auto pending = std::make_shared<std::promise<outcome<node>>>();
  auto result = pending->get_future();
  s->async_get("/restart", [pending](std::error_code ec, node n) { pending->set_value({ec, std::move(n)}); });

  own.start(0);
  ASSERT_TRUE(states.wait_for(session_state::reconnected, 90s));
  EXPECT_EQ(s->session_id(), id) << "the same session came back";
  EXPECT_EQ(states.count(session_state::expired), 0);
  auto r = get_within(result, 120s);
  EXPECT_FALSE(r.ec) << r.ec.message();
}

TEST_F(SessionTest, DeadAddressFailsClearlyWithinTheDeadline) {
  auto hosts = "127.0.0.1:" + std::to_string(unused_loopback_port());
  auto options = test_options(hosts);
  options.operation_timeout = 1500ms;
  session s(options);

  auto started = std::chrono::steady_clock::now();
  auto r = await<node>([&](auto cb) { s.async_get("/anything", cb); });
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.ec, errc::deadline_exceeded) << r.ec.message();
  EXPECT_LT(took, 1500ms + 3s) << "bounded by the operation's deadline";
  EXPECT_EQ(s.state(), session_state::connecting);

  try {
    s.wait_connected(1000ms);
    FAIL() << "connected to a dead address?";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::deadline_exceeded);
    EXPECT_NE(std::string(e.what()).find(hosts), std::string::npos) << e.what();
  }
}

TEST_F(SessionTest, ProtectedCreateFindsItsOwnNodeAfterALoss) {
  auto s = connect();
  ensure(*s, root_ + "/p");
  detail::fault_injection::lose_create_replies(1);
  auto made = await<created_node>([&](auto cb) {
    s->async_create_protected(root_ + "/p/lock-", "me", {create_mode::ephemeral_sequential, {}, {}}, cb);
  });
  detail::fault_injection::lose_create_replies(0);
  ASSERT_FALSE(made.ec) << made.ec.message();
  EXPECT_NE(made.value.path.find("/_c_"), std::string::npos) << made.value.path;
  EXPECT_NE(made.value.path.find("-lock-"), std::string::npos) << made.value.path;
  EXPECT_EQ(made.value.stat.ephemeral_owner, s->session_id());

  auto kids = await<children>([&](auto cb) { s->async_get_children(root_ + "/p", cb); });
  ASSERT_EQ(kids.value.names.size(), 1u) << "found its node instead of creating a second one";
  EXPECT_EQ(root_ + "/p/" + kids.value.names[0], made.value.path);

  // Without protection the same loss leaves the caller not knowing.
  detail::fault_injection::lose_create_replies(1);
  auto plain = await<created_node>([&](auto cb) { s->async_create(root_ + "/plain", "", {}, cb); });
  detail::fault_injection::lose_create_replies(0);
  EXPECT_TRUE(is_connection_loss(plain.ec));
  auto landed = await<std::optional<stat>>([&](auto cb) { s->async_exists(root_ + "/plain", cb); });
  EXPECT_TRUE(landed.value.has_value()) << "the unprotected create did land";
}

TEST_F(SessionTest, BadInputIsRefusedBeforeAnythingIsSent) {
  // A dead address: any request that went out would wait for the deadline.
  auto options = test_options("127.0.0.1:" + std::to_string(unused_loopback_port()));
  options.operation_timeout = 20s;
  session s(options);
  auto quick = 5s;  // far under the 20 s deadline: nothing waited on a server

  auto relative = await<node>([&](auto cb) { s.async_get("a/b", cb); }, quick);
  EXPECT_EQ(relative.ec, errc::path_not_absolute);
  EXPECT_EQ(relative.value.path, "a/b");
  EXPECT_EQ(await<node>([&](auto cb) { s.async_get("/a//b", cb); }, quick).ec, errc::path_empty_segment);
  EXPECT_EQ(await<node>([&](auto cb) { s.async_get("/a/", cb); }, quick).ec, errc::path_trailing_slash);
  EXPECT_EQ(await<node>([&](auto cb) { s.async_get("/a/../b", cb); }, quick).ec, errc::path_relative_segment);
  EXPECT_EQ(await<std::optional<stat>>([&](auto cb) { s.async_exists("", cb); }, quick).ec,
            errc::path_not_absolute);
  EXPECT_EQ(await<children>([&](auto cb) { s.async_get_children("/x/", cb); }, quick).ec,
            errc::path_trailing_slash);
  EXPECT_EQ(await_ec([&](auto cb) { s.async_remove("x", -1, cb); }, quick), errc::path_not_absolute);
  EXPECT_EQ(await_ec([&](auto cb) { s.async_ensure_path("/a//b", cb); }, quick), errc::path_empty_segment);

  std::string big(max_node_data_bytes + 1, 'x');
  EXPECT_EQ(await<created_node>([&](auto cb) { s.async_create("/big", big, {}, cb); }, quick).ec,
            errc::data_too_large);
  EXPECT_EQ(await<stat>([&](auto cb) { s.async_set("/big", big, -1, cb); }, quick).ec, errc::data_too_large);
  EXPECT_EQ(await<stat>([&](auto cb) { s.async_set("/v", "", -2, cb); }, quick).ec, errc::invalid_option);
  EXPECT_TRUE(is_invalid_argument(errc::data_too_large));

  for (const char* hosts : {"nohost", "127.0.0.1:99999", "", "a:1,,b:2"}) {
    try {
      session bad(test_options(hosts));
      FAIL() << "accepted hosts '" << hosts << "'";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::invalid_hosts);
      EXPECT_NE(std::string(e.what()).find("session_options.hosts '" + std::string(hosts) + "'"), std::string::npos)
          << e.what();
    }
  }
  try {
    auto o = test_options(hosts_);
    o.digest = "alice-without-colon";
    session bad(o);
    FAIL() << "accepted a digest without ':'";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::invalid_digest);
    EXPECT_EQ(std::string(e.what()).find("alice-without-colon"), std::string::npos) << "credentials never printed";
  }
}

TEST_F(SessionTest, CompletionTokensCallbackFutureAndStrand) {
  auto s = connect();
  ensure(*s, root_);
  ASSERT_FALSE(await<created_node>([&](auto cb) { s->async_create(root_ + "/tok", "data", {}, cb); }).ec);

  auto future = s->async_get(root_ + "/tok", asio::use_future);
  EXPECT_EQ(get_within(future).data, "data");

  auto missing = s->async_get(root_ + "/none", asio::use_future);
  try {
    get_within(missing);
    FAIL() << "use_future delivers the error as an exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_node);
    EXPECT_NE(std::string(e.what()).find(root_ + "/none"), std::string::npos) << "names the path: " << e.what();
  }

  auto strand = asio::make_strand(s->get_executor());
  std::promise<bool> on_strand;
  s->async_exists(root_ + "/tok", asio::bind_executor(strand, [&](std::error_code, std::optional<stat>) {
                    on_strand.set_value(strand.running_in_this_thread());
                  }));
  auto f = on_strand.get_future();
  EXPECT_TRUE(get_within(f)) << "the handler ran on the strand it was bound to";
}

TEST_F(SessionTest, DigestCredentialsProtectNodesFromOthers) {
  auto options = test_options(hosts_);
  options.digest = "alice:secret";
  auto alice = connect(options);
  auto stranger = connect();
  ensure(*stranger, root_);
  auto path = root_ + "/alice";
  auto made = await<created_node>([&](auto cb) { alice->async_create(path, "hers", {}, cb); });
  ASSERT_FALSE(made.ec) << made.ec.message();

  auto read = await<node>([&](auto cb) { stranger->async_get(path, cb); });
  EXPECT_FALSE(read.ec) << "world may read";
  EXPECT_EQ(read.value.data, "hers");
  EXPECT_EQ(await<stat>([&](auto cb) { stranger->async_set(path, "mine", -1, cb); }).ec, errc::no_auth);
  // ZooKeeper checks a delete against the parent's ACL.
  ASSERT_FALSE(await<created_node>([&](auto cb) { alice->async_create(path + "/kid", "", {}, cb); }).ec);
  EXPECT_EQ(await_ec([&](auto cb) { stranger->async_remove(path + "/kid", -1, cb); }), errc::no_auth);
  EXPECT_EQ(await<created_node>([&](auto cb) { stranger->async_create(path + "/other", "", {}, cb); }).ec,
            errc::no_auth);
  EXPECT_FALSE(await<stat>([&](auto cb) { alice->async_set(path, "still hers", -1, cb); }).ec);
}

}  // namespace
}  // namespace nominee::testing
