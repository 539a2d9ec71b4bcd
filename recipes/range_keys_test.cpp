#include "range_keys.hpp"

#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

#include <nominee/error.hpp>

namespace nominee::detail {
namespace {

TEST(SplitSpace, CutsIntoRangesOfRangeSizeWithAShorterLastOne) {
  auto ranges = split_space({0, 1050, 100});
  ASSERT_EQ(ranges.size(), 11u);
  EXPECT_EQ(ranges[0], (space_range{0, 100, 0, "0000_0_100"}));
  EXPECT_EQ(ranges[3].key, "0003_300_400");
  EXPECT_EQ(ranges[10], (space_range{1000, 1050, 10, "0010_1000_1050"}));
  // Contiguous, covering [lo, hi) exactly.
  for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_EQ(ranges[i].lo, ranges[i - 1].hi);
}

TEST(SplitSpace, KeysSortAsTheRangesDo) {
  auto ranges = split_space({-500, 12000, 1});
  ASSERT_EQ(ranges.size(), 12500u);
  EXPECT_EQ(ranges.front().key, "00000_-500_-499");
  EXPECT_EQ(ranges.back().key, "12499_11999_12000");
  EXPECT_TRUE(std::is_sorted(ranges.begin(), ranges.end(),
                             [](const space_range& a, const space_range& b) { return a.key < b.key; }));
}

TEST(SplitSpace, HandlesTheEndsOfInt64) {
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  auto ranges = split_space({min, max, max / 2 + 1});
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges.front().lo, min);
  EXPECT_EQ(ranges.back().hi, max);
  for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_EQ(ranges[i].lo, ranges[i - 1].hi);
  std::uint64_t total = 0;
  for (auto& r : ranges) total += r.size();
  EXPECT_EQ(total, std::numeric_limits<std::uint64_t>::max());

  auto one = split_space({max - 1, max, max});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].size(), 1u);
}

TEST(ParseRangeKey, RoundTripsAndRefusesOtherSpacesKeys) {
  space_definition space{0, 1050, 100};
  for (auto& r : split_space(space)) {
    auto back = parse_range_key(space, r.key);
    ASSERT_TRUE(back) << r.key;
    EXPECT_EQ(*back, r);
  }
  for (const char* bad : {"", "0003", "3_300_400", "0003_300_401", "0011_1100_1200", "x003_300_400",
                          "-001_0_100", "0003_300_400_", "0003__300_400"})
    EXPECT_FALSE(parse_range_key(space, bad)) << bad;
  EXPECT_FALSE(parse_range_key({0, 1000, 100}, "0003_300_400_x"));
}

TEST(RangeStatus, RoundTripsThroughJson) {
  range_status s;
  s.state = range_state::done;
  s.attempts = 2;
  s.failures = 1;
  s.by = "host-1";
  s.token = 1234567890123;
  s.result = std::string("nonce \"7\"\n\xff", 11);
  s.error = "timed out";
  auto back = decode_status(encode_status(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, s.state);
  EXPECT_EQ(back->attempts, 2);
  EXPECT_EQ(back->failures, 1);
  EXPECT_EQ(back->by, "host-1");
  EXPECT_EQ(back->token, s.token);
  EXPECT_EQ(back->error, "timed out");
  EXPECT_EQ(back->result.substr(0, 10), s.result.substr(0, 10));  // invalid UTF-8 is replaced, not thrown

  range_status fresh;
  EXPECT_EQ(decode_status(encode_status(fresh)), fresh);
}

TEST(RangeStatus, MalformedDocumentsAreValuesNotCrashes) {
  for (const char* bad : {"", "{", "[]", "{}", R"({"state":"sleeping","attempts":0,"failures":0})",
                          R"({"state":"done","attempts":-1,"failures":0})", R"({"state":"done","failures":0})",
                          R"({"state":3,"attempts":0,"failures":0})"})
    EXPECT_FALSE(decode_status(bad)) << bad;
  EXPECT_TRUE(decode_status(R"({"state":"pending","attempts":0,"failures":0})"));
  // Counts beyond int are malformed, not truncated (2^32 + 1 would read as 1).
  EXPECT_FALSE(decode_status(R"({"state":"done","attempts":4294967297,"failures":0})"));
  EXPECT_FALSE(decode_status(R"({"state":"done","attempts":1,"failures":18446744073709551615})"));
  EXPECT_FALSE(decode_status(R"({"state":"done","attempts":1,"failures":-4294967295})"));
  auto big_token = decode_status(R"({"state":"done","attempts":1,"failures":0,"token":9007199254740993})");
  ASSERT_TRUE(big_token);
  EXPECT_EQ(big_token->token, 9007199254740993);
}

// The check after an outcome's lost answer compares the node with what our
// write stores: with invalid UTF-8 (replaced on encoding) it is not the
// status we meant to write, but it is ours.
TEST(RangeStatus, HoldsStatusComparesWithTheStoredForm) {
  range_status s;
  s.state = range_state::done;
  s.attempts = 1;
  s.by = "m";
  s.result = std::string("ok \xff\xc3", 6);  // invalid, and a sequence cut short
  s.error = std::string("\xe2\x82", 2);
  auto stored = encode_status(s);
  ASSERT_NE(decode_status(stored), s);  // what the old check compared: never equal
  EXPECT_TRUE(holds_status(stored, s));
  EXPECT_EQ(stored_form(s), decode_status(stored));
  auto other = s;
  other.attempts = 2;
  EXPECT_FALSE(holds_status(stored, other));
  other = s;
  other.result = "ok";
  EXPECT_FALSE(holds_status(stored, other));
  EXPECT_FALSE(holds_status("not json", s));
  range_status plain;
  EXPECT_TRUE(holds_status(encode_status(plain), plain));
}

TEST(CutUtf8, CutsAtACharacterBoundary) {
  EXPECT_EQ(cut_utf8("abc", 5), "abc");
  EXPECT_EQ(cut_utf8("abcdef", 3), "abc");
  EXPECT_EQ(cut_utf8("a\xc3\xa9", 2), "a");             // e-acute cut after its lead byte
  EXPECT_EQ(cut_utf8("a\xc3\xa9" "b", 3), "a\xc3\xa9");
  EXPECT_EQ(cut_utf8("a\xe2\x82\xac", 2), "a");         // euro sign, 1 of 3 bytes
  EXPECT_EQ(cut_utf8("a\xe2\x82\xac", 3), "a");         // 2 of 3
  EXPECT_EQ(cut_utf8("a\xe2\x82\xac" "b", 4), "a\xe2\x82\xac");
  EXPECT_EQ(cut_utf8("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7), "\xf0\x9f\x98\x80");  // 3 of 4
  EXPECT_EQ(cut_utf8("\x80\x80\x80\x80\x80", 4), "\x80\x80\x80\x80");  // invalid bytes: one each
  EXPECT_EQ(cut_utf8("\xc3\xa9", 0), "");
  // A valid text cut anywhere stays valid: it reads back unchanged.
  std::string text;
  for (int i = 0; i < 100; ++i) text += "x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  for (std::size_t n = 0; n <= text.size(); ++n) {
    range_status s;
    s.error = cut_utf8(text, n);
    ASSERT_LE(s.error.size(), n);
    ASSERT_GE(s.error.size() + 3, n);
    ASSERT_EQ(decode_status(encode_status(s))->error, s.error) << n;
  }
}

TEST(SpaceRecord, RoundTripsAndChecksTheDefinition) {
  space_record r{{-10, 90, 7}, true, false};
  auto back = decode_space(encode_space(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->space, r.space);
  EXPECT_TRUE(back->seeded);
  EXPECT_FALSE(back->abandoned);
  EXPECT_NE(encode_space(r).find("\"ranges\":15"), std::string::npos) << encode_space(r);
  EXPECT_FALSE(decode_space(R"({"lo":5,"hi":5,"range_size":1})"));
  EXPECT_FALSE(decode_space(R"({"lo":0,"hi":5})"));
  EXPECT_FALSE(decode_space("not json"));
}

space_split_options good_options() {
  space_split_options o;
  o.space = "nonces";
  o.lo = 0;
  o.hi = 1000;
  o.range_size = 10;
  o.member_id = "m1";
  return o;
}

TEST(CheckSpaceSplitOptions, AcceptsGoodOptions) { EXPECT_FALSE(check_space_split_options(good_options()).error); }

TEST(CheckSpaceSplitOptions, NamesTheFieldAndTheValue) {
  struct bad_case {
    std::function<void(space_split_options&)> change;
    std::string field;
    std::string value_contains;
  };
  std::vector<bad_case> cases = {
      {[](auto& o) { o.space = ""; }, "space_split_options.space", ""},
      {[](auto& o) { o.space = "a/b"; }, "space_split_options.space", "a/b"},
      {[](auto& o) { o.root = "relative"; }, "space_split_options.root", "relative"},
      {[](auto& o) { o.hi = 0; }, "space_split_options.hi", "lo is 0"},
      {[](auto& o) { o.lo = 10, o.hi = 5; }, "space_split_options.hi", "5"},
      {[](auto& o) { o.range_size = 0; }, "space_split_options.range_size", "0"},
      {[](auto& o) { o.range_size = -4; }, "space_split_options.range_size", "-4"},
      {[](auto& o) { o.hi = 1000000, o.range_size = 1; }, "space_split_options.range_size", "1000000 ranges"},
      {[](auto& o) { o.affinity = -1; }, "space_split_options.affinity", "-1"},
      {[](auto& o) { o.member_id = ""; }, "space_split_options.member_id", ""},
      {[](auto& o) { o.range_timeout = std::chrono::milliseconds(0); }, "space_split_options.range_timeout", "0 ms"},
      {[](auto& o) { o.max_failures = 0; }, "space_split_options.max_failures", "0"},
      {[](auto& o) { o.concurrency = 0; }, "space_split_options.concurrency", "0"},
  };
  for (auto& c : cases) {
    auto o = good_options();
    c.change(o);
    auto p = check_space_split_options(o);
    EXPECT_TRUE(p.error) << c.field;
    EXPECT_TRUE(is_invalid_argument(p.error)) << c.field << ": " << p.error.message();
    EXPECT_EQ(p.field, c.field);
    EXPECT_NE(p.value.find(c.value_contains), std::string::npos) << p.field << " '" << p.value << "'";
  }
}

TEST(SpacePrefix, IsReadable) { EXPECT_EQ(space_prefix("nonces-7"), "space:nonces-7"); }

}  // namespace
}  // namespace nominee::detail
