// Range leases' pure logic: config checks, sizing, grant planning, and the
// formats of the nodes (nothing here talks to ZooKeeper).
#include "range_sizing.hpp"

#include <limits>
#include <string>

#include <gtest/gtest.h>

#include <nominee/error.hpp>

#include "range_layout.hpp"

namespace nominee::detail {
namespace {

using namespace std::chrono_literals;

range_space_config space(std::uint64_t lo, std::uint64_t hi, std::uint64_t min, std::uint64_t max,
                         std::chrono::milliseconds target = 1000ms) {
  return {lo, hi, min, max, target};
}

std::string failure_of(const range_space_config& c) {
  try {
    require_valid_space("opts.config", c);
  } catch (const error& e) {
    EXPECT_EQ(e.code(), make_error_code(errc::invalid_option));
    return e.what();
  }
  return "";
}

TEST(RangeSizing, BadConfigsNameTheFieldAndValue) {
  EXPECT_EQ(failure_of(space(0, 100, 1, 10)), "");
  auto empty = failure_of(space(5, 5, 1, 10));
  EXPECT_NE(empty.find("opts.config.lo '5'"), std::string::npos) << empty;
  EXPECT_NE(empty.find("empty"), std::string::npos) << empty;
  auto reversed = failure_of(space(10, 3, 1, 10));
  EXPECT_NE(reversed.find("opts.config.lo '10'"), std::string::npos) << reversed;
  EXPECT_NE(reversed.find("hi (3)"), std::string::npos) << reversed;
  auto min_max = failure_of(space(0, 100, 20, 10));
  EXPECT_NE(min_max.find("opts.config.min_block '20'"), std::string::npos) << min_max;
  EXPECT_NE(min_max.find("max_block (10)"), std::string::npos) << min_max;
  auto zero = failure_of(space(0, 100, 0, 10));
  EXPECT_NE(zero.find("opts.config.min_block '0'"), std::string::npos) << zero;
  auto target = failure_of(space(0, 100, 1, 10, 0ms));
  EXPECT_NE(target.find("opts.config.target_lease '0 ms'"), std::string::npos) << target;
}

TEST(RangeSizing, FastUseDoublesUpToMax) {
  auto c = space(0, 1'000'000, 10, 100, 1000ms);
  EXPECT_EQ(size_after_use(10, 100ms, c), 20u);
  EXPECT_EQ(size_after_use(10, 499ms, c), 20u);
  EXPECT_EQ(size_after_use(10, 500ms, c), 10u);  // not under half: unchanged
  EXPECT_EQ(size_after_use(10, 5000ms, c), 10u);
  EXPECT_EQ(size_after_use(80, 1ms, c), 100u);
  EXPECT_EQ(size_after_use(100, 1ms, c), 100u);
  EXPECT_EQ(size_after_use(3, 1ms, c), 20u);  // clamped into range first
}

TEST(RangeSizing, IdleHalvesDownToMin) {
  auto c = space(0, 1'000'000, 10, 100);
  EXPECT_EQ(size_after_idle(100, c), 50u);
  EXPECT_EQ(size_after_idle(15, c), 10u);
  EXPECT_EQ(size_after_idle(10, c), 10u);
}

TEST(RangeSizing, DoublingNeverOverflows) {
  auto max = std::numeric_limits<std::uint64_t>::max();
  auto c = space(0, max, 1, max);
  EXPECT_EQ(size_after_use(max / 2 + 7, 1ms, c), max);
  EXPECT_EQ(size_after_use(max, 1ms, c), max);
}

TEST(RangeSizing, GrantsFreshValuesFromTheCursor) {
  auto c = space(100, 1000, 10, 500);
  auto plan = plan_grant(100, {}, 50, c);
  EXPECT_EQ(plan.granted, (value_range{100, 150}));
  EXPECT_EQ(plan.new_cursor, 150u);
  EXPECT_FALSE(plan.taken_free);
  // The last, short block.
  plan = plan_grant(980, {}, 50, c);
  EXPECT_EQ(plan.granted, (value_range{980, 1000}));
  EXPECT_EQ(plan.new_cursor, 1000u);
  // Used up.
  plan = plan_grant(1000, {}, 50, c);
  EXPECT_TRUE(plan.granted.empty());
  EXPECT_FALSE(plan.new_cursor);
}

TEST(RangeSizing, ReturnedTailsGoFirstLowestFirst) {
  auto c = space(0, 1000, 10, 500);
  std::vector<value_range> free = {{600, 700}, {200, 230}};
  auto plan = plan_grant(900, free, 50, c);
  EXPECT_EQ(plan.granted, (value_range{200, 230}));  // all of the smaller tail
  EXPECT_EQ(plan.taken_free, (value_range{200, 230}));
  EXPECT_FALSE(plan.free_remainder);
  EXPECT_FALSE(plan.new_cursor);
  plan = plan_grant(900, {{600, 700}}, 50, c);
  EXPECT_EQ(plan.granted, (value_range{600, 650}));
  EXPECT_EQ(plan.free_remainder, (value_range{650, 700}));
  // Even a used-up cursor still grants from the free list.
  plan = plan_grant(1000, {{600, 700}}, 500, c);
  EXPECT_EQ(plan.granted, (value_range{600, 700}));
  // A free range outside the space (a foreign node) is never granted.
  plan = plan_grant(1000, {{2000, 2100}}, 50, c);
  EXPECT_TRUE(plan.granted.empty());
}

TEST(RangeLayout, FreeNamesSortAndRoundTrip) {
  value_range r{10, 100};
  auto name = free_name(r);
  EXPECT_EQ(name, "00000000000000000010-00000000000000000100");
  EXPECT_EQ(parse_free_name(name), r);
  value_range big{std::numeric_limits<std::uint64_t>::max() - 5, std::numeric_limits<std::uint64_t>::max()};
  EXPECT_EQ(parse_free_name(free_name(big)), big);
  EXPECT_LT(free_name({9, 10}), free_name({10, 11}));
  EXPECT_FALSE(parse_free_name("10-100"));
  EXPECT_FALSE(parse_free_name("00000000000000000100-00000000000000000010"));  // reversed
  EXPECT_FALSE(parse_free_name("0000000000000000001x-00000000000000000100"));
  EXPECT_FALSE(parse_free_name("99999999999999999999-99999999999999999999"));  // over 64 bits
}

TEST(RangeLayout, ConfigRoundTripsAndRejectsNonsense) {
  auto c = space(7, std::numeric_limits<std::uint64_t>::max(), 3, 9, 1500ms);
  auto back = decode_space_config(encode_space_config(c));
  ASSERT_TRUE(back);
  EXPECT_TRUE(same_space_config(*back, c));
  EXPECT_FALSE(decode_space_config("{}"));
  EXPECT_FALSE(decode_space_config("not json"));
  EXPECT_FALSE(decode_space_config(R"({"lo":5,"hi":5,"min_block":1,"max_block":1,"target_lease_ms":1})"));
  EXPECT_FALSE(decode_space_config(R"({"lo":-1,"hi":5,"min_block":1,"max_block":1,"target_lease_ms":1})"));
  EXPECT_EQ(decode_cursor(encode_cursor(42)), 42u);
  EXPECT_FALSE(decode_cursor(R"({"next":"42"})"));
}

TEST(RangeLayout, ReportsAndLeasesRoundTrip) {
  consumer_report r;
  r.session = 0x1234567890abcdefLL;
  r.instance = 0xfedcba9876543210ULL;
  r.taken = 4;
  r.want = true;
  r.used_n = 3;
  r.used_ms = 120;
  r.rate = 1500.5;
  r.drawn = 99;
  r.returns.push_back({2, true, {{10, 20}, {30, 40}}});
  auto back = decode_consumer_report(encode(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->session, r.session);
  EXPECT_EQ(back->instance, r.instance);
  EXPECT_EQ(back->taken, 4u);
  EXPECT_TRUE(back->want);
  EXPECT_EQ(back->used_ms, 120);
  ASSERT_EQ(back->returns.size(), 1u);
  EXPECT_EQ(back->returns[0].ranges[1], (value_range{30, 40}));
  EXPECT_FALSE(decode_consumer_report(R"({"session":1})"));

  lease_record l;
  l.block = 64;
  l.next_n = 5;
  l.grants.push_back({4, -7, {100, 164}});
  l.sized_n = 3;
  l.ret_czxid = 77;
  l.ret_seq = 2;
  l.exhausted = true;
  auto lease = decode_lease_record(encode(l));
  ASSERT_TRUE(lease);
  EXPECT_EQ(encode(*lease), encode(l));
  EXPECT_EQ(lease->grants[0].session, -7);
  EXPECT_FALSE(decode_lease_record(R"({"block":1,"next_n":1,"grants":[{"n":1,"session":1,"range":[5,5]}],)"
                                   R"("sized_n":0,"ret_czxid":0,"ret_seq":0,"exhausted":false})"));
}

// A grant names the registration (consumer node czxid) it is for; one
// written by an older coordinator has czxid 0.
TEST(RangeLayout, GrantsCarryTheirRegistration) {
  lease_record l;
  l.grants.push_back({4, 9, {100, 164}, 123456789012345});
  auto lease = decode_lease_record(encode(l));
  ASSERT_TRUE(lease);
  ASSERT_EQ(lease->grants.size(), 1u);
  EXPECT_EQ(lease->grants[0].czxid, 123456789012345);
  EXPECT_EQ(lease->grants[0].session, 9);

  auto old = decode_lease_record(R"({"block":1,"next_n":2,"grants":[{"n":1,"session":1,"range":[5,6]}],)"
                                 R"("sized_n":0,"ret_czxid":0,"ret_seq":0,"exhausted":false})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->grants[0].czxid, 0);
  EXPECT_FALSE(decode_lease_record(R"({"block":1,"next_n":2,"grants":[{"n":1,"session":1,"czxid":"x","range":[5,6]}],)"
                                   R"("sized_n":0,"ret_czxid":0,"ret_seq":0,"exhausted":false})"));
}

TEST(RangeSizing, TargetLeaseHasAnUpperBound) {
  EXPECT_NO_THROW(require_valid_space("opts.config", space(0, 100, 1, 10, max_target_lease)));
  auto huge = failure_of(space(0, 100, 1, 10, std::chrono::milliseconds(std::numeric_limits<std::int64_t>::max())));
  EXPECT_NE(huge.find("opts.config.target_lease"), std::string::npos) << huge;
  EXPECT_FALSE(decode_space_config(R"({"lo":0,"hi":5,"min_block":1,"max_block":1,"target_lease_ms":)" +
                                   std::to_string(max_target_lease.count() + 1) + "}"));
}

}  // namespace
}  // namespace nominee::detail
