// Group membership against a real ZooKeeper.
#include <nominee/group.hpp>

#include <mutex>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

// What a view reported, in order.
class view_log {
 public:
  group_view::callbacks callbacks() {
    return {[s = store_](const member_info& m) { s->add("join " + m.id); },
            [s = store_](const member_info& m) { s->add("leave " + m.id); },
            [s = store_](const member_info& now, const member_info& before) {
              s->add("update " + now.id + " " + std::to_string(before.affinity) + "->" + std::to_string(now.affinity));
            }};
  }
  std::vector<std::string> events() const { return store_->get(); }
  bool saw(const std::string& event, std::chrono::milliseconds timeout = 10s) const {
    return wait_until(
        [&] {
          auto e = events();
          return std::find(e.begin(), e.end(), event) != e.end();
        },
        timeout);
  }

 private:
  std::shared_ptr<event_store<std::string>> store_ = std::make_shared<event_store<std::string>>();
};

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }
  std::unique_ptr<session> connect(std::chrono::milliseconds timeout = 4000ms) { return connect_session(hosts_, timeout); }
  group_options member(const std::string& id, std::int64_t affinity) {
    group_options o;
    o.root = root_;
    o.member_id = id;
    o.affinity = affinity;
    o.endpoint = id + ":9000";
    o.meta = R"({"zone": "z1", "id": ")" + id + R"("})";
    return o;
  }
  void join(group_member& m) {
    auto joined = m.async_join(use_future);
    get_within(joined);
  }
  // The view shows member `id` again, on a session other than old_session.
  static bool rejoined(const group_view& view, const std::string& id, std::int64_t old_session) {
    return wait_until(
        [&] {
          auto m = view.members();
          auto it = m.find(id);
          return it != m.end() && it->second.session_id != old_session;
        },
        20s);
  }
  // What `nominee set-affinity` does: a compare-and-set of the member's
  // node with another affinity, from a session that is not the member's.
  static void admin_sets_affinity(session& admin, const std::string& path, int from, int to) {
    auto read = admin.async_get(path, use_future);
    auto node = get_within(read);
    auto old_field = "\"affinity\":" + std::to_string(from);
    auto at = node.data.find(old_field);
    ASSERT_NE(at, std::string::npos) << node.data;
    auto data = node.data;
    data.replace(at, old_field.size(), "\"affinity\":" + std::to_string(to));
    auto written = admin.async_set(path, data, node.stat.version, use_future);
    get_within(written);
  }
  std::string hosts_;
  std::string root_;
};

TEST_F(GroupTest, ViewsConvergeOnJoinUpdateAndLeave) {
  auto s1 = connect(), s2 = connect(), s3 = connect(), observer = connect();
  view_log log;
  group_view view(*observer, root_, log.callbacks());
  group_member a(*s1, member("a", 1)), b(*s2, member("b", 2));
  auto c = std::make_unique<group_member>(*s3, member("c", 3));
  join(a);
  join(b);
  join(*c);
  ASSERT_TRUE(wait_until([&] { return view.members().size() == 3; }, 10s));
  auto members = view.members();
  EXPECT_EQ(members["a"].affinity, 1);
  EXPECT_EQ(members["b"].affinity, 2);
  EXPECT_EQ(members["c"].affinity, 3);
  EXPECT_EQ(members["b"].endpoint, "b:9000");
  EXPECT_EQ(members["c"].meta, R"({"id":"c","zone":"z1"})");
  EXPECT_EQ(members["a"].session_id, s1->session_id());

  auto set = b.async_set_affinity(5, use_future);
  get_within(set);
  EXPECT_TRUE(log.saw("update b 2->5"));
  EXPECT_EQ(view.members()["b"].affinity, 5);

  auto upd = a.async_update("a:9999", R"({"zone":"z2"})", use_future);
  get_within(upd);
  ASSERT_TRUE(wait_until([&] { return view.members()["a"].endpoint == "a:9999"; }, 10s));
  EXPECT_EQ(view.members()["a"].meta, R"({"zone":"z2"})");

  c.reset();  // leaving on destruction
  EXPECT_TRUE(log.saw("leave c"));
  a.leave();
  EXPECT_TRUE(log.saw("leave a"));
  ASSERT_TRUE(wait_until([&] { return view.members().size() == 1; }, 10s));
  EXPECT_EQ(view.members().begin()->first, "b");
}

TEST_F(GroupTest, AViewStartedLaterSeesTheMembersAlreadyThere) {
  auto s1 = connect(), observer = connect();
  group_member a(*s1, member("early", 4));
  join(a);
  view_log log;
  group_view view(*observer, root_, log.callbacks());
  EXPECT_TRUE(log.saw("join early"));
  EXPECT_EQ(view.members()["early"].affinity, 4);
}

TEST_F(GroupTest, ADuplicateLiveIdIsRefused) {
  auto s1 = connect(), s2 = connect();
  group_member first(*s1, member("dup", 1));
  join(first);
  group_member second(*s2, member("dup", 1));
  auto attempt = second.async_join(use_future);
  try {
    get_within(attempt);
    FAIL() << "two live members with one id";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::member_id_taken);
  }
  EXPECT_FALSE(second.joined());
  EXPECT_TRUE(first.joined());
}

TEST_F(GroupTest, AMemberRejoinsAfterItsSessionExpires) {
  auto s1 = connect(2000ms), observer = connect();
  view_log log;
  group_view view(*observer, root_, log.callbacks());
  group_member a(*s1, member("phoenix", 2));
  join(a);
  ASSERT_TRUE(log.saw("join phoenix"));
  auto old_session = view.members()["phoenix"].session_id;

  force_expiry(*s1, hosts_);
  ASSERT_TRUE(rejoined(view, "phoenix", old_session)) << "the member came back on its new session";
  EXPECT_TRUE(a.joined());
  EXPECT_EQ(view.members()["phoenix"].session_id, s1->session_id());
}

// An admin's write to a member's node (set-affinity from the CLI) is what
// the member writes back when it rejoins after an expiry, once it adopted it.
TEST_F(GroupTest, AnAdoptedOutsideAffinitySurvivesAnExpiry) {
  auto s1 = connect(2000ms), admin = connect();
  view_log log;
  group_view view(*admin, root_, log.callbacks());
  group_member a(*s1, member("drained", 3));
  join(a);
  ASSERT_TRUE(log.saw("join drained"));

  // The admin rewrites the node with affinity 0 (compare-and-set).
  ASSERT_NO_FATAL_FAILURE(admin_sets_affinity(*admin, a.path(), 3, 0));
  ASSERT_TRUE(log.saw("update drained 3->0"));
  a.adopt(view.members()["drained"]);
  ASSERT_TRUE(wait_until([&] { return a.self().affinity == 0; }, 10s)) << "the member adopted affinity 0";

  // A stale sighting (an older version) changes nothing.
  auto stale = view.members()["drained"];
  stale.version -= 1;
  stale.affinity = 7;
  a.adopt(stale);

  auto old_session = view.members()["drained"].session_id;
  force_expiry(*s1, hosts_);
  ASSERT_TRUE(rejoined(view, "drained", old_session));
  EXPECT_EQ(view.members()["drained"].affinity, 0) << "the rejoin wrote the admin's affinity back";
}

// The member changes its endpoint after an admin changed its affinity and
// before it adopted that: its write must keep the admin's affinity (a
// read-modify-write), not put back its own stale one.
TEST_F(GroupTest, AMemberUpdateKeepsAnAdminsUnadoptedChange) {
  auto s1 = connect(), admin = connect();
  view_log log;
  group_view view(*admin, root_, log.callbacks());
  group_member a(*s1, member("busy", 3));
  join(a);
  ASSERT_TRUE(log.saw("join busy"));

  ASSERT_NO_FATAL_FAILURE(admin_sets_affinity(*admin, a.path(), 3, 0));

  auto updated = a.async_update("10.0.0.9:80", "{}", use_future);
  get_within(updated);
  ASSERT_TRUE(wait_until([&] { return view.members()["busy"].endpoint == "10.0.0.9:80"; }, 10s));
  EXPECT_EQ(view.members()["busy"].affinity, 0) << "the admin's affinity was overwritten";
  EXPECT_EQ(a.self().affinity, 0) << "the member took the admin's affinity along the way";
}

TEST_F(GroupTest, BadInputIsRefused) {
  auto s = connect();
  auto refused = [&](group_options o, errc code, const std::string& field) {
    try {
      group_member m(*s, o);
      ADD_FAILURE() << "accepted bad " << field;
    } catch (const error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  refused(member("", 1), errc::invalid_name, "group_options.member_id");
  refused(member("a/b", 1), errc::invalid_name, "group_options.member_id");
  refused(member("neg", -1), errc::invalid_option, "group_options.affinity");
  auto bad_meta = member("m", 1);
  bad_meta.meta = "[1,2]";
  refused(bad_meta, errc::invalid_json, "group_options.meta");
  bad_meta.meta = "{not json";
  refused(bad_meta, errc::invalid_json, "group_options.meta");
  bad_meta.meta = R"({"blob":")" + std::string(max_member_meta_bytes, 'x') + R"("})";
  refused(bad_meta, errc::invalid_json, "group_options.meta");

  group_member ok(*s, member("fine", 1));
  join(ok);
  auto negative = ok.async_set_affinity(-3, use_future);
  try {
    get_within(negative);
    FAIL() << "negative affinity accepted";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::invalid_option);
  }
  auto meta = ok.async_update("x", "null", use_future);
  try {
    get_within(meta);
    FAIL() << "non-object metadata accepted";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::invalid_json);
  }
  EXPECT_EQ(ok.self().affinity, 1) << "nothing changed";
}

}  // namespace
}  // namespace nominee::testing
