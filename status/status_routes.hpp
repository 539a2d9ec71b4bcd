#pragma once
// What the status server answers, decided without any HTTP library: the
// server (status_server.cpp) only turns a cpprest request into these
// arguments and the reply back into a cpprest response.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nominee/status_board.hpp>

namespace nominee::status_detail {

inline constexpr std::string_view json_type = "application/json";
inline constexpr std::string_view metrics_type = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view html_type = "text/html; charset=utf-8";

struct status_reply {
  int status = 200;
  std::string content_type;
  std::string body;
  // Beyond the ones every reply carries (Cache-Control, nosniff).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct status_request {
  std::string_view method;  // as sent ("GET", "HEAD", or anything else)
  std::string_view path;    // the request target's path, still percent-encoded
  std::size_t header_bytes = 0;  // request target plus header names and values
};

// Routes by exact path ("/", "/status", "/metrics", "/healthz"): nothing is
// ever read from disk, so there is no traversal to guard against beyond
// not matching. HEAD gets GET's reply; the server drops the body.
status_reply route(const status_board& board, const status_request& request, std::size_t max_header_bytes);

// The page (status/dashboard.html, compiled in).
std::string_view dashboard_html();

}  // namespace nominee::status_detail
