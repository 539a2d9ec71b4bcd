// The incremental table must always agree with the from-scratch ranking
// (owner_of over the non-excluded members), whatever order changes come in.
#include "assignment_table.hpp"

#include <random>

#include <gtest/gtest.h>

namespace nominee::detail {
namespace {

std::optional<std::string> expected_owner(const std::string& key, const std::vector<weighted_member>& members,
                                          const std::map<std::string, std::set<std::string>>& exclusions) {
  std::vector<weighted_member> eligible;
  for (auto& m : members) {
    auto it = exclusions.find(key);
    if (it == exclusions.end() || !it->second.count(m.id)) eligible.push_back(m);
  }
  return owner_of(key, eligible);
}

void expect_agrees(const assignment_table& table, const std::vector<std::string>& keys,
                   const std::vector<weighted_member>& members,
                   const std::map<std::string, std::set<std::string>>& exclusions, const std::string& step) {
  for (auto& key : keys) ASSERT_EQ(table.owner(key), expected_owner(key, members, exclusions)) << step << " key " << key;
}

TEST(AssignmentTable, FollowsRandomChangesExactly) {
  std::mt19937_64 rng(7);
  assignment_table table;
  std::vector<std::string> keys;
  std::vector<weighted_member> members;
  std::map<std::string, std::set<std::string>> exclusions;
  for (int i = 0; i < 400; ++i) keys.push_back("k" + std::to_string(i));
  table.add_keys(keys);
  for (int step = 0; step < 300; ++step) {
    auto choice = rng() % 5;
    if (choice == 0 || members.size() < 2) {
      members.push_back({"m" + std::to_string(rng() % 20), static_cast<std::int64_t>(rng() % 4)});
      std::map<std::string, std::int64_t> unique;
      for (auto& m : members) unique[m.id] = m.affinity;
      members.clear();
      for (auto& [id, a] : unique) members.push_back({id, a});
    } else if (choice == 1) {
      members.erase(members.begin() + static_cast<long>(rng() % members.size()));
    } else if (choice == 2) {
      members[rng() % members.size()].affinity = static_cast<std::int64_t>(rng() % 5);
    } else if (choice == 3) {
      auto& key = keys[rng() % keys.size()];
      if (rng() % 2)
        exclusions[key].insert(members[rng() % members.size()].id);
      else
        exclusions.erase(key);
      auto changes = table.set_exclusions(exclusions);
      for (auto& c : changes) EXPECT_NE(c.before, c.after);
      expect_agrees(table, keys, members, exclusions, "exclusions at step " + std::to_string(step));
      continue;
    } else {
      std::string key = "n" + std::to_string(rng() % 50);
      if (rng() % 2) {
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
        table.add_keys({key});
      } else {
        keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
        table.remove_keys({key});
        EXPECT_FALSE(table.owner(key));
      }
    }
    auto before = std::map<std::string, std::optional<std::string>>{};
    for (auto& k : keys) before[k] = table.owner(k);
    auto changes = table.set_members(members);
    // The reported changes are exactly the keys whose owner changed.
    std::set<std::string> changed;
    for (auto& c : changes) {
      changed.insert(c.key);
      EXPECT_EQ(c.before, before[c.key]);
      EXPECT_EQ(c.after, table.owner(c.key));
    }
    for (auto& k : keys)
      if (!changed.count(k)) {
        EXPECT_EQ(before[k], table.owner(k)) << "unreported change of " << k;
      }
    expect_agrees(table, keys, members, exclusions, "step " + std::to_string(step));
  }
}

TEST(AssignmentTable, AJoinMovesKeysOnlyToTheJoiner) {
  assignment_table table;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("key-" + std::to_string(i));
  table.add_keys(keys);
  table.set_members({{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}});
  auto changes = table.set_members({{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}});
  EXPECT_GT(changes.size(), 150u);
  EXPECT_LT(changes.size(), 250u);
  for (auto& c : changes) EXPECT_EQ(c.after, "e");
  EXPECT_EQ(table.keys_of("e").size(), changes.size());
  // Affinity 0 owns nothing; none at all leaves every key unowned.
  table.set_members({{"a", 0}});
  EXPECT_EQ(table.eligible_members(), 0u);
  EXPECT_FALSE(table.owner("key-1"));
}

TEST(AssignmentTable, AnExcludedMemberNeverOwnsTheKeyAndTheNextInRankTakesIt) {
  assignment_table table;
  table.add_keys({"k"});
  table.set_members({{"a", 1}, {"b", 1}, {"c", 1}});
  auto first = *table.owner("k");
  auto changes = table.set_exclusions({{"k", {first}}});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(*table.owner("k"), first);
  EXPECT_EQ(changes[0].before, first);
  table.set_exclusions({{"k", {"a", "b", "c"}}});
  EXPECT_FALSE(table.owner("k"));
  table.set_exclusions({});
  EXPECT_EQ(*table.owner("k"), first);
}

// A fleet's shape: many members, affinities far apart, keys added a shard
// at a time and some removed (their slots refilled from the end).
TEST(AssignmentTable, ALargeFleetWithFarApartAffinitiesAgreesWithTheRanking) {
  std::vector<weighted_member> members;
  const std::int64_t affinities[] = {1, 1, 2, 7, 1000, std::int64_t{1} << 40};
  for (int m = 0; m < 60; ++m) members.push_back({"member-" + std::to_string(m), affinities[m % std::size(affinities)]});
  assignment_table table;
  table.set_members(members);
  std::vector<std::string> keys;
  for (int shard = 0; shard < 16; ++shard) {
    std::vector<std::string> batch;
    for (int i = shard; i < 8000; i += 16) batch.push_back("key-" + std::to_string(i));
    table.add_keys(batch);
    keys.insert(keys.end(), batch.begin(), batch.end());
  }
  std::vector<std::string> removed;
  for (int i = 0; i < 8000; i += 3) removed.push_back("key-" + std::to_string(i));
  table.remove_keys(removed);
  std::set<std::string> gone(removed.begin(), removed.end());
  keys.erase(std::remove_if(keys.begin(), keys.end(), [&](auto& k) { return gone.count(k) != 0; }), keys.end());
  ASSERT_EQ(table.size(), keys.size());
  expect_agrees(table, keys, members, {}, "after loading");
  for (auto& k : removed) EXPECT_FALSE(table.contains(k)) << k;

  members.erase(members.begin() + 5);     // the 2^40 member leaves
  members[3].affinity = 1;                // 7 -> 1
  members.push_back({"member-new", 1000});
  table.set_members(members);
  expect_agrees(table, keys, members, {}, "after a leave, a lowering and a join");
}

}  // namespace
}  // namespace nominee::detail
