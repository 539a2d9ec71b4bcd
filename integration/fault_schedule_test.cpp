// The fault runner's schedule: reproducible from its seed, every fault
// undone, never more impaired at once than allowed, and the short CI
// schedule covers every kind of fault.
#include "fault_schedule.hpp"

#include "fault_deck.hpp"

#include <map>
#include <string>
#include <vector>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

namespace nominee::testing {
namespace {

using std::chrono::milliseconds;

// What .ci/run's short schedule uses (fault_runner.cmake): keep in step.
schedule_options ci_options() {
  schedule_options o;
  o.seed = 1;
  o.duration = milliseconds(120000);
  return o;
}

TEST(FaultSchedule, TheSameSeedGivesTheSameSteps) {
  auto a = make_schedule(ci_options());
  auto b = make_schedule(ci_options());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(describe(a[i]), describe(b[i]));
  auto other = ci_options();
  other.seed = 2;
  auto c = make_schedule(other);
  std::string all_a, all_c;
  for (auto& s : a) all_a += describe(s) + "\n";
  for (auto& s : c) all_c += describe(s) + "\n";
  EXPECT_NE(all_a, all_c);
}

// Pinned: a change to the generator (or a platform whose arithmetic
// differs) must not silently change what a printed seed replays.
TEST(FaultSchedule, SeedOneStillStartsTheSameWay) {
  auto steps = make_schedule(ci_options());
  ASSERT_GE(steps.size(), 6u);
  std::vector<std::string> first;
  for (std::size_t i = 0; i < 6; ++i) first.push_back(describe(steps[i]));
  EXPECT_EQ(first, (std::vector<std::string>{"2.000s pause_worker w4 (short of it)", "3.212s resume_worker w4",
                                             "4.043s kill_worker w0", "6.035s kill_worker w3",
                                             "6.364s restart_worker w0", "6.796s set_affinity w2 to 1"}));
}

TEST(FaultSchedule, EveryFaultIsUndoneAndStepsAreInTimeOrder) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto o = ci_options();
    o.seed = seed;
    auto steps = make_schedule(o);
    std::map<int, std::string> worker_down;  // worker -> what it waits for
    int servers_down = 0;
    milliseconds last{0};
    for (auto& s : steps) {
      EXPECT_GE(s.at, last) << describe(s);
      last = s.at;
      switch (s.kind) {
        case step_kind::kill_worker:
        case step_kind::terminate_worker:
          EXPECT_EQ(worker_down.count(s.worker), 0u) << "seed " << seed << ": " << describe(s);
          worker_down[s.worker] = "restart";
          break;
        case step_kind::restart_worker:
          EXPECT_EQ(worker_down[s.worker], "restart") << "seed " << seed << ": " << describe(s);
          worker_down.erase(s.worker);
          break;
        case step_kind::pause_worker:
          EXPECT_EQ(worker_down.count(s.worker), 0u) << "seed " << seed << ": " << describe(s);
          worker_down[s.worker] = "resume";
          break;
        case step_kind::resume_worker:
          EXPECT_EQ(worker_down[s.worker], "resume") << "seed " << seed << ": " << describe(s);
          worker_down.erase(s.worker);
          break;
        case step_kind::partition:
        case step_kind::slow_link:
          EXPECT_LT(s.worker, o.partitionable) << describe(s);
          EXPECT_EQ(worker_down.count(s.worker), 0u) << "seed " << seed << ": " << describe(s);
          worker_down[s.worker] = "heal";
          break;
        case step_kind::heal:
          EXPECT_EQ(worker_down[s.worker], "heal") << "seed " << seed << ": " << describe(s);
          worker_down.erase(s.worker);
          break;
        case step_kind::kill_leader:
        case step_kind::kill_follower:
          EXPECT_EQ(servers_down, 0) << "seed " << seed << ": two servers down at once: " << describe(s);
          ++servers_down;
          break;
        case step_kind::restart_server:
          EXPECT_EQ(servers_down, 1) << describe(s);
          --servers_down;
          break;
        default: break;
      }
      EXPECT_LE(static_cast<int>(worker_down.size()), o.max_impaired) << "seed " << seed << ": " << describe(s);
    }
    EXPECT_TRUE(worker_down.empty()) << "seed " << seed << ": a worker is left impaired";
    EXPECT_EQ(servers_down, 0) << "seed " << seed << ": a server is left down";
  }
}

TEST(FaultSchedule, TheCiScheduleCoversEveryKindOfFault) {
  auto counts = count_steps(make_schedule(ci_options()));
  for (const char* kind : {"kill_worker", "pause_worker_long", "pause_worker_short", "terminate_worker", "expire_session",
                           "kill_leader", "kill_follower", "partition_long", "partition_short", "slow_link",
                           "set_affinity", "add_keys", "remove_keys"})
    EXPECT_GE(counts[kind], 1) << kind << " is missing from the CI schedule (seed 1): pick another seed";
}

// The churn tests' decks: each deck's worth of draws holds every kind
// exactly its count, in an order that changes from deck to deck.
TEST(FaultDeck, EveryFullDeckHoldsEachKindItsCountInAShuffledOrder) {
  std::mt19937_64 random(7);
  fault_deck<char> deck({{'k', 3}, {'l', 3}, {'a', 2}}, random);
  ASSERT_EQ(deck.deck_size(), 8u);
  std::set<std::string> orders;
  for (int round = 0; round < 200; ++round) {
    std::map<char, int> counts;
    std::string order;
    for (std::size_t i = 0; i < deck.deck_size(); ++i) {
      char card = deck.draw();
      ++counts[card];
      order += card;
    }
    EXPECT_EQ(counts['k'], 3) << order;
    EXPECT_EQ(counts['l'], 3) << order;
    EXPECT_EQ(counts['a'], 2) << order;
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 50u) << "the decks are not shuffled";
}

TEST(FaultDeck, AKindWithoutCardsIsRefused) {
  std::mt19937_64 random(1);
  EXPECT_THROW(fault_deck<char>({{'k', 0}}, random), std::invalid_argument);
  EXPECT_THROW(fault_deck<char>({}, random), std::invalid_argument);
}

TEST(FaultSchedule, TheWorkSetFollowsTheAddsAndRemoves) {
  auto o = ci_options();
  auto steps = make_schedule(o);
  std::set<std::string> keys;
  for (auto& k : initial_keys(o)) keys.insert(k);
  for (auto& s : steps) {
    if (s.kind == step_kind::add_keys) {
      for (auto& k : s.keys) EXPECT_TRUE(keys.insert(k).second) << "added twice: " << k;
    }
    if (s.kind == step_kind::remove_keys) {
      for (auto& k : s.keys) EXPECT_EQ(keys.erase(k), 1u) << "removed but absent: " << k;
    }
  }
  auto final = final_keys(o, steps);
  EXPECT_EQ(std::set<std::string>(final.begin(), final.end()), keys);
  EXPECT_GE(final.size(), static_cast<std::size_t>(o.initial_keys / 2));
}

TEST(FaultSchedule, BadOptionsAreNamed) {
  auto o = ci_options();
  o.workers = 2;
  try {
    make_schedule(o);
    FAIL() << "two workers accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("workers 2"), std::string::npos) << e.what();
  }
  o = ci_options();
  o.duration = milliseconds(1000);
  EXPECT_THROW(make_schedule(o), std::invalid_argument);
}

}  // namespace
}  // namespace nominee::testing
