#include "key_codec.hpp"

#include <gtest/gtest.h>

#include <random>

#include <nominee/error.hpp>

#include "validate.hpp"

namespace nominee::detail {
namespace {

void expect_round_trip(const std::string& key) {
  auto name = encode_key(key);
  EXPECT_FALSE(check_name(name, 3 * max_key_bytes)) << "not a valid znode name: " << name;
  auto back = decode_key(name);
  ASSERT_TRUE(back.has_value()) << name;
  EXPECT_EQ(*back, key);
}

TEST(KeyCodec, EveryByteRoundTrips) {
  for (int c = 0; c < 256; ++c) expect_round_trip(std::string(1, static_cast<char>(c)));
  std::mt19937 random(12345);
  for (int i = 0; i < 2000; ++i) {
    std::string key(1 + random() % 64, '\0');
    for (auto& c : key) c = static_cast<char>(random() % 256);
    expect_round_trip(key);
  }
}

TEST(KeyCodec, OddKeysBecomeSafeNames) {
  for (const char* key : {"/", "a/b", "%", "%41", ".", "..", "...", "/process/me/", "tab\there", "naïve", "a b"})
    expect_round_trip(key);
  EXPECT_EQ(encode_key("plain-key_1.2~x"), "plain-key_1.2~x") << "ordinary keys stay readable";
  EXPECT_EQ(encode_key("a/b"), "a%2Fb");
  EXPECT_EQ(encode_key("."), "%2E");
  EXPECT_EQ(encode_key(".."), "%2E%2E");
  EXPECT_EQ(encode_key("..."), "...");
  EXPECT_EQ(encode_key(std::string(1, '\0')), "%00");
}

TEST(KeyCodec, MalformedNamesDoNotDecode) {
  for (const char* name : {"%", "%4", "%G1", "%2f", "a/b", "%41", "bad name", "\x01"})
    EXPECT_FALSE(decode_key(name).has_value()) << name << " is not something encode_key produces";
}

TEST(KeyCodec, KeysAreBounded) {
  EXPECT_FALSE(check_key("k"));
  EXPECT_FALSE(check_key(std::string(max_key_bytes, 'x')));
  EXPECT_EQ(check_key(""), errc::invalid_name);
  EXPECT_EQ(check_key(std::string(max_key_bytes + 1, 'x')), errc::invalid_name);
}

TEST(KeyCodec, ShardsSpreadEvenly) {
  std::map<std::string, int> count;
  for (int i = 0; i < 100000; ++i) {
    auto s = shard_of("key-" + std::to_string(i));
    ASSERT_EQ(s.size(), 2u);
    ++count[s];
  }
  EXPECT_EQ(count.size(), key_shards);
  for (auto& [shard, n] : count) {
    EXPECT_GT(n, 300) << shard;  // ~390 each: no child list near jute.maxbuffer
    EXPECT_LT(n, 500) << shard;
  }
  EXPECT_EQ(shard_of("same"), shard_of("same"));
}

}  // namespace
}  // namespace nominee::detail
