#include "validate.hpp"

#include <gtest/gtest.h>

#include <nominee/error.hpp>
#include <nominee/operations.hpp>

namespace nominee::detail {
namespace {

TEST(CheckPath, AcceptsAbsolutePaths) {
  for (const char* p : {"/", "/a", "/a/b", "/nominee/roles/cluster-manager", "/a.b/c..d/_c_x-latch-"})
    EXPECT_FALSE(check_path(p)) << p;
}

TEST(CheckPath, NamesEachKindOfMistake) {
  EXPECT_EQ(check_path(""), errc::path_not_absolute);
  EXPECT_EQ(check_path("a/b"), errc::path_not_absolute);
  EXPECT_EQ(check_path("/a//b"), errc::path_empty_segment);
  EXPECT_EQ(check_path("//"), errc::path_trailing_slash);
  EXPECT_EQ(check_path("/a/"), errc::path_trailing_slash);
  EXPECT_EQ(check_path("/a/./b"), errc::path_relative_segment);
  EXPECT_EQ(check_path("/a/.."), errc::path_relative_segment);
  EXPECT_EQ(check_path(std::string("/a\0b", 4)), errc::path_bad_character);
  EXPECT_EQ(check_path("/a\nb"), errc::path_bad_character);
}

TEST(CheckPath, SequentialCreatesMayEndWithSlash) {
  EXPECT_FALSE(check_path("/queue/", true));
  EXPECT_FALSE(check_path("/queue/item-", true));
  EXPECT_EQ(check_path("/queue//", true), errc::path_empty_segment);
  EXPECT_EQ(check_path("/a//b/", true), errc::path_empty_segment);
}

TEST(CheckData, RejectsOverTheLimitOnly) {
  EXPECT_FALSE(check_data(std::string(max_node_data_bytes, 'x')));
  EXPECT_EQ(check_data(std::string(max_node_data_bytes + 1, 'x')), errc::data_too_large);
}

TEST(CheckHosts, AcceptsConnectStrings) {
  for (const char* h : {"127.0.0.1:2181", "localhost:2181,zk-2.example:2182", "[::1]:2181", "a:1/chroot/x",
                        "zk1:2181,zk2:2181,zk3:2181/app"})
    EXPECT_FALSE(check_hosts(h)) << h;
}

TEST(CheckHosts, RejectsMalformedOnes) {
  for (const char* h : {"", "127.0.0.1", "127.0.0.1:", ":2181", "a:0", "a:65536", "a:12x", "a:1,", ",a:1",
                        "a:1,,b:2", "a b:1", "a:1/chroot/", "a:1//x", "[::1]2181", "/chroot"})
    EXPECT_EQ(check_hosts(h), errc::invalid_hosts) << h;
}

TEST(CheckDigest, WantsUserColonPassword) {
  EXPECT_FALSE(check_digest("user:secret"));
  EXPECT_FALSE(check_digest("user:pa:ss"));
  for (const char* d : {"user", ":secret", "user:", ""}) EXPECT_EQ(check_digest(d), errc::invalid_digest) << d;
}

TEST(CheckName, RejectsWhatCannotBeAZnodeName) {
  EXPECT_FALSE(check_name("cluster-manager"));
  EXPECT_FALSE(check_name("host-1234"));
  for (const char* n : {"", ".", "..", "a/b", "/"}) EXPECT_EQ(check_name(n), errc::invalid_name) << n;
  EXPECT_EQ(check_name(std::string(256, 'a')), errc::invalid_name);
  EXPECT_EQ(check_name("tab\there"), errc::invalid_name);
}

// ZooKeeper reads paths as UTF-8, and JSON carries nothing else: other
// bytes are refused, where they once reached nlohmann's dump() and threw
// inside a strand handler (found by member_data_fuzz).
TEST(CheckUtf8, OnlyWellFormedTextPasses) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain"));
  EXPECT_TRUE(is_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  for (const char* bad : {"\xff", "ep\xff", "\xc3", "\xe2\x82", "\x80", "\xc0\xaf" /* overlong '/' */,
                          "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* past U+10FFFF */})
    EXPECT_FALSE(is_utf8(bad)) << describe("text", bad);
  EXPECT_EQ(check_name("host-\xff"), errc::invalid_name);
  EXPECT_FALSE(check_name("h\xc3\xb6st"));
  EXPECT_EQ(check_path("/a/\xff"), errc::path_bad_character);
  EXPECT_EQ(check_text("10.0.0.1:\xff"), errc::invalid_option);
  EXPECT_EQ(check_text(std::string(1025, 'a')), errc::invalid_option);
  EXPECT_FALSE(check_text("10.0.0.1:8080"));
}

TEST(CheckSessionOptions, NamesTheField) {
  session_options o;
  o.hosts = "127.0.0.1:2181";
  EXPECT_FALSE(check_session_options(o).error);

  auto bad = o;
  bad.hosts = "nohost";
  auto p = check_session_options(bad);
  EXPECT_EQ(p.error, errc::invalid_hosts);
  EXPECT_EQ(p.field, "session_options.hosts");
  EXPECT_EQ(p.value, "nohost");

  bad = o;
  bad.session_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(check_session_options(bad).field, "session_options.session_timeout");

  bad = o;
  bad.operation_timeout = std::chrono::milliseconds(-5);
  EXPECT_EQ(check_session_options(bad).field, "session_options.operation_timeout");

  bad = o;
  bad.digest = "nocolon";
  p = check_session_options(bad);
  EXPECT_EQ(p.error, errc::invalid_digest);
  EXPECT_EQ(p.value, "<hidden>") << "a password must never reach a log or exception";

  bad = o;
  bad.retry.max_attempts = 0;
  EXPECT_EQ(check_session_options(bad).field, "session_options.retry.max_attempts");

  bad = o;
  bad.default_acl = acl{};
  EXPECT_EQ(check_session_options(bad).field, "session_options.default_acl");
}

TEST(Describe, EscapesAndShortens) {
  EXPECT_EQ(describe("path", "/a"), "path '/a'");
  EXPECT_EQ(describe("path", std::string("/a\0\n", 4)), "path '/a\\x00\\x0a'");
  auto long_one = describe("path", std::string(1000, 'x'));
  EXPECT_LT(long_one.size(), 260u);
  EXPECT_NE(long_one.find("(1000 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace nominee::detail
