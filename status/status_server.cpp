// The HTTP side of nominee::status: cpprestsdk's http_listener, kept to
// turning requests into status_routes' terms and replies back.
//
// cpprest facts this file is shaped by (2.10.18, Boost.Asio listener):
//  - A task whose exception nobody observes calls std::terminate (after
//    raise(SIGTRAP)) when it is destroyed: every reply's task gets a
//    continuation that takes its result, since a client that hangs up
//    fails the write.
//  - OPTIONS and TRACE are answered by the listener itself (TRACE echoes
//    the request back) unless a handler is registered for them by name;
//    support(handler) alone does not catch them.
//  - The listener cannot report the port it bound to, so port 0 is
//    resolved here: find a free port, listen on it, try another if it was
//    taken in between.
//  - It reads a request's whole header block, without a size limit, before
//    the handler can look at it; headers beyond the limit get 431 here. It
//    sets no timer on a connection either: a client that sends slowly or
//    not at all keeps its connection (and what it sent) for as long as it
//    likes. Hence loopback by default.
//  - Listeners are registered in one registry per process, keyed by
//    host:port. Opening a second listener on a host:port and path already
//    registered fails, and cpprest's cleanup of that failure erases the
//    registry's entry for the whole host:port: the first listener stops
//    accepting. So a port one of our servers listens on is refused here,
//    before cpprest is asked.
//  - set_body(std::string) hands a streambuf<char> over as a
//    streambuf<unsigned char> (UBSan's vptr check reports the member call
//    on it); a body of unsigned char needs no such cast. (set_body keeps a
//    Content-Type set before it.)
//  - A request target "//x" is parsed as an authority ("x") with an empty
//    path, which cpprest reports as "/": it is put back together here so
//    that it matches no page.
#include <nominee/status_server.hpp>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>
#include <cpprest/http_listener.h>

#include <nominee/error.hpp>
#include <nominee/log.hpp>

#include "status_routes.hpp"

namespace nominee {

namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;

std::string reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

std::size_t header_bytes(const http::http_request& request) {
  std::size_t n = request.request_uri().to_string().size();
  for (auto& [name, value] : request.headers()) n += name.size() + value.size() + 4;  // ": " and CRLF
  return n;
}

// host:port of every status_server of this process (see above).
std::mutex listening_mutex;
std::set<std::string> listening;

// The request target's path as sent (still percent-encoded).
std::string target_path(const web::uri& target) {
  if (target.scheme().empty() && !target.host().empty()) return "//" + target.host() + target.path();
  return target.path();
}

// A port nobody listens on now (it may be taken before we listen on it).
std::uint16_t probe_free_port(const boost::asio::ip::address& address) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, boost::asio::ip::tcp::endpoint(address, 0));
  return probe.local_endpoint().port();
}

}  // namespace

struct status_server::impl {
  const status_board* board = nullptr;
  status_options options;
  std::string host;  // as it goes into a URL: brackets around IPv6
  std::uint16_t port = 0;
  std::unique_ptr<http_listener> listener;

  std::string url_for(std::uint16_t p) const { return "http://" + host + ":" + std::to_string(p) + "/"; }

  // Empty when listening, else why not.
  std::error_code try_listen(std::uint16_t p, std::string& why) {
    std::lock_guard lock(listening_mutex);
    auto key = host + ":" + std::to_string(p);
    if (listening.count(key)) {
      why = "another status_server of this process listens there";
      return make_error_code(std::errc::address_in_use);
    }
    auto candidate = std::make_unique<http_listener>(url_for(p));
    auto handler = [this](http::http_request request) { handle(std::move(request)); };
    candidate->support(handler);
    candidate->support(http::methods::OPTIONS, handler);
    candidate->support(http::methods::TRCE, handler);
    try {
      candidate->open().wait();
    } catch (const boost::system::system_error& e) {
      why = e.code().message();
      return {e.code().value(), std::system_category()};
    } catch (const std::exception& e) {
      why = e.what();
      return make_error_code(std::errc::address_not_available);
    }
    listener = std::move(candidate);
    port = p;
    listening.insert(key);
    return {};
  }

  void handle(http::http_request request) {
    status_detail::status_reply reply;
    const bool head = request.method() == http::methods::HEAD;
    try {
      auto path = target_path(request.request_uri());
      reply = status_detail::route(*board, {request.method(), path, header_bytes(request)}, options.max_header_bytes);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("status_server: ") + e.what());
      reply = {500, std::string(status_detail::json_type), R"({"error":"internal error"})", {}};
    }
    http::http_response response(static_cast<http::status_code>(reply.status));
    response.set_reason_phrase(reason_phrase(reply.status));
    auto& headers = response.headers();
    headers.add("Cache-Control", "no-store");
    headers.add("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : reply.headers) headers.add(name, value);
    headers.set_content_type(reply.content_type);
    // HEAD: the body stays out (cpprest then sends Content-Length: 0).
    if (!head) response.set_body(std::vector<unsigned char>(reply.body.begin(), reply.body.end()));
    request.reply(response).then([](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception&) {
        // The client went away before the reply was written: nothing to do.
      }
    });
  }
};

status_server::status_server(const status_board& board, status_options options) : impl_(std::make_unique<impl>()) {
  impl_->board = &board;
  impl_->options = std::move(options);
  const auto& text = impl_->options.address;
  boost::system::error_code parse_error;
  auto address = boost::asio::ip::make_address(text, parse_error);
  if (parse_error)
    throw error(make_error_code(errc::invalid_option),
                "status_options.address \"" + text + "\" is not an IP address (e.g. 127.0.0.1 or ::1)");
  impl_->host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  auto where = [&](std::uint16_t p) { return impl_->host + ":" + std::to_string(p); };

  std::string why;
  if (impl_->options.port != 0) {
    if (auto ec = impl_->try_listen(impl_->options.port, why))
      throw error(ec, "status_server: cannot listen on " + where(impl_->options.port) + ": " + why);
    return;
  }
  // Another process may take the probed port before we listen on it.
  std::error_code last;
  std::uint16_t tried = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    try {
      tried = probe_free_port(address);
    } catch (const boost::system::system_error& e) {
      throw error({e.code().value(), std::system_category()},
                  "status_server: cannot listen on " + where(0) + ": " + e.code().message());
    }
    last = impl_->try_listen(tried, why);
    if (!last) return;
    if (last != std::errc::address_in_use) break;
  }
  throw error(last, "status_server: cannot listen on " + where(tried) + ": " + why);
}

status_server::~status_server() {
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    log(log_level::warn, std::string("status_server: closing the listener: ") + e.what());
  }
  std::lock_guard lock(listening_mutex);
  listening.erase(impl_->host + ":" + std::to_string(impl_->port));
}

std::uint16_t status_server::port() const noexcept { return impl_->port; }

std::string status_server::url() const { return impl_->url_for(impl_->port); }

}  // namespace nominee
