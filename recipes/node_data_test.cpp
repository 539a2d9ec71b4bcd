#include "node_data.hpp"

#include <gtest/gtest.h>

namespace nominee::detail {
namespace {

TEST(NodeData, MemberRoundTrips) {
  member_data in{7, "10.0.0.5:8080", R"({"zone":"eu-1","weight":[1,2]})"};
  auto out = decode_member(encode(in));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->affinity, 7);
  EXPECT_EQ(out->endpoint, "10.0.0.5:8080");
  EXPECT_EQ(out->meta, R"({"weight":[1,2],"zone":"eu-1"})");
}

TEST(NodeData, CandidateRoundTrips) {
  auto out = decode_candidate(encode(candidate_data{"worker-3", "host:1"}));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->member_id, "worker-3");
  EXPECT_EQ(out->endpoint, "host:1");
}

TEST(NodeData, MalformedDocumentsAreValuesNotCrashes) {
  const std::vector<std::string> malformed{"", "{", "[]", "null", "42", R"({"affinity":"3"})", R"({"affinity":-1})",
                                           R"({"affinity":1.5})", std::string("{\"affinity\":1\0}", 15), "\xff\xfe"};
  for (const auto& bad : malformed)
    EXPECT_FALSE(decode_member(bad).has_value()) << bad;
  EXPECT_FALSE(decode_candidate("not json").has_value());
  // Written by someone else with missing fields: still usable.
  auto sparse = decode_candidate("{}");
  ASSERT_TRUE(sparse.has_value());
  EXPECT_EQ(sparse->member_id, "");
}

// The recipes refuse such text up front; if it slips through, encoding
// must not throw (it ran inside strand handlers).
TEST(NodeData, TextThatIsNotUtf8EncodesWithoutThrowing) {
  EXPECT_NO_THROW(encode(member_data{1, "ep\xff", "{}"}));
  EXPECT_NO_THROW(encode(candidate_data{"host-\xff", "ep\xff"}));
  auto back = decode_member(encode(member_data{1, "ep\xff", "{}"}));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->affinity, 1);
}

TEST(NodeData, MetaMustBeAnObject) {
  EXPECT_EQ(normalize_json_object(R"( { "a" : 1 } )"), R"({"a":1})");
  EXPECT_FALSE(normalize_json_object("[1]").has_value());
  EXPECT_FALSE(normalize_json_object("\"text\"").has_value());
  EXPECT_FALSE(normalize_json_object("{").has_value());
}

}  // namespace
}  // namespace nominee::detail
