// Ownership by construction, against a real ZooKeeper: no request deletes a
// node that is not provably ours, no write moves to another session, and no
// ephemeral node outlives the recipe object that wanted it. Each test is a
// route a review found to break "one holder per role, one owner per key",
// replayed with the fault hooks (a lost reply, a refused request) or a slow
// link (tcp_proxy), and checked against what the server holds.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <zookeeper/zookeeper.h>

#include <nominee/election.hpp>
#include <nominee/group.hpp>
#include <nominee/lock.hpp>
#include <nominee/session.hpp>

#include "fault_injection.hpp"
#include "tcp_proxy.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;
namespace faults = detail::fault_injection;

// Every hook back to off, whatever a test did.
struct hooks_off {
  ~hooks_off() {
    faults::refuse_requests(0);
    faults::lose_delete_replies(0);
    faults::lose_multi_replies(0);
    faults::lose_create_replies(0);
  }
};

// A bare C-client session, for a node that must belong to a session nominee
// knows nothing of (and is not touched by nominee's fault hooks).
class bare_client {
 public:
  explicit bare_client(const std::string& hosts) {
    zh_ = zookeeper_init(hosts.c_str(), nullptr, 10000, nullptr, nullptr, 0);
    if (!zh_) throw std::runtime_error("zookeeper_init failed for " + hosts);
    bool up = wait_until([&] { return zoo_state(zh_) == ZOO_CONNECTED_STATE; }, 15s);
    if (!up) throw std::runtime_error("bare client did not connect to " + hosts);
  }
  ~bare_client() { zookeeper_close(zh_); }
  bare_client(const bare_client&) = delete;
  bare_client& operator=(const bare_client&) = delete;

  std::int64_t session_id() const { return zoo_client_id(zh_)->client_id; }
  int create_ephemeral(const std::string& path) {
    return zoo_create(zh_, path.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, nullptr, 0);
  }

 private:
  zhandle_t* zh_ = nullptr;
};

std::optional<stat> exists(session& s, const std::string& path) {
  auto f = s.async_exists(path, use_future);
  return get_within(f, 30s);
}

std::size_t children_of(session& s, const std::string& path) {
  auto f = s.async_get_children(path, use_future);
  try {
    return get_within(f, 30s).names.size();
  } catch (const error& e) {
    if (e.code() == errc::no_node) return 0;
    throw;
  }
}

class OwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }
  // Connected, with the test's root made, and retries that outlast an expiry.
  std::unique_ptr<session> patient_session() {
    auto options = test_options(hosts_);
    options.operation_timeout = 60s;
    auto s = std::make_unique<session>(options);
    s->wait_connected(15s);
    auto ensured = s->async_ensure_path(root_, use_future);
    get_within(ensured, 30s);
    return s;
  }
  std::string hosts_;
  std::string root_;
  hooks_off hooks_;
};

// A delete the C client refused before sending (its handle knew the session
// was over) used to be retried on the next session, where the path may be
// someone else's node by then.
TEST_F(OwnershipTest, ARefusedDeleteIsNeverSentOnTheNextSession) {
  auto owned = patient_session();
  auto& s = *owned;
  auto path = root_ + "/node";
  auto made = s.async_create(path, "", {create_mode::ephemeral, {}, {}}, use_future);
  get_within(made, 30s);

  faults::refuse_requests(1'000'000);
  auto removed = s.async_remove(path, any_version, use_future);
  force_expiry(s, hosts_);  // the server deletes our node with the session
  bare_client other(hosts_);
  ASSERT_EQ(other.create_ephemeral(path), ZOK) << "the path is free after the expiry";
  faults::refuse_requests(0);

  std::error_code ec;
  try {
    get_within(removed, 60s);
  } catch (const error& e) {
    ec = e.code();
  }
  EXPECT_EQ(ec, errc::session_expired) << ec.message();
  auto st = exists(s, path);
  ASSERT_TRUE(st.has_value()) << "the delete moved to the new session and removed another session's node";
  EXPECT_EQ(st->ephemeral_owner, other.session_id());
}

// An owner's fenced write (the sample worker's record) is a versioned set:
// nothing in the path says whose it is. Refused before it was sent, and
// retried once the next session opened, it landed after the key had moved
// on (the fault runner's transaction log check caught it). Bound to the
// lease's session, it fails instead.
TEST_F(OwnershipTest, AWriteBoundToASessionIsNeverSentOnTheNextOne) {
  auto owned = patient_session();
  auto& s = *owned;
  auto record = root_ + "/record";
  auto made = s.async_create(record, "old", {}, use_future);
  get_within(made, 30s);
  auto lease_session = s.session_id();

  faults::refuse_requests(1'000'000);
  auto set = s.async_set(record, "stale", any_version, on_session{lease_session}, use_future);
  auto multi = s.async_multi({op::create{root_ + "/other", "stale", {}}}, on_session{lease_session}, use_future);
  force_expiry(s, hosts_);
  ASSERT_TRUE(wait_until([&] { return s.session_id() != lease_session && s.session_id() != 0; }, 30s));
  faults::refuse_requests(0);

  auto error_of = [](auto& f) {
    try {
      get_within(f, 60s);
    } catch (const error& e) {
      return e.code();
    }
    return std::error_code{};
  };
  EXPECT_EQ(error_of(set), errc::session_expired);
  EXPECT_EQ(error_of(multi), errc::session_expired);
  auto now = s.async_get(record, use_future);
  EXPECT_EQ(get_within(now, 30s).data, "old") << "the write moved to the next session";
  EXPECT_FALSE(exists(s, root_ + "/other").has_value()) << "the create moved to the next session";

  // The same write on the current session goes through.
  auto current = s.async_set(record, "new", any_version, on_session{s.session_id()}, use_future);
  EXPECT_NO_THROW(get_within(current, 30s));
}

// A lock destroyed while its create is still on the wire used to leave its
// node behind (the reply found no lock), held by a ghost for the life of the
// session: every other process's lock waited for good.
TEST_F(OwnershipTest, ALockDestroyedWithItsCreateInFlightLeavesNoNode) {
  auto setup = connect_session(hosts_);
  auto dir = root_ + "/locks/inventory";
  auto ensured = setup->async_ensure_path(dir, use_future);
  get_within(ensured, 30s);

  tcp_proxy slow("127.0.0.1", shared_zookeeper().client_port(0));
  auto s = connect_session(slow.address());
  slow.delay(300ms);
  lock_options o;
  o.root = root_;
  o.name = "inventory";
  {
    distributed_lock lock(*s, o);
    lock.async_lock([](std::error_code, std::int64_t) {});
    std::this_thread::sleep_for(50ms);  // the scenario: destroyed while the create is out
  }
  // The create lands after the lock is gone (the link delays it 300 ms)...
  ASSERT_TRUE(wait_until([&] { return children_of(*setup, dir) == 1; }, 20s))
      << "the destroyed lock's create never landed: the scenario did not happen";
  // ...and its node must go too.
  EXPECT_TRUE(wait_until([&] { return children_of(*setup, dir) == 0; }, 20s))
      << children_of(*setup, dir) << " node(s) left under " << dir << " by a destroyed lock";

  auto other = connect_session(hosts_);
  distributed_lock theirs(*other, o);
  auto got = theirs.async_try_lock(3s, use_future);
  EXPECT_GT(get_within(got, 30s), 0) << "another process gets the lock";
  slow.pass();
}

// A member whose node was deleted from outside used to run on, unseen by
// the others, until its session ended.
TEST_F(OwnershipTest, AMemberWhoseNodeIsDeletedJoinsAgainAtOnce) {
  auto s = connect_session(hosts_);
  group_options o;
  o.root = root_;
  o.member_id = "w1";
  o.affinity = 3;
  group_member m(*s, o);
  auto joined = m.async_join(use_future);
  get_within(joined, 30s);
  auto path = root_ + "/members/w1";
  auto before = exists(*s, path);
  ASSERT_TRUE(before.has_value());

  auto admin = connect_session(hosts_);
  auto removed = admin->async_remove(path, any_version, use_future);
  get_within(removed, 30s);

  std::optional<stat> after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = exists(*admin, path);
        return after && after->czxid != before->czxid;
      },
      10s))
      << "w1 did not join again after its node was deleted";
  if (after) {
    EXPECT_EQ(after->ephemeral_owner, s->session_id());
  }
  EXPECT_TRUE(wait_until([&] { return m.joined(); }, 10s));
}

// The holder used to learn of its node's deletion at its next heartbeat
// (every session timeout / 4: 10 s here), while its successor's predecessor
// watch fired at once: two holders for that long. Now it watches its node.
TEST_F(OwnershipTest, AHolderWhoseNodeIsDeletedStopsHoldingWithinANotification) {
  auto s = connect_session(hosts_, 40s);
  election_options o;
  o.root = root_;
  o.role = "cluster-manager";
  o.member_id = "alpha";
  std::atomic<int> elected{0};
  candidate c(*s, o, {[&](const term&) { ++elected; }, {}});
  ASSERT_TRUE(wait_until([&] { return c.is_holder(); }, 20s));
  auto t = c.current_term();
  ASSERT_TRUE(t.has_value());

  auto admin = connect_session(hosts_);
  auto removed = admin->async_remove(t->node, any_version, use_future);
  get_within(removed, 30s);
  auto deleted_at = std::chrono::steady_clock::now();
  // Far under the 10 s heartbeat, and wide for a noisy machine.
  EXPECT_TRUE(wait_until(
      [&] {
        auto now = c.current_term();
        return !c.is_holder() || !now || now->node != t->node;
      },
      4s))
      << "still holding on a deleted node "
      << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - deleted_at).count()
      << " ms after its deletion";
  // It stands again with a new node and holds (it is alone).
  EXPECT_TRUE(wait_until(
      [&] {
        auto now = c.current_term();
        return c.is_holder() && now && now->node != t->node;
      },
      20s));
}

}  // namespace
}  // namespace nominee::testing
