// The status endpoint (nominee::status) against a real ZooKeeper: a session,
// two divider members over a few keys, a candidate for a role, a board and
// a server on a free port. GET /status, /metrics and /healthz are checked
// against what the recipes themselves report; /metrics is read by a strict
// exposition-format parser; hostile requests over a raw socket each get a
// 4xx (or a closed connection, where cpprest closes it) and the server keeps
// answering afterwards.
#include <nominee/status.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/error.hpp>

#include "status_http.hpp"
#include "status_prometheus.hpp"
#include "test_support.hpp"
#include "work_member.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;
using nlohmann::json;

// Every key owned exactly once, every member seeing all members and keys.
bool settled(const std::vector<work_member*>& members, std::size_t keys) {
  std::size_t owned = 0;
  for (auto* m : members) {
    auto st = m->d().status();
    if (st.keys != keys || st.members != members.size() || st.acquiring != 0 || st.stopping != 0) return false;
    owned += m->d().assigned().size();
  }
  return owned == keys;
}

std::vector<std::string> numbered_keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back("job-" + std::to_string(i));
  return keys;
}

// Two members over six keys, one of them the board's, holding a role.
class status_endpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = unique_root();
    me_ = std::make_unique<work_member>(root_, prefix, "status-m1", 2, "10.0.0.1:8080");
    other_ = std::make_unique<work_member>(root_, prefix, "status-m2", 1, "10.0.0.2:8080");
    auto added = me_->d().async_add_work(numbered_keys(6), use_future);
    get_within(added);
    ASSERT_TRUE(wait_until([&] { return settled({me_.get(), other_.get()}, 6); }, 30s))
        << "the two members never settled on the six keys";

    candidate_ = std::make_unique<candidate>(
        me_->s(), election_options{root_, "cluster-manager", "status-m1", "10.0.0.1:8080"}, candidate::callbacks{});
    observer_ = std::make_unique<role_observer>(me_->s(), root_, "cluster-manager",
                                                [](const std::optional<role_holder>&) {});
    ASSERT_TRUE(wait_until([&] { return candidate_->is_holder() && observer_->current().has_value(); }, 30s))
        << "the only candidate never held the role";

    board_ = std::make_unique<status_board>("status-m1");
    board_->show_session(me_->s());
    board_->show_divider(me_->d());
    board_->show_role("cluster-manager", *observer_);
    board_->show_candidate(*candidate_);
    board_->record_event("test", "board ready");
    server_ = std::make_unique<status_server>(*board_);
  }

  void TearDown() override {
    server_.reset();
    board_.reset();
    observer_.reset();
    candidate_.reset();
    other_.reset();
    me_.reset();
  }

  std::uint16_t port() const { return server_->port(); }

  // The server still answers a plain GET /status with the member in it.
  void expect_still_serving(const std::string& after) {
    auto x = http_get(port(), "/status");
    ASSERT_TRUE(x.replied) << "after " << after << ": " << x.describe();
    EXPECT_EQ(x.status, 200) << "after " << after;
    EXPECT_EQ(json::parse(x.body)["member"], "status-m1") << "after " << after;
  }

  static inline const std::string prefix = "/jobs/";
  std::string root_;
  std::unique_ptr<work_member> me_, other_;
  std::unique_ptr<candidate> candidate_;
  std::unique_ptr<role_observer> observer_;
  std::unique_ptr<status_board> board_;
  std::unique_ptr<status_server> server_;
};

TEST_F(status_endpoint, listens_on_loopback_at_a_free_port) {
  EXPECT_NE(port(), 0);
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(port()) + "/");
}

TEST_F(status_endpoint, status_is_json_with_the_member_session_keys_and_role_holder) {
  auto x = http_get(port(), "/status");
  ASSERT_TRUE(x.replied) << x.describe();
  EXPECT_EQ(x.status, 200);
  EXPECT_EQ(x.header("content-type"), "application/json");
  EXPECT_EQ(x.header("cache-control"), "no-store");
  json doc = json::parse(x.body);  // throws (fails the test) if it is not JSON

  EXPECT_EQ(doc["member"], "status-m1");
  auto& session = doc["session"];
  EXPECT_EQ(session["state"], "connected");
  char id[32];
  std::snprintf(id, sizeof id, "0x%llx", static_cast<unsigned long long>(me_->s().session_id()));
  EXPECT_EQ(session["session_id"], id);
  EXPECT_EQ(session["timeout_ms"], me_->s().negotiated_timeout().count());
  EXPECT_EQ(session["server"], me_->s().current_server());
  EXPECT_GT(session["operations"]["count"].get<std::uint64_t>(), 0u);
  EXPECT_GT(session["operations"]["p99_ms"].get<double>(), 0);

  ASSERT_EQ(doc["dividers"].size(), 1u);
  auto& d = doc["dividers"][0];
  EXPECT_EQ(d["prefix"], prefix);
  EXPECT_EQ(d["keys"], 6);
  auto mine = me_->d().assigned();
  EXPECT_EQ(d["assigned"], mine.size());
  EXPECT_EQ(d["assigned_keys"].get<std::vector<std::string>>(), std::vector<std::string>(mine.begin(), mine.end()));
  EXPECT_FALSE(d["assigned_keys_truncated"]);
  EXPECT_FALSE(d["no_eligible_member"]);
  std::map<std::string, json> members;
  for (auto& m : d["members"]) members[m["id"]] = m;
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members["status-m1"]["affinity"], 2);
  EXPECT_EQ(members["status-m1"]["endpoint"], "10.0.0.1:8080");
  EXPECT_EQ(members["status-m1"]["keys"], mine.size());
  EXPECT_EQ(members["status-m2"]["keys"], 6 - mine.size());
  for (auto field : {"rebalances", "keys_moved", "starts", "stops", "stop_timeouts"})
    EXPECT_TRUE(d[field].is_number_unsigned()) << field;

  ASSERT_EQ(doc["roles"].size(), 1u);
  auto& role = doc["roles"][0];
  EXPECT_EQ(role["role"], "cluster-manager");
  EXPECT_EQ(role["holder"], "status-m1");
  EXPECT_EQ(role["endpoint"], "10.0.0.1:8080");
  EXPECT_EQ(role["token"], candidate_->current_term().value().token);
  EXPECT_TRUE(role["held_by_me"]);

  // Newest last; the session's own events were recorded by its listener.
  ASSERT_FALSE(doc["events"].empty());
  EXPECT_EQ(doc["events"].back()["kind"], "test");
  EXPECT_EQ(doc["events"].back()["detail"], "board ready");
  EXPECT_EQ(doc["events"].back()["time"].get<std::string>().back(), 'Z');
}

TEST_F(status_endpoint, metrics_parse_as_prometheus_text_and_match_the_recipes) {
  auto x = http_get(port(), "/metrics");
  ASSERT_TRUE(x.replied) << x.describe();
  EXPECT_EQ(x.status, 200);
  EXPECT_EQ(x.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(x.header("cache-control"), "no-store");
  prometheus_text m;
  ASSERT_NO_THROW(m = parse_prometheus_text(x.body)) << x.body;

  const std::string p = "{prefix=\"/jobs/\"}";
  EXPECT_EQ(m.at("nominee_member_info{member=\"status-m1\"}"), 1);
  EXPECT_EQ(m.at("nominee_session_state{state=\"connected\"}"), 1);
  EXPECT_EQ(m.at("nominee_session_state{state=\"suspended\"}"), 0);
  EXPECT_EQ(m.at("nominee_session_connected"), 1);
  EXPECT_EQ(m.at("nominee_roles_held"), 1);
  EXPECT_EQ(m.at("nominee_role_held{role=\"cluster-manager\"}"), 1);
  EXPECT_EQ(m.at("nominee_keys" + p), 6);
  EXPECT_EQ(m.at("nominee_keys_owned" + p), static_cast<double>(me_->d().assigned().size()));
  EXPECT_EQ(m.at("nominee_divider_members" + p), 2);
  EXPECT_EQ(m.at("nominee_divider_no_eligible_member" + p), 0);
  EXPECT_TRUE(m.has("nominee_rebalances_total" + p));
  EXPECT_TRUE(m.has("nominee_keys_moved_total" + p));
  EXPECT_EQ(m.types.at("nominee_rebalances_total"), "counter");
  EXPECT_EQ(m.types.at("nominee_stop_confirm_seconds"), "histogram");
  EXPECT_TRUE(m.has("nominee_stop_confirm_seconds_bucket{prefix=\"/jobs/\",le=\"+Inf\"}"));
  EXPECT_EQ(m.types.at("nominee_zookeeper_operation_seconds"), "histogram");
  EXPECT_GT(m.at("nominee_zookeeper_operation_seconds_count"), 0);
  EXPECT_EQ(m.at("nominee_zookeeper_operation_seconds_bucket{le=\"+Inf\"}"),
            m.at("nominee_zookeeper_operation_seconds_count"));
  EXPECT_EQ(m.at("nominee_divider_member_keys{prefix=\"/jobs/\",member=\"status-m2\"}"),
            6.0 - static_cast<double>(me_->d().assigned().size()));
}

TEST_F(status_endpoint, healthz_is_200_while_connected_and_the_page_is_html) {
  auto health = http_get(port(), "/healthz");
  ASSERT_TRUE(health.replied) << health.describe();
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(health.body)["status"], "ok");

  auto page = http_get(port(), "/");
  ASSERT_TRUE(page.replied) << page.describe();
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("cache-control"), "no-store");
  EXPECT_NE(page.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(page.body.find("fetch(\"status\""), std::string::npos);
}

TEST_F(status_endpoint, head_answers_like_get_without_a_body) {
  auto x = http_request(port(), "HEAD", "/status");
  ASSERT_TRUE(x.replied) << x.describe();
  EXPECT_EQ(x.status, 200);
  EXPECT_EQ(x.header("content-type"), "application/json");
  EXPECT_TRUE(x.body.empty());
  expect_still_serving("HEAD");
}

TEST_F(status_endpoint, unknown_paths_and_traversal_get_404_json) {
  for (auto target : {"/nope", "/status/", "//status", "/../etc/passwd", "/..%2f..%2fetc%2fpasswd",
                      "/%2e%2e/%2e%2e/etc/passwd", "/status/../../etc/passwd", "/%252e%252e/etc/passwd",
                      "/metrics;.html", "/index.html/..", "/?x=/etc/passwd&y=../.."}) {
    auto x = http_get(port(), target);
    ASSERT_TRUE(x.replied) << target << ": " << x.describe();
    if (std::string(target) == "/?x=/etc/passwd&y=../..") {  // the page, with a query it ignores
      EXPECT_EQ(x.status, 200) << target;
      continue;
    }
    EXPECT_EQ(x.status, 404) << target << ": " << x.describe();
    EXPECT_EQ(x.header("content-type"), "application/json") << target;
    EXPECT_TRUE(json::parse(x.body).contains("error")) << target;
    EXPECT_EQ(x.body.find("root:"), std::string::npos) << target;
  }
  expect_still_serving("unknown paths");
}

TEST_F(status_endpoint, methods_other_than_get_and_head_get_405_json) {
  for (auto method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"}) {
    auto x = http_request(port(), method, "/status");
    ASSERT_TRUE(x.replied) << method << ": " << x.describe();
    EXPECT_EQ(x.status, 405) << method << ": " << x.describe();
    EXPECT_EQ(x.header("allow"), "GET, HEAD") << method;
    EXPECT_EQ(x.header("content-type"), "application/json") << method;
    EXPECT_TRUE(json::parse(x.body).contains("error")) << method;
    // TRACE must not echo the request (cpprest's own TRACE handler would).
    EXPECT_EQ(x.body.find("Host:"), std::string::npos) << method;
  }
  // A body the server never reads does not hang the connection.
  auto post = exchange(port(),
                       "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello=world");
  ASSERT_TRUE(post.replied) << post.describe();
  EXPECT_EQ(post.status, 405);
  expect_still_serving("bad methods");
}

TEST_F(status_endpoint, hostile_requests_get_4xx_and_the_server_keeps_serving) {
  // cpprest 2.10.18 reads the whole header block (it sets no limit), then
  // either refuses the request itself (400, empty body) or hands it to our
  // handler, which answers 405, 404 or 431 with a JSON body. A closed
  // connection would be acceptable too; none of these gets one.
  struct hostile {
    std::string name;
    std::string bytes;
    int status;  // what the server answers
  };
  // The start of a TLS ClientHello (NUL bytes included), then an end of headers.
  static constexpr char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls?\r\n\r\n";
  const std::string binary_garbage(tls_hello, sizeof tls_hello - 1);
  std::vector<hostile> requests = {
      {"a 1 MB header", "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n", 431},
      {"10,000 small headers",
       [] {
         std::string r = "GET /status HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 10000; ++i) r += "X-H" + std::to_string(i) + ": v\r\n";
         return r + "\r\n";
       }(),
       431},
      {"a 100 KB request target", "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
      // Read as method "this", target "is", version "not http": a method we refuse.
      {"a garbage request line", "this is not http\r\n\r\n", 405},
      // cpprest stops reading at the first control byte and refuses what it has.
      {"binary garbage", binary_garbage, 400},
      {"a method with bad characters", "G(E)T /status HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"no HTTP version", "GET /status\r\n\r\n", 400},
      {"a header line without a colon", "GET /status HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400},
      {"a bad percent-encoding", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"a relative traversal target", "GET ../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"an absolute traversal target", "GET http://x/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"non-ASCII in the target", "GET /st\xc3\xa4tus HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  };
  for (auto& h : requests) {
    SCOPED_TRACE(h.name);
    auto x = exchange(port(), h.bytes);
    ASSERT_TRUE(x.replied) << x.describe();
    EXPECT_EQ(x.status, h.status) << x.describe();
    if (x.status != 400) {  // ours, not cpprest's
      EXPECT_EQ(x.header("content-type"), "application/json") << x.describe();
      EXPECT_TRUE(json::parse(x.body).contains("error")) << x.describe();
    }
    expect_still_serving(h.name);
  }
}

TEST_F(status_endpoint, clients_that_hang_up_mid_request_do_not_hurt_it) {
  send_and_hang_up(port(), "GET /status HTTP/1.1\r\nHost: x\r\n");                 // headers never end
  send_and_hang_up(port(), "GET /sta");                                              // nor the request line
  send_and_hang_up(port(), "POST /status HTTP/1.1\r\nContent-Length: 1000\r\n\r\npart");  // nor the body
  send_and_hang_up(port(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");             // gone before the reply
  for (int i = 0; i < 20; ++i) send_and_hang_up(port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_still_serving("clients that hung up");
}

TEST_F(status_endpoint, keeps_answering_while_the_work_moves) {
  // Readers hammer /status and /metrics while a member joins and leaves:
  // every answer is whole and parses.
  std::atomic<bool> stop{false};
  std::atomic<int> answers{0};
  std::vector<std::string> problems;
  std::mutex problems_mutex;
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      while (!stop) {
        try {
          auto x = http_get(port(), t == 0 ? "/status" : "/metrics");
          if (!x.replied || x.status != 200) throw std::runtime_error(x.describe());
          if (t == 0 && !json::accept(x.body)) throw std::runtime_error("not JSON: " + x.body.substr(0, 200));
          if (t == 1) parse_prometheus_text(x.body);
          ++answers;
        } catch (const std::exception& e) {
          std::lock_guard lock(problems_mutex);
          problems.push_back(e.what());
          return;
        }
      }
    });
  }
  {
    work_member third(root_, prefix, "status-m3", 3, "10.0.0.3:8080");
    EXPECT_TRUE(wait_until([&] { return settled({me_.get(), other_.get(), &third}, 6); }, 30s));
  }
  EXPECT_TRUE(wait_until([&] { return settled({me_.get(), other_.get()}, 6); }, 30s));
  EXPECT_TRUE(wait_until([&] { return answers.load() >= 20; }, 30s));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_TRUE(problems.empty()) << problems.front();

  auto doc = json::parse(http_get(port(), "/status").body);
  EXPECT_EQ(doc["dividers"][0]["members"].size(), 2u);
  EXPECT_EQ(doc["dividers"][0]["assigned"], me_->d().assigned().size());
}

TEST(status_server, healthz_is_503_while_the_session_is_not_connected) {
  auto s = connect_session(shared_zookeeper().connect_string());
  status_board board("health-m");
  board.show_session(*s);
  status_server server(board);
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200);
  s->close();
  auto x = http_get(server.port(), "/healthz");
  ASSERT_TRUE(x.replied) << x.describe();
  EXPECT_EQ(x.status, 503);
  auto doc = json::parse(x.body);
  EXPECT_EQ(doc["status"], "unavailable");
  EXPECT_EQ(doc["session"], "closed");
  auto m = parse_prometheus_text(http_get(server.port(), "/metrics").body);
  EXPECT_EQ(m.at("nominee_session_connected"), 0);
  EXPECT_EQ(m.at("nominee_session_state{state=\"closed\"}"), 1);
  board.remove_session();
  EXPECT_EQ(json::parse(http_get(server.port(), "/status").body)["session"], nullptr);
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 503);
}

TEST(status_server, a_taken_port_or_a_bad_address_is_an_error_naming_it) {
  status_board board("port-m");
  status_server first(board);
  status_options same;
  same.port = first.port();
  try {
    status_server second(board, same);
    FAIL() << "a second server listened on port " << first.port();
  } catch (const nominee::error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << e.what();
  }
  // A port another process (here: a plain socket) listens on.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    status_options elsewhere;
    elsewhere.port = taken.local_endpoint().port();
    try {
      status_server third(board, elsewhere);
      FAIL() << "listened on a port a socket holds";
    } catch (const nominee::error& e) {
      EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
      EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(elsewhere.port)), std::string::npos)
          << e.what();
    }
  }
  status_options bad;
  bad.address = "not-an-address";
  try {
    status_server fourth(board, bad);
    FAIL() << "listened on a bad address";
  } catch (const nominee::error& e) {
    EXPECT_EQ(e.code(), errc::invalid_option);
    EXPECT_NE(std::string(e.what()).find("not-an-address"), std::string::npos) << e.what();
  }
  EXPECT_EQ(http_get(first.port(), "/healthz").status, 503);  // the first one is unharmed
}

TEST(status_server, odd_prefixes_and_names_stay_valid_json_and_metrics) {
  // Prefixes are arbitrary bytes: quotes, backslashes, newlines, and bytes
  // that are not UTF-8 must neither break the JSON nor the exposition format.
  auto root = unique_root();
  const std::string odd = "/we\"ird\\pre\nfix/\xff/";
  work_member m(root, odd, "odd-m", 1, "");
  auto added = m.d().async_add_work({"k1", "k2", "k3"}, use_future);
  get_within(added);
  ASSERT_TRUE(wait_until([&] { return settled({&m}, 3); }, 30s));
  status_board board("odd-m");
  board.show_divider(m.d());
  board.record_event("key", std::string("raw \0\xfe bytes", 11));
  status_server server(board);

  auto doc = json::parse(http_get(server.port(), "/status").body);
  EXPECT_EQ(doc["dividers"][0]["keys"], 3);
  EXPECT_EQ(doc["dividers"][0]["prefix"], std::string("/we\"ird\\pre\nfix/\xEF\xBF\xBD/"));
  auto metrics = parse_prometheus_text(http_get(server.port(), "/metrics").body);
  EXPECT_EQ(metrics.at("nominee_keys{prefix=\"/we\\\"ird\\\\pre\\nfix/\xEF\xBF\xBD/\"}"), 3);
  board.remove_divider(odd);
  EXPECT_TRUE(json::parse(http_get(server.port(), "/status").body)["dividers"].empty());
}

}  // namespace
}  // namespace nominee::testing
