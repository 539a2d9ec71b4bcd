#include "backoff.hpp"

#include <gtest/gtest.h>

#include <set>

namespace nominee::detail {
namespace {

TEST(Backoff, StaysWithinTheDoublingCeiling) {
  retry_policy policy{std::chrono::milliseconds(10), std::chrono::milliseconds(1000), 20};
  std::mt19937_64 random(42);
  for (int attempt = 0; attempt < 12; ++attempt) {
    auto ceiling = std::min<long>(1000, 10L << attempt);
    for (int i = 0; i < 200; ++i) {
      auto d = backoff_delay(policy, attempt, random).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
    }
  }
}

TEST(Backoff, IsJitteredNotConstant) {
  retry_policy policy{std::chrono::milliseconds(100), std::chrono::milliseconds(100), 5};
  std::mt19937_64 random(7);
  std::set<long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(backoff_delay(policy, 0, random).count());
  EXPECT_GT(seen.size(), 10u);
}

TEST(Backoff, HugeAttemptNumbersDoNotOverflow) {
  retry_policy policy{std::chrono::milliseconds(10), std::chrono::milliseconds(500), 5};
  std::mt19937_64 random(1);
  for (int attempt : {62, 63, 64, 1000, 1 << 30}) {
    auto d = backoff_delay(policy, attempt, random).count();
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 500);
  }
}

TEST(Backoff, ZeroInitialDelayMeansImmediateRetry) {
  retry_policy policy{std::chrono::milliseconds(0), std::chrono::milliseconds(0), 5};
  std::mt19937_64 random(1);
  EXPECT_EQ(backoff_delay(policy, 3, random).count(), 0);
}

}  // namespace
}  // namespace nominee::detail
