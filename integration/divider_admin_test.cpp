// divider_admin and divider_watch against a real ZooKeeper and real
// dividers in this process: what the admin reads matches what the dividers
// run; its writes (work, affinity, drain) reach them and they follow; bad
// input is refused before anything is sent, with the value named; the
// watch reports joins, affinity changes, key and owner changes and role
// holders as they happen.
#include <nominee/divider_admin.hpp>

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <nominee/election.hpp>

#include "divider_fleet.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;


election_options role(const std::string& root, const std::string& name, const std::string& member,
                      const std::string& endpoint) {
  election_options o;
  o.root = root;
  o.role = name;
  o.member_id = member;
  o.endpoint = endpoint;
  return o;
}

// The error a use_future operation ended with, and its message.
template <class F>
std::pair<std::error_code, std::string> failure_of(F&& start) {
  try {
    auto f = start();
    get_within(f, 30s);
  } catch (const error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

class DividerAdminTest : public admin_and_fleet {
 protected:
  divider_assignment assignment() {
    auto f = admin_->async_assignment(use_future);
    return get_within(f, 60s);
  }
  void add_work(std::vector<std::string> keys) {
    auto f = admin_->async_add_work(std::move(keys), use_future);
    get_within(f, 60s);
  }

  // Three members (affinity 1, 2, 3) and n keys, settled: every key runs on
  // the member the assignment gives it.
  std::vector<std::string> three_members_with_keys(int n) {
    fleet_->add("m1", 1);
    fleet_->add("m2", 2);
    fleet_->add("m3", 3);
    EXPECT_TRUE(fleet_->all_see_members(affinities_)) << fleet_->describe();
    auto keys = numbered_keys(0, n);
    add_work(keys);
    EXPECT_TRUE(fleet_->converges_to(fleet::expected(keys, affinities_))) << fleet_->describe();
    return keys;
  }

  // Waits until the admin's read shows every key owned by its target.
  divider_assignment settled_assignment(std::chrono::milliseconds timeout = 60s) {
    divider_assignment last;
    wait_until(
        [&] {
          last = assignment();
          return last.unowned() == 0 && last.moving() == 0;
        },
        timeout);
    return last;
  }

  std::map<std::string, std::int64_t> affinities_{{"m1", 1}, {"m2", 2}, {"m3", 3}};
};

TEST_F(DividerAdminTest, MembersAndAssignmentMatchWhatTheDividersRun) {
  auto keys = three_members_with_keys(300);

  auto members = admin_->async_members(use_future);
  auto m = get_within(members, 30s);
  EXPECT_EQ(m.path, root_ + "/work/" + prefix_ + "/members");
  ASSERT_EQ(m.members.size(), 3u);
  for (auto& [id, affinity] : affinities_) {
    ASSERT_TRUE(m.members.count(id)) << id;
    EXPECT_EQ(m.members[id].affinity, affinity);
    EXPECT_EQ(m.members[id].endpoint, id + ":7000");
    EXPECT_EQ(m.members[id].session_id, fleet_->get(id).s().session_id());
  }

  auto a = settled_assignment();
  auto running = fleet_->running();
  ASSERT_EQ(a.keys.size(), keys.size());
  EXPECT_TRUE(std::is_sorted(a.keys.begin(), a.keys.end(),
                             [](auto& x, auto& y) { return x.key < y.key; }));
  auto want = fleet::expected(keys, affinities_);
  for (auto& k : a.keys) {
    ASSERT_TRUE(k.owner) << k.key;
    EXPECT_EQ(*k.owner, running[k.key]) << k.key;
    ASSERT_TRUE(k.target) << k.key;
    EXPECT_EQ(*k.target, want[k.key]) << k.key;
    // The owner node's czxid is the token its divider started the key with.
    EXPECT_EQ(k.token, fleet_->get(*k.owner).token(k.key)) << k.key;
    EXPECT_TRUE(k.excluded.empty());
  }
  auto loads = a.per_member();
  for (auto& member : fleet_->members()) {
    EXPECT_EQ(loads[member->id()].owned, member->d().assigned().size()) << member->id();
    EXPECT_EQ(loads[member->id()].target, member->d().assigned().size()) << member->id();
  }
}

TEST_F(DividerAdminTest, AddedAndRemovedWorkReachesTheDividers) {
  fleet_->add("m1", 1);
  fleet_->add("m2", 1);
  std::map<std::string, std::int64_t> two{{"m1", 1}, {"m2", 1}};
  ASSERT_TRUE(fleet_->all_see_members(two)) << fleet_->describe();

  // 250 keys: three multis; twice, to be idempotent.
  auto keys = numbered_keys(0, 250);
  auto added = admin_->async_add_work(keys, use_future);
  auto update = get_within(added, 60s);
  EXPECT_EQ(update.keys, 250u);
  EXPECT_EQ(update.path, root_ + "/work/" + prefix_ + "/keys");
  add_work(keys);
  ASSERT_TRUE(fleet_->all_see_keys(250)) << fleet_->describe();
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, two))) << fleet_->describe();

  // Remove 120 (and 5 that were never there).
  std::vector<std::string> gone(keys.begin(), keys.begin() + 120);
  auto extra = numbered_keys(1000, 1005);
  std::vector<std::string> to_remove = gone;
  to_remove.insert(to_remove.end(), extra.begin(), extra.end());
  auto removed = admin_->async_remove_work(to_remove, use_future);
  EXPECT_EQ(get_within(removed, 60s).keys, 125u);
  std::vector<std::string> left(keys.begin() + 120, keys.end());
  ASSERT_TRUE(fleet_->all_see_keys(left.size())) << fleet_->describe();
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(left, two))) << fleet_->describe();
  EXPECT_EQ(assignment().keys.size(), left.size());
}

TEST_F(DividerAdminTest, SetAffinityMovesOnlyTheKeysItMustAndTheDividerFollows) {
  auto keys = three_members_with_keys(300);
  auto before = fleet_->running();

  auto set = admin_->async_set_affinity("m1", 4, use_future);
  auto update = get_within(set, 30s);
  EXPECT_EQ(update.path, root_ + "/work/" + prefix_ + "/members/m1");
  EXPECT_EQ(update.before.affinity, 1);
  EXPECT_EQ(update.after.affinity, 4);
  EXPECT_EQ(update.after.endpoint, "m1:7000");  // kept
  EXPECT_GT(update.after.version, update.before.version);

  affinities_["m1"] = 4;
  auto want = fleet::expected(keys, affinities_);
  ASSERT_TRUE(fleet_->converges_to(want)) << fleet_->describe();
  EXPECT_TRUE(wait_until([&] { return fleet_->get("m1").d().affinity() == 4; }, 30s));
  // A raise only brings keys to m1: every key that changed hands went to it.
  std::size_t moved = 0;
  for (auto& [key, owner] : want)
    if (before[key] != owner) {
      ++moved;
      EXPECT_EQ(owner, "m1") << key << " moved from " << before[key];
    }
  EXPECT_GT(moved, 0u);
  auto a = settled_assignment();
  EXPECT_EQ(owners_of(a), want);
  EXPECT_EQ(a.members["m1"].affinity, 4);

  // The same value again: nothing to write.
  auto again = admin_->async_set_affinity("m1", 4, use_future);
  auto same = get_within(again, 30s);
  EXPECT_EQ(same.before.version, same.after.version);
}

TEST_F(DividerAdminTest, ConcurrentAffinityWritesAllLandAndTheLastOneStays) {
  fleet_->add("m1", 1);
  // Two admins on two sessions, 20 writes at once: each read-modify-write
  // that loses a race (bad version) reads again and retries.
  auto other_session = connect_session(hosts_);
  divider_admin other(*other_session, root_, prefix_);
  std::vector<std::future<member_update>> writes;
  for (int i = 0; i < 20; ++i) {
    auto& admin = i % 2 ? other : *admin_;
    writes.push_back(admin.async_set_affinity("m1", 10 + i, use_future));
  }
  std::vector<member_update> done;
  for (auto& w : writes) done.push_back(get_within(w, 60s));
  // The write with the highest version is what the node holds, and what
  // the divider ends up with.
  auto last = *std::max_element(done.begin(), done.end(),
                                [](auto& a, auto& b) { return a.after.version < b.after.version; });
  std::set<std::int32_t> versions;
  for (auto& u : done) {
    if (u.after.version == u.before.version) continue;  // the value was there already
    EXPECT_TRUE(versions.insert(u.after.version).second) << "two writes made version " << u.after.version;
  }
  auto members = admin_->async_members(use_future);
  auto now = get_within(members, 30s).members.at("m1");
  EXPECT_EQ(now.affinity, last.after.affinity);
  EXPECT_EQ(now.version, last.after.version);
  EXPECT_EQ(now.endpoint, "m1:7000");
  EXPECT_TRUE(wait_until([&] { return fleet_->get("m1").d().affinity() == last.after.affinity; }, 30s));
}

TEST_F(DividerAdminTest, DrainEmptiesAMemberThroughTheHandoff) {
  auto keys = three_members_with_keys(300);
  ASSERT_FALSE(fleet_->get("m3").d().assigned().empty());

  auto drained = admin_->async_drain("m3", use_future);
  EXPECT_EQ(get_within(drained, 30s).after.affinity, 0);
  affinities_["m3"] = 0;
  auto want = fleet::expected(keys, affinities_);
  ASSERT_TRUE(fleet_->converges_to(want)) << fleet_->describe();
  EXPECT_TRUE(fleet_->get("m3").d().assigned().empty());
  auto a = settled_assignment();
  for (auto& k : a.keys) {
    ASSERT_TRUE(k.owner) << k.key;
    EXPECT_NE(*k.owner, "m3") << k.key;
  }
  EXPECT_EQ(a.per_member()["m3"].owned, 0u);
  // It stays a member, with no work.
  EXPECT_EQ(a.members.at("m3").affinity, 0);

  // And comes back.
  auto restored = admin_->async_set_affinity("m3", 3, use_future);
  get_within(restored, 30s);
  affinities_["m3"] = 3;
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, affinities_))) << fleet_->describe();
}

TEST_F(DividerAdminTest, RolesShowEachHolderAndItsToken) {
  auto none = admin_->async_roles(use_future);
  auto empty = get_within(none, 30s);
  EXPECT_EQ(empty.path, root_ + "/roles");
  EXPECT_TRUE(empty.roles.empty());

  auto s1 = connect_session(hosts_);
  auto s2 = connect_session(hosts_);
  auto elected = std::make_shared<event_store<term>>();
  auto first = std::make_unique<candidate>(
      *s1, role(root_, "cluster-manager", "w1", "10.0.0.1:80"),
      candidate::callbacks{[elected](const term& t) { elected->add(t); }, {}});
  ASSERT_TRUE(wait_until([&] { return first->is_holder(); }, 30s));
  candidate second(*s2, role(root_, "cluster-manager", "w2", "10.0.0.2:80"), {});
  candidate other(*s2, role(root_, "scheduler", "w2", "10.0.0.2:80"), {});
  ASSERT_TRUE(wait_until([&] { return other.is_holder(); }, 30s));

  role_list roles;
  ASSERT_TRUE(wait_until(
      [&] {
        auto f = admin_->async_roles(use_future);
        roles = get_within(f, 30s);
        return roles.roles.size() == 2 && roles.roles["cluster-manager"].candidates == 2;
      },
      30s));
  auto cm = roles.roles["cluster-manager"];  // a copy: roles is read again below
  ASSERT_TRUE(cm.holder);
  EXPECT_EQ(cm.holder->member_id, "w1");
  EXPECT_EQ(cm.holder->endpoint, "10.0.0.1:80");
  EXPECT_EQ(cm.holder->token, first->current_term()->token);
  EXPECT_EQ(cm.holder->node, first->current_term()->node);
  ASSERT_TRUE(roles.roles["scheduler"].holder);
  EXPECT_EQ(roles.roles["scheduler"].holder->member_id, "w2");

  first.reset();  // withdraws: w2 holds
  ASSERT_TRUE(wait_until([&] { return second.is_holder(); }, 30s));
  auto f = admin_->async_roles(use_future);
  roles = get_within(f, 30s);
  ASSERT_TRUE(roles.roles["cluster-manager"].holder);
  EXPECT_EQ(roles.roles["cluster-manager"].holder->member_id, "w2");
  EXPECT_EQ(roles.roles["cluster-manager"].holder->token, second.current_term()->token);
  EXPECT_GT(roles.roles["cluster-manager"].holder->token, cm.holder->token);
  EXPECT_EQ(roles.roles["cluster-manager"].candidates, 1u);
}

TEST_F(DividerAdminTest, BadInputIsRefusedNamingTheValueAndNothingIsSent) {
  // Root and prefix_: the constructors throw, naming them.
  auto thrown = [&](const std::string& root, const std::string& p) -> std::string {
    try {
      divider_admin bad(*admin_session_, root, p);
    } catch (const error& e) {
      EXPECT_TRUE(is_invalid_argument(e.code())) << e.what();
      return e.what();
    }
    return "";
  };
  EXPECT_NE(thrown(root_, "").find("divider prefix"), std::string::npos);
  EXPECT_NE(thrown(root_, std::string(600, 'p')).find("divider prefix"), std::string::npos);
  EXPECT_NE(thrown("relative/root", prefix_).find("relative/root"), std::string::npos);
  EXPECT_THROW({ divider_watch w(*admin_session_, root_, "", {}); }, error);

  // A bad key among good ones: nothing is sent.
  std::string long_key(max_work_key_bytes + 1, 'k');
  auto [ec, what] = failure_of([&] { return admin_->async_add_work({"fine-1", long_key, "fine-2"}, use_future); });
  EXPECT_EQ(ec, errc::invalid_name);
  EXPECT_NE(what.find("work key 'kkkk"), std::string::npos) << what;
  std::tie(ec, what) = failure_of([&] { return admin_->async_remove_work({""}, use_future); });
  EXPECT_EQ(ec, errc::invalid_name);
  EXPECT_NE(what.find("work key ''"), std::string::npos) << what;
  auto exists = admin_session_->async_exists(root_, use_future);
  EXPECT_FALSE(get_within(exists, 30s)) << "the refused add created " << root_;

  // Affinity below 0, a member id that is no node name, a member that is not there.
  std::tie(ec, what) = failure_of([&] { return admin_->async_set_affinity("m1", -1, use_future); });
  EXPECT_EQ(ec, errc::invalid_option);
  EXPECT_NE(what.find("'-1'"), std::string::npos) << what;
  EXPECT_NE(what.find("m1"), std::string::npos) << what;
  std::tie(ec, what) = failure_of([&] { return admin_->async_set_affinity("a/b", 1, use_future); });
  EXPECT_EQ(ec, errc::invalid_name);
  EXPECT_NE(what.find("'a/b'"), std::string::npos) << what;
  std::tie(ec, what) = failure_of([&] { return admin_->async_drain("ghost", use_future); });
  EXPECT_EQ(ec, errc::no_node);
  EXPECT_NE(what.find("/members/ghost"), std::string::npos) << what;
  EXPECT_EQ(divider_admin::check_affinity(-5), errc::invalid_option);
  EXPECT_EQ(divider_admin::check_key(long_key), errc::invalid_name);
  EXPECT_FALSE(divider_admin::check_key(std::string(max_work_key_bytes, 'k')));

  // Reads of a prefix_ nobody has used are empty, not errors.
  auto a = assignment();
  EXPECT_TRUE(a.keys.empty());
  EXPECT_TRUE(a.members.empty());
}

TEST_F(DividerAdminTest, WatchReportsJoinsAffinityKeysOwnersAndRoles) {
  fleet_->add("m1", 1);
  fleet_->add("m2", 1);
  std::map<std::string, std::int64_t> two{{"m1", 1}, {"m2", 1}};
  ASSERT_TRUE(fleet_->all_see_members(two));
  auto keys = numbered_keys(0, 60);
  add_work(keys);
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, two))) << fleet_->describe();

  struct seen {
    std::mutex mutex;
    std::optional<divider_watch_summary> ready;
    std::vector<member_info> joins, leaves;
    std::vector<std::pair<member_info, member_info>> updates;
    std::vector<role_change> roles;
    std::set<std::string> added, removed;
    std::vector<owner_change> owners;
    ownership owner;  // key -> owner, from the changes
  };
  auto log = std::make_shared<seen>();
  divider_watch::callbacks cb;
  cb.on_ready = [log](const divider_watch_summary& s) {
    std::lock_guard lock(log->mutex);
    log->ready = s;
  };
  cb.on_join = [log](const member_info& m) {
    std::lock_guard lock(log->mutex);
    log->joins.push_back(m);
  };
  cb.on_leave = [log](const member_info& m) {
    std::lock_guard lock(log->mutex);
    log->leaves.push_back(m);
  };
  cb.on_update = [log](const member_info& now, const member_info& before) {
    std::lock_guard lock(log->mutex);
    log->updates.emplace_back(now, before);
  };
  cb.on_role = [log](const role_change& c) {
    std::lock_guard lock(log->mutex);
    log->roles.push_back(c);
  };
  cb.on_keys = [log](const std::vector<std::string>& added, const std::vector<std::string>& removed) {
    std::lock_guard lock(log->mutex);
    log->added.insert(added.begin(), added.end());
    log->removed.insert(removed.begin(), removed.end());
  };
  cb.on_owner = [log](const owner_change& c) {
    std::lock_guard lock(log->mutex);
    log->owners.push_back(c);
    if (c.after)
      log->owner[c.key] = *c.after;
    else
      log->owner.erase(c.key);
  };
  auto locked = [log](auto f) {
    std::lock_guard lock(log->mutex);
    return f(*log);
  };

  divider_watch watch(*admin_session_, root_, prefix_, cb);
  ASSERT_TRUE(wait_until([&] { return watch.ready(); }, 30s));
  auto summary = locked([](seen& s) { return *s.ready; });
  EXPECT_EQ(summary.members, 2u);
  EXPECT_EQ(summary.keys, 60u);
  EXPECT_EQ(summary.owned, 60u);
  EXPECT_EQ(summary.roles, 0u);
  // The start is not reported as changes.
  EXPECT_TRUE(locked([](seen& s) { return s.joins.empty() && s.owners.empty() && s.added.empty(); }));

  // A join, and the keys that move to the joiner.
  fleet_->add("m3", 2);
  ASSERT_TRUE(wait_until([&] { return locked([](seen& s) { return s.joins.size() == 1; }); }, 30s));
  EXPECT_EQ(locked([](seen& s) { return s.joins[0]; }).id, "m3");
  EXPECT_EQ(locked([](seen& s) { return s.joins[0]; }).affinity, 2);
  auto three = two;
  three["m3"] = 2;
  auto want = fleet::expected(keys, three);
  ASSERT_TRUE(fleet_->converges_to(want)) << fleet_->describe();
  std::set<std::string> to_m3;
  for (auto& [key, owner] : want)
    if (owner == "m3") to_m3.insert(key);
  ASSERT_FALSE(to_m3.empty());
  // Every key m3 took shows up as an owner change to m3, with its token.
  ASSERT_TRUE(wait_until(
      [&] {
        return locked([&](seen& s) {
          for (auto& key : to_m3) {
            auto it = s.owner.find(key);
            if (it == s.owner.end() || it->second != "m3") return false;
          }
          return true;
        });
      },
      30s));
  locked([&](seen& s) {
    for (auto& c : s.owners) {
      if (c.after == std::optional<std::string>("m3")) {
        EXPECT_TRUE(to_m3.count(c.key)) << c.key << " went to m3";
        EXPECT_EQ(c.token, fleet_->get("m3").token(c.key)) << c.key;
      }
      EXPECT_NE(c.before, c.after) << c.key;
    }
    return 0;
  });

  // An affinity change.
  auto set = admin_->async_set_affinity("m1", 5, use_future);
  get_within(set, 30s);
  ASSERT_TRUE(wait_until([&] { return locked([](seen& s) { return !s.updates.empty(); }); }, 30s));
  locked([](seen& s) {
    EXPECT_EQ(s.updates[0].first.id, "m1");
    EXPECT_EQ(s.updates[0].first.affinity, 5);
    EXPECT_EQ(s.updates[0].second.affinity, 1);
    return 0;
  });

  // Keys added and removed.
  add_work({"late-1", "late-2"});
  auto removal = admin_->async_remove_work({"key-0000"}, use_future);
  get_within(removal, 30s);
  ASSERT_TRUE(wait_until(
      [&] {
        return locked([](seen& s) {
          return s.added.count("late-1") && s.added.count("late-2") && s.removed.count("key-0000");
        });
      },
      30s));

  // A role holder.
  auto cs = connect_session(hosts_);
  {
    candidate holder(*cs, role(root_, "cluster-manager", "w9", "w9:1"), {});
    ASSERT_TRUE(wait_until([&] { return locked([](seen& s) { return !s.roles.empty(); }); }, 30s));
    auto c = locked([](seen& s) { return s.roles[0]; });
    EXPECT_EQ(c.role, "cluster-manager");
    EXPECT_FALSE(c.before);
    ASSERT_TRUE(c.after);
    EXPECT_EQ(c.after->member_id, "w9");
    ASSERT_TRUE(wait_until([&] { return holder.is_holder(); }, 30s));
    EXPECT_EQ(c.after->token, holder.current_term()->token);
  }
  ASSERT_TRUE(wait_until([&] { return locked([](seen& s) { return s.roles.size() == 2; }); }, 30s));
  EXPECT_FALSE(locked([](seen& s) { return s.roles[1]; }).after);

  // A leave.
  fleet_->get("m2").stop();
  ASSERT_TRUE(wait_until([&] { return locked([](seen& s) { return s.leaves.size() == 1; }); }, 30s));
  EXPECT_EQ(locked([](seen& s) { return s.leaves[0]; }).id, "m2");
}

}  // namespace
}  // namespace nominee::testing
