#include <nominee/error.hpp>

#include <zookeeper/zookeeper.h>

#include <gtest/gtest.h>

namespace nominee {
namespace {

TEST(Error, MirrorsTheCClientCodesOneToOne) {
  EXPECT_EQ(static_cast<int>(errc::connection_loss), ZCONNECTIONLOSS);
  EXPECT_EQ(static_cast<int>(errc::operation_timeout), ZOPERATIONTIMEOUT);
  EXPECT_EQ(static_cast<int>(errc::invalid_state), ZINVALIDSTATE);
  EXPECT_EQ(static_cast<int>(errc::no_node), ZNONODE);
  EXPECT_EQ(static_cast<int>(errc::no_auth), ZNOAUTH);
  EXPECT_EQ(static_cast<int>(errc::bad_version), ZBADVERSION);
  EXPECT_EQ(static_cast<int>(errc::node_exists), ZNODEEXISTS);
  EXPECT_EQ(static_cast<int>(errc::not_empty), ZNOTEMPTY);
  EXPECT_EQ(static_cast<int>(errc::session_expired), ZSESSIONEXPIRED);
  EXPECT_EQ(static_cast<int>(errc::auth_failed), ZAUTHFAILED);
  EXPECT_EQ(static_cast<int>(errc::closing), ZCLOSING);
  EXPECT_EQ(static_cast<int>(errc::session_moved), ZSESSIONMOVED);
  EXPECT_EQ(static_cast<int>(errc::throttled_op), ZTHROTTLEDOP);
}

TEST(Error, EveryCodeHasItsOwnMessage) {
  std::error_code unknown(12345, error_category());
  for (errc e : {errc::connection_loss, errc::no_node, errc::bad_version, errc::throttled_op,
                 errc::deadline_exceeded, errc::path_empty_segment, errc::invalid_hosts, errc::invalid_name,
                 errc::member_id_taken, errc::in_progress, errc::invalid_json}) {
    std::error_code ec = e;
    int v = ec.value();
    auto text = ec.message();
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find("unknown nominee error"), std::string::npos) << "code " << v << " has no message";
  }
  EXPECT_EQ(std::error_code(errc::no_node).message(), "node does not exist");
  EXPECT_STREQ(error_category().name(), "nominee");
}

TEST(Error, ClassifiersSortTheCodes) {
  EXPECT_TRUE(is_no_node(errc::no_node));
  EXPECT_FALSE(is_no_node(errc::node_exists));
  EXPECT_TRUE(is_node_exists(errc::node_exists));
  EXPECT_TRUE(is_bad_version(errc::bad_version));
  EXPECT_TRUE(is_not_empty(errc::not_empty));
  EXPECT_TRUE(is_session_expired(errc::session_expired));
  EXPECT_TRUE(is_connection_loss(errc::connection_loss));
  EXPECT_TRUE(is_connection_loss(errc::operation_timeout));
  EXPECT_FALSE(is_connection_loss(errc::session_expired));
  EXPECT_TRUE(is_retriable(errc::connection_loss));
  EXPECT_TRUE(is_retriable(errc::throttled_op));
  EXPECT_FALSE(is_retriable(errc::bad_version));
  EXPECT_TRUE(is_invalid_argument(errc::path_empty_segment));
  EXPECT_TRUE(is_invalid_argument(errc::data_too_large));
  EXPECT_FALSE(is_invalid_argument(errc::no_node));
  EXPECT_TRUE(is_auth_failure(errc::auth_failed));
  EXPECT_TRUE(is_auth_failure(errc::no_auth));
  // A code of another category with the same number is not ours.
  EXPECT_FALSE(is_no_node(std::error_code(-101, std::generic_category())));
  EXPECT_FALSE(is_invalid_argument(std::error_code(2, std::generic_category())));
}

TEST(Error, ExceptionNamesItsContext) {
  error e(errc::invalid_hosts, "session_options.hosts 'x'");
  EXPECT_NE(std::string(e.what()).find("session_options.hosts 'x'"), std::string::npos);
  EXPECT_EQ(e.code(), errc::invalid_hosts);
}

}  // namespace
}  // namespace nominee
