// Digest credentials on a real server: every node the recipes create (role
// candidates, group members, the divider's members, work keys and owner
// nodes, shared values, and the directories above them) carries the
// creator-all, world-read ACL, so a client without the credentials, or with
// a wrong password, can read them but cannot change or delete them, and is
// told so (no_auth) promptly instead of hanging.
#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/group.hpp>
#include <nominee/shared_value.hpp>

#include <atomic>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

std::unique_ptr<session> connect_with(const std::string& hosts, const std::string& digest) {
  auto options = test_options(hosts);
  options.digest = digest;
  auto s = std::make_unique<session>(options);
  s->wait_connected(15s);
  return s;
}

// Every node under path, depth first (path itself included).
std::vector<std::string> tree(session& s, const std::string& path) {
  std::vector<std::string> out{path};
  auto kids = s.async_get_children(path, use_future);
  for (auto& name : get_within(kids).names) {
    auto below = tree(s, path + "/" + name);
    out.insert(out.end(), below.begin(), below.end());
  }
  return out;
}

std::error_code outcome_of_set(session& s, const std::string& path) {
  try {
    auto f = s.async_set(path, "overwritten", -1, use_future);
    get_within(f);
    return {};
  } catch (const std::system_error& e) {
    return e.code();
  }
}

std::error_code outcome_of_remove(session& s, const std::string& path) {
  try {
    auto f = s.async_remove(path, -1, use_future);
    get_within(f);
    return {};
  } catch (const std::system_error& e) {
    return e.code();
  }
}

TEST(AclTest, RecipeNodesRefuseClientsWithoutTheCredentials) {
  auto hosts = shared_zookeeper().connect_string();
  auto root = unique_root();
  auto alice = connect_with(hosts, "alice:secret");

  candidate role(*alice, election_options{root, "cluster-manager", "alice", "", true}, {});
  group_options member_options;
  member_options.root = root;
  member_options.member_id = "alice";
  group_member member(*alice, member_options);
  auto joined = member.async_join(use_future);
  get_within(joined);

  divider_options work_options;
  work_options.root = root;
  work_options.prefix = "jobs";
  work_options.member_id = "alice";
  auto started_keys = std::make_shared<event_store<std::string>>();
  divider::callbacks callbacks;
  callbacks.on_start = [started_keys](const key_lease& lease) { started_keys->add(lease.key); };
  auto running = std::make_shared<std::atomic<divider*>>(nullptr);
  callbacks.on_stop = [running](const std::string& key, stop_reason) {
    if (auto* d = running->load()) d->confirm_stop(key);  // no work to stop
  };
  divider work(*alice, work_options, callbacks);
  running->store(&work);
  auto started = work.async_start(use_future);
  get_within(started);
  auto added = work.async_add_work({"job-1", "job-2"}, use_future);
  get_within(added);
  ASSERT_TRUE(wait_until([&] { return started_keys->get().size() == 2; }, 20s)) << "alice runs both jobs";

  shared_value value(*alice, {root, "seeds"});
  auto initialized = value.async_initialize("1", use_future);
  get_within(initialized);
  ASSERT_TRUE(wait_until([&] { return role.is_holder(); }, 20s));

  auto nodes = tree(*alice, root);
  auto has = [&](const std::string& part) {
    return std::any_of(nodes.begin(), nodes.end(), [&](const std::string& n) { return n.find(part) != std::string::npos; });
  };
  ASSERT_TRUE(has("/roles/cluster-manager/")) << "a candidate node";
  ASSERT_TRUE(has("/members/alice")) << "a member node";
  ASSERT_TRUE(has("/owners/")) << "owner nodes";
  ASSERT_TRUE(has("/values/seeds")) << "the shared value";

  auto stranger = connect_with(hosts, "");
  auto mallory = connect_with(hosts, "alice:wrong-password");
  for (auto* other : {stranger.get(), mallory.get()}) {
    auto who = other == stranger.get() ? "no credentials" : "a wrong password";
    for (auto& path : nodes) {
      auto read = other->async_get(path, use_future);
      EXPECT_NO_THROW(get_within(read)) << who << " may read " << path;
      EXPECT_EQ(outcome_of_set(*other, path), errc::no_auth) << who << " changed " << path;
      // A delete is checked against the parent's ACL: try every node
      // (those with children would fail anyway, but not with no_auth).
      auto removed = outcome_of_remove(*other, path);
      EXPECT_TRUE(removed == errc::no_auth || (path == root && removed == errc::not_empty))
          << who << " deleting " << path << ": " << removed.message();
    }
    shared_value theirs(*other, {root, "seeds"});
    auto increase = theirs.async_increase(1, 100, use_future);
    try {
      get_within(increase);
      ADD_FAILURE() << who << " increased the shared value";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), errc::no_auth) << who;
    }
  }

  // Alice's recipes did not notice a thing.
  EXPECT_TRUE(role.is_holder());
  EXPECT_TRUE(member.joined());
  EXPECT_EQ(work.assigned().size(), 2u);
  auto read = value.async_read(use_future);
  EXPECT_EQ(get_within(read).value, "1");
  auto cancelled = work.async_cancel(use_future);
  get_within(cancelled, 30s);
  running->store(nullptr);
}

}  // namespace
}  // namespace nominee::testing
