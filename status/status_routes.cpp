#include "status_routes.hpp"

#include <nlohmann/json.hpp>

namespace nominee::status_detail {

namespace {

status_reply json_reply(int status, const nlohmann::json& body) {
  return {status, std::string(json_type), body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

status_reply error_reply(int status, std::string message) {
  return json_reply(status, {{"error", std::move(message)}});
}

}  // namespace

status_reply route(const status_board& board, const status_request& request, std::size_t max_header_bytes) {
  if (request.header_bytes > max_header_bytes)
    return error_reply(431, "request headers of " + std::to_string(request.header_bytes) + " bytes, more than the " +
                                std::to_string(max_header_bytes) + " allowed");
  if (request.method != "GET" && request.method != "HEAD") {
    auto reply = error_reply(405, "read-only: only GET and HEAD are allowed");
    reply.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  const auto path = request.path;
  if (path == "/status") return {200, std::string(json_type), board.status_json(), {}};
  if (path == "/metrics") return {200, std::string(metrics_type), board.metrics_text(), {}};
  if (path == "/healthz") {
    bool ok = board.healthy();
    return json_reply(ok ? 200 : 503, {{"status", ok ? "ok" : "unavailable"}, {"session", board.session_state_name()}});
  }
  if (path == "/" || path == "/index.html") {
    status_reply reply{200, std::string(html_type), std::string(dashboard_html()), {}};
    // The page loads nothing from anywhere: only its own inline script and
    // style, and fetches of /status from where it came from.
    reply.headers.emplace_back("Content-Security-Policy",
                               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'");
    return reply;
  }
  return error_reply(404, "no such page: try /, /status, /metrics or /healthz");
}

}  // namespace nominee::status_detail
