// Election against a real ZooKeeper: one holder, herd-free handoff,
// suspension, expiry, observers, bad input.
#include <nominee/election.hpp>

#include <algorithm>
#include <mutex>

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;

// What one candidate was told, in order.
class candidate_log {
 public:
  struct entry {
    bool elected;
    std::int64_t token;
    revoke_reason reason;
    std::chrono::steady_clock::time_point at;
  };

  candidate::callbacks callbacks() {
    return {[log = log_](const term& t) { log->add({true, t.token, revoke_reason::closed, now()}); },
            [log = log_](revoke_reason r) { log->add({false, 0, r, now()}); }};
  }
  std::vector<entry> entries() const { return log_->get(); }
  int elected_count() const {
    auto e = entries();
    return static_cast<int>(std::count_if(e.begin(), e.end(), [](auto& x) { return x.elected; }));
  }
  bool wait_elected(int count, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return elected_count() >= count; }, timeout);
  }
  bool wait_revoked(revoke_reason reason, std::chrono::milliseconds timeout) const {
    return wait_until(
        [&] {
          auto e = entries();
          return std::any_of(e.begin(), e.end(), [&](auto& x) { return !x.elected && x.reason == reason; });
        },
        timeout);
  }

 private:
  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }
  std::shared_ptr<event_store<entry>> log_ = std::make_shared<event_store<entry>>();
};

class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }
  std::unique_ptr<session> connect(std::chrono::milliseconds timeout = 4000ms) { return connect_session(hosts_, timeout); }
  // Candidates under the role right now (0 before the directory exists).
  std::size_t candidates_in(session& s, const std::string& role = "cluster-manager") {
    auto kids = s.async_get_children(root_ + "/roles/" + role, boost::asio::use_future);
    try {
      return get_within(kids).names.size();
    } catch (const error& e) {
      if (e.code() == errc::no_node) return 0;
      throw;
    }
  }
  election_options options(const std::string& member, const std::string& role = "cluster-manager") {
    election_options o;
    o.root = root_;
    o.role = role;
    o.member_id = member;
    o.endpoint = member + ":8080";
    return o;
  }
  std::string hosts_;
  std::string root_;
};

TEST_F(ElectionTest, ALoneCandidateIsElectedWithAToken) {
  auto s = connect();
  candidate_log log;
  candidate c(*s, options("alpha"), log.callbacks());
  ASSERT_TRUE(log.wait_elected(1, 10s));
  EXPECT_TRUE(c.is_holder());
  auto t = c.current_term();
  ASSERT_TRUE(t.has_value());
  EXPECT_GT(t->token, 0);
  EXPECT_NE(t->node.find("/roles/cluster-manager/_c_"), std::string::npos) << t->node;
  EXPECT_NE(t->node.find("-latch-"), std::string::npos) << "Curator LeaderLatch's node shape";
  EXPECT_EQ(log.entries().front().token, t->token);
}

TEST_F(ElectionTest, OneHolderAmongManyAndOrderlyHandoffWithoutHerd) {
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<candidate_log> logs(5);
  std::vector<std::unique_ptr<candidate>> candidates;
  for (int i = 0; i < 5; ++i) {
    sessions.push_back(connect());
    candidates.push_back(
        std::make_unique<candidate>(*sessions.back(), options("m" + std::to_string(i)), logs[i].callbacks()));
    // Stand one after another, so the queue order is the creation order.
    ASSERT_TRUE(wait_until([&] { return candidates_in(*sessions.back()) == static_cast<std::size_t>(i + 1); }, 10s));
  }
  ASSERT_TRUE(logs[0].wait_elected(1, 10s));
  auto holders = [&] {
    return std::count_if(candidates.begin(), candidates.end(), [](auto& c) { return c->is_holder(); });
  };
  EXPECT_EQ(holders(), 1);

  for (int next = 1; next < 5; ++next) {
    std::vector<std::uint64_t> before;
    for (auto& c : candidates) before.push_back(c->predecessor_events());
    auto previous_token = candidates[next - 1]->current_term()->token;
    candidates[next - 1]->resign();
    ASSERT_TRUE(logs[next].wait_elected(1, 10s)) << "candidate " << next << " was not elected";
    EXPECT_GT(candidates[next]->current_term()->token, previous_token) << "tokens only grow";
    EXPECT_EQ(holders(), 1);
    // Herd-free: only the successor's watch fired.
    for (int i = 0; i < 5; ++i) {
      auto fired = candidates[i]->predecessor_events() - before[i];
      EXPECT_EQ(fired, i == next ? 1u : 0u) << "candidate " << i << " after resign of " << next - 1;
    }
  }
  EXPECT_TRUE(logs[0].wait_revoked(revoke_reason::resigned, 5s));
}

TEST_F(ElectionTest, ClosingTheHoldersSessionElectsTheNext) {
  auto first = connect();
  auto second = connect();
  candidate_log log_a, log_b;
  auto a = std::make_unique<candidate>(*first, options("a"), log_a.callbacks());
  ASSERT_TRUE(log_a.wait_elected(1, 10s));
  candidate b(*second, options("b"), log_b.callbacks());
  ASSERT_FALSE(log_b.wait_elected(1, 300ms)) << "b must wait while a holds";
  first->close();
  EXPECT_TRUE(log_a.wait_revoked(revoke_reason::closed, 5s));
  ASSERT_TRUE(log_b.wait_elected(1, 10s));
  EXPECT_TRUE(b.is_holder());
  a.reset();  // destroying a candidate of a closed session is fine
}

TEST_F(ElectionTest, DestroyingTheHolderHandsTheRoleOn) {
  auto s1 = connect();
  auto s2 = connect();
  candidate_log log_a, log_b;
  auto a = std::make_unique<candidate>(*s1, options("a"), log_a.callbacks());
  ASSERT_TRUE(log_a.wait_elected(1, 10s));
  candidate b(*s2, options("b"), log_b.callbacks());
  a.reset();
  ASSERT_TRUE(log_b.wait_elected(1, 10s));
  EXPECT_EQ(log_a.entries().size(), 1u) << "no callback after the destructor returned";
}

TEST_F(ElectionTest, ExpiryRevokesAndTheOtherWinsOnlyAfterwards) {
  auto s1 = connect(2000ms);
  auto s2 = connect();
  candidate_log log_a, log_b;
  candidate a(*s1, options("a"), log_a.callbacks());
  ASSERT_TRUE(log_a.wait_elected(1, 10s));
  candidate b(*s2, options("b"), log_b.callbacks());
  ASSERT_TRUE(wait_until([&] { return b.predecessor_events() == 0 && !b.is_holder(); }, 1s));

  force_expiry(*s1, hosts_);
  ASSERT_TRUE(log_b.wait_elected(1, 15s));
  // a gave the role up: at the suspension that preceded the expiry (its
  // connection was taken over), or at the expiry itself.
  ASSERT_TRUE(wait_until([&] { return log_a.entries().size() >= 2; }, 15s));
  auto revoked = log_a.entries()[1];
  EXPECT_FALSE(revoked.elected);
  EXPECT_TRUE(revoked.reason == revoke_reason::suspended || revoked.reason == revoke_reason::expired)
      << to_string(revoked.reason);
  // a stands again by itself on its new session, behind b.
  ASSERT_TRUE(wait_until([&] { return candidates_in(*s2) == 2; }, 15s));
  EXPECT_FALSE(a.is_holder());
  EXPECT_TRUE(b.is_holder());
}

TEST_F(ElectionTest, SuspensionRevokesAndReconnectReelectsWithTheSameToken) {
  zookeeper_cluster own{zookeeper_options{}};
  auto o = test_options(own.connect_string());
  o.session_timeout = 15000ms;  // the session outlives the restart
  session s(o);
  s.wait_connected(15s);
  candidate_log log;
  candidate c(s, options("solo"), log.callbacks());
  ASSERT_TRUE(log.wait_elected(1, 10s));
  auto token = c.current_term()->token;

  own.stop(0);
  ASSERT_TRUE(log.wait_revoked(revoke_reason::suspended, 15s));
  EXPECT_FALSE(c.is_holder()) << "a suspended holder stops at once";
  own.start(0);
  ASSERT_TRUE(log.wait_elected(2, 20s));
  EXPECT_EQ(c.current_term()->token, token) << "same session, same node, same token";
}

TEST_F(ElectionTest, ObserversSeeTheHolder) {
  auto s1 = connect();
  auto s2 = connect();
  auto watcher = connect();
  std::mutex mutex;
  std::vector<std::optional<role_holder>> seen;
  role_observer observer(*watcher, root_, "cluster-manager", [&](const std::optional<role_holder>& h) {
    std::lock_guard lock(mutex);
    seen.push_back(h);
  });
  candidate_log log_a, log_b;
  auto a = std::make_unique<candidate>(*s1, options("a"), log_a.callbacks());
  ASSERT_TRUE(log_a.wait_elected(1, 10s));
  ASSERT_TRUE(wait_until([&] { return observer.current() && observer.current()->member_id == "a"; }, 10s));
  EXPECT_EQ(observer.current()->endpoint, "a:8080");
  ASSERT_TRUE(a->current_term().has_value());
  EXPECT_EQ(observer.current()->token, a->current_term()->token);

  candidate b(*s2, options("b"), log_b.callbacks());
  a.reset();
  ASSERT_TRUE(wait_until([&] { return observer.current() && observer.current()->member_id == "b"; }, 10s));
  // The observer may know before b does (b verifies its node first).
  ASSERT_TRUE(log_b.wait_elected(1, 10s));
  ASSERT_TRUE(b.current_term().has_value());
  EXPECT_EQ(observer.current()->token, b.current_term()->token);
}

TEST_F(ElectionTest, ManyRolesAtOnce) {
  auto s = connect();
  std::vector<candidate_log> logs(4);
  std::vector<std::unique_ptr<candidate>> roles;
  const char* names[] = {"cluster-manager", "namespace", "lock-manager", "space-manager"};
  for (int i = 0; i < 4; ++i)
    roles.push_back(std::make_unique<candidate>(*s, options("me", names[i]), logs[i].callbacks()));
  for (auto& l : logs) EXPECT_TRUE(l.wait_elected(1, 10s));
}

TEST_F(ElectionTest, BadNamesAreRefused) {
  auto s = connect();
  auto expect_refused = [&](election_options o, errc code, const std::string& field) {
    try {
      candidate c(*s, o, {});
      ADD_FAILURE() << "accepted " << field;
    } catch (const error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  auto o = options("m");
  o.role = "";
  expect_refused(o, errc::invalid_name, "election_options.role");
  o.role = "a/b";
  expect_refused(o, errc::invalid_name, "election_options.role");
  o = options("");
  expect_refused(o, errc::invalid_name, "election_options.member_id");
  o = options("x/y");
  expect_refused(o, errc::invalid_name, "election_options.member_id");
  o = options("m");
  o.root = "relative";
  expect_refused(o, errc::path_not_absolute, "election_options.root");
}

}  // namespace
}  // namespace nominee::testing
