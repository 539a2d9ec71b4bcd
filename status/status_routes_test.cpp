#include "status_routes.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace nominee::status_detail {
namespace {

constexpr std::size_t limit = 16 * 1024;

status_reply get(const status_board& board, std::string_view path, std::string_view method = "GET",
                 std::size_t header_bytes = 100) {
  return route(board, {method, path, header_bytes}, limit);
}

TEST(status_routes, serves_the_four_pages_with_their_types) {
  status_board board("m-1");
  auto page = get(board, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script>"), std::string::npos);

  auto status = get(board, "/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.content_type, "application/json");
  auto doc = nlohmann::json::parse(status.body);
  EXPECT_EQ(doc["member"], "m-1");
  EXPECT_TRUE(doc["session"].is_null());

  auto metrics = get(board, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("nominee_member_info{member=\"m-1\"} 1\n"), std::string::npos);

  auto health = get(board, "/healthz");  // no session shown: not healthy
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(nlohmann::json::parse(health.body)["session"], "no session");
}

TEST(status_routes, the_page_is_whole_and_loads_nothing_from_elsewhere) {
  status_board board("m-1");
  auto page = get(board, "/");
  EXPECT_NE(page.body.find("</html>"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  bool has_csp = false;
  for (auto& [name, value] : page.headers) has_csp |= name == "Content-Security-Policy";
  EXPECT_TRUE(has_csp);
}

TEST(status_routes, head_routes_like_get) {
  status_board board("m-1");
  EXPECT_EQ(get(board, "/status", "HEAD").status, 200);
  EXPECT_EQ(get(board, "/nope", "HEAD").status, 404);
}

TEST(status_routes, other_methods_get_405_with_allow) {
  status_board board("m-1");
  for (auto method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW", "get"}) {
    auto reply = get(board, "/status", method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.content_type, "application/json");
    EXPECT_TRUE(nlohmann::json::parse(reply.body).contains("error"));
    ASSERT_EQ(reply.headers.size(), 1u);
    EXPECT_EQ(reply.headers[0].first, "Allow");
  }
}

TEST(status_routes, anything_but_the_exact_paths_is_404) {
  status_board board("m-1");
  for (auto path : {"/statu", "/status/", "//status", "/../etc/passwd", "/%2e%2e/etc/passwd", "/status/../metrics",
                    "/..%2fetc%2fpasswd", "/metrics%00", "/STATUS", "", "/healthz/x"}) {
    auto reply = get(board, path);
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_TRUE(nlohmann::json::parse(reply.body).contains("error")) << path;
  }
}

TEST(status_routes, oversized_headers_get_431_first) {
  status_board board("m-1");
  EXPECT_EQ(get(board, "/status", "GET", limit).status, 200);
  EXPECT_EQ(get(board, "/status", "GET", limit + 1).status, 431);
  EXPECT_EQ(get(board, "/status", "POST", limit + 1).status, 431);
}

TEST(status_routes, events_are_a_ring_newest_last) {
  status_board board("m-1");
  for (std::size_t i = 0; i < status_board::event_capacity + 5; ++i) board.record_event("test", std::to_string(i));
  auto doc = nlohmann::json::parse(get(board, "/status").body);
  auto& events = doc["events"];
  ASSERT_EQ(events.size(), status_board::event_capacity);
  EXPECT_EQ(events.front()["detail"], "5");
  EXPECT_EQ(events.back()["detail"], std::to_string(status_board::event_capacity + 4));
  EXPECT_EQ(events.back()["time"].get<std::string>().size(), std::string("2026-11-21T12:51:47.123Z").size());
}

TEST(status_routes, roles_held_without_an_observer_show_this_member) {
  status_board board("m-1");
  board.set_role_held("cluster-manager", 42);
  auto doc = nlohmann::json::parse(get(board, "/status").body);
  ASSERT_EQ(doc["roles"].size(), 1u);
  EXPECT_EQ(doc["roles"][0]["holder"], "m-1");
  EXPECT_EQ(doc["roles"][0]["token"], 42);
  EXPECT_TRUE(doc["roles"][0]["held_by_me"]);
  EXPECT_NE(board.metrics_text().find("nominee_roles_held 1\n"), std::string::npos);
  board.set_role_held("cluster-manager", std::nullopt);
  EXPECT_NE(board.metrics_text().find("nominee_roles_held 0\n"), std::string::npos);
  auto events = board.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "role");
}

TEST(status_routes, bytes_that_are_not_utf8_do_not_break_the_json) {
  status_board board(std::string("m-\xFF", 3));
  board.record_event("key", std::string("\0raw\xC3", 5));
  auto doc = nlohmann::json::parse(get(board, "/status").body);
  EXPECT_EQ(doc["member"], "m-\xEF\xBF\xBD");
}

}  // namespace
}  // namespace nominee::status_detail
