// The status endpoint's request handling (status/status_routes.cpp), with
// no HTTP library: route() decides every reply the server sends.
//
// The input reads like a request head:
//   METHOD '\n' TARGET '\n' ( NAME ':' VALUE '\n' )*
// TARGET is path[?query]; route() gets the path as the server passes it
// (still percent-encoded, no query), and header_bytes counted the way
// status_server.cpp counts them. The board shows nothing: no session, no
// roles, no dividers.
//
// Every reply is one of the codes the server knows a reason phrase for,
// with a content type, and a JSON body where it says JSON; 431, 405, 404
// and 503 come exactly when they should.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <nominee/status_board.hpp>

#include "fuzz_check.hpp"
#include "status_routes.hpp"

namespace {

using namespace nominee::status_detail;

constexpr std::size_t default_max_header_bytes = 16 * 1024;  // status_options{}.max_header_bytes

std::string_view next_line(std::string_view& rest) {
  const auto newline = rest.find('\n');
  const auto line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  return line;
}

bool is_page(std::string_view path) {
  return path == "/" || path == "/index.html" || path == "/status" || path == "/metrics" || path == "/healthz";
}

bool has_header(const status_reply& reply, std::string_view name) {
  for (auto& [header, value] : reply.headers)
    if (header == name && !value.empty()) return true;
  return false;
}

void check_reply(const status_reply& reply, std::string_view method, std::string_view path, std::size_t header_bytes,
                 std::size_t limit) {
  const int code = reply.status;
  NOMINEE_FUZZ_CHECK(code == 200 || code == 404 || code == 405 || code == 431 || code == 503);
  NOMINEE_FUZZ_CHECK(!reply.content_type.empty());
  if (reply.content_type == json_type) NOMINEE_FUZZ_CHECK(nlohmann::json::accept(reply.body));

  if (header_bytes > limit) {
    NOMINEE_FUZZ_CHECK(code == 431);
    return;
  }
  NOMINEE_FUZZ_CHECK(code != 431);
  if (method != "GET" && method != "HEAD") {
    NOMINEE_FUZZ_CHECK(code == 405 && has_header(reply, "Allow"));
    return;
  }
  if (!is_page(path)) {
    NOMINEE_FUZZ_CHECK(code == 404);
    return;
  }
  // No session is shown, so the board is never healthy.
  NOMINEE_FUZZ_CHECK(code == (path == "/healthz" ? 503 : 200));
  NOMINEE_FUZZ_CHECK(!reply.body.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const nominee::status_board board("fuzz-member");

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view method = next_line(rest);
  const std::string_view target = next_line(rest);
  const std::string_view path = target.substr(0, target.find('?'));
  std::size_t header_bytes = target.size();
  while (!rest.empty()) {
    const auto header = next_line(rest);
    const auto colon = header.find(':');
    const auto name = header.substr(0, colon);
    const auto value = colon == std::string_view::npos ? std::string_view{} : header.substr(colon + 1);
    header_bytes += name.size() + value.size() + 4;  // ": " and CRLF
  }

  const status_request request{method, path, header_bytes};
  const auto reply = route(board, request, default_max_header_bytes);
  check_reply(reply, method, path, header_bytes, default_max_header_bytes);

  // A small limit reaches 431 with small inputs.
  const std::size_t small_limit = header_bytes / 2;
  check_reply(route(board, request, small_limit), method, path, header_bytes, small_limit);

  // HEAD is answered like GET (the server drops the body).
  if (method == "GET" || method == "HEAD") {
    const auto other = route(board, {method == "GET" ? "HEAD" : "GET", path, header_bytes}, default_max_header_bytes);
    NOMINEE_FUZZ_CHECK(other.status == reply.status && other.content_type == reply.content_type);
  }
  return 0;
}
