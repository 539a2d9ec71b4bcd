#pragma once
// A raw HTTP/1.1 client for the status endpoint tests: it sends exactly the
// bytes it is given (hostile requests included) over a loopback TCP socket
// and reads what comes back, within a deadline.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace nominee::testing {

struct http_exchange {
  bool replied = false;  // a whole response came back (status line, headers, body)
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lowercase
  std::string body;
  std::string raw;    // every byte read
  std::string ended;  // "" when the reply was whole; else how the connection ended
                      // ("closed by the server", "reset", ...)

  std::string header(const std::string& lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string describe() const;  // for failure messages
};

// Connects to 127.0.0.1:port, writes request as is (while reading, so a
// server that answers before it has read everything is seen), and reads one
// response: the header block, then Content-Length bytes (none for HEAD).
// Throws std::runtime_error if that takes longer than timeout.
http_exchange exchange(std::uint16_t port, std::string_view request, bool head = false,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

// "<method> <target> HTTP/1.1" with a Host header and Connection: close.
http_exchange http_request(std::uint16_t port, std::string_view method, std::string_view target,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));
inline http_exchange http_get(std::uint16_t port, std::string_view target) {
  return http_request(port, "GET", target);
}

// Connects, writes bytes, and closes the connection without reading: a
// client that goes away in the middle of its request.
void send_and_hang_up(std::uint16_t port, std::string_view bytes);

}  // namespace nominee::testing
