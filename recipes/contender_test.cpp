#include "contender.hpp"

#include <gtest/gtest.h>

namespace nominee::detail {
namespace {

TEST(Sequence, ReadsTheTrailingDigits) {
  EXPECT_EQ(sequence_of("_c_0f3e-latch-0000000042"), 42);
  EXPECT_EQ(sequence_of("lock-0000000000"), 0);
  EXPECT_EQ(sequence_of("latch-2147483648"), 2147483648LL) << "past int32: ZooKeeper's counter wraps there, we do not";
  EXPECT_EQ(sequence_of("no-digits-"), -1);
  EXPECT_EQ(sequence_of(""), -1);
}

TEST(Sequence, OrdersBySequenceAloneNotByTheProtectedPrefix) {
  // The UUID prefix sorts differently from the sequence: Curator orders by
  // the sequence, and so must we, or a JVM peer would disagree on the holder.
  std::vector<std::string> names{"_c_ffff-latch-0000000003", "_c_0000-latch-0000000007", "_c_aaaa-latch-0000000001"};
  auto order = sorted_by_sequence(names);
  EXPECT_EQ(order, (std::vector<std::string>{"_c_aaaa-latch-0000000001", "_c_ffff-latch-0000000003",
                                             "_c_0000-latch-0000000007"}));
}

TEST(Sequence, NamesWithoutASequenceGoFirstAndDoNotCrash) {
  auto order = sorted_by_sequence({"latch-0000000002", "stray", "latch-0000000001"});
  EXPECT_EQ(order.front(), "stray");
  EXPECT_EQ(order.back(), "latch-0000000002");
}

}  // namespace
}  // namespace nominee::detail
