#include "status_http.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace nominee::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// Parses what has been read so far; true once a whole response is there.
bool parse(http_exchange& x, bool head) {
  auto end_of_headers = x.raw.find("\r\n\r\n");
  if (end_of_headers == std::string::npos) return false;
  std::istringstream lines(x.raw.substr(0, end_of_headers));
  std::string line;
  std::getline(lines, line);
  std::istringstream status_line(line);
  std::string version;
  status_line >> version >> x.status;
  if (version.rfind("HTTP/1.", 0) != 0) throw std::runtime_error("not an HTTP response: " + line);
  x.headers.clear();
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    x.headers[lowercase(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  std::size_t length = 0;
  if (auto it = x.headers.find("content-length"); it != x.headers.end() && !head) length = std::stoul(it->second);
  auto body_at = end_of_headers + 4;
  if (x.raw.size() < body_at + length) return false;
  x.body = x.raw.substr(body_at, length);
  return true;
}

}  // namespace

std::string http_exchange::describe() const {
  std::ostringstream out;
  out << "status " << status << (replied ? "" : " (no whole reply)");
  if (!ended.empty()) out << ", connection " << ended;
  out << ", " << raw.size() << " bytes read";
  if (!raw.empty()) out << ": " << raw.substr(0, 600);
  return out.str();
}

http_exchange exchange(std::uint16_t port, std::string_view request, bool head, std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto x = std::make_shared<http_exchange>();
  auto done = std::make_shared<bool>(false);
  std::string out(request);
  // Writing and reading at once: a server may answer (and close) before it
  // has read a request it refuses.
  asio::async_write(socket, asio::buffer(out), [](boost::system::error_code, std::size_t) {});
  auto buffer = std::make_shared<std::array<char, 64 * 1024>>();
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(*buffer), [&, x, done, buffer](boost::system::error_code ec, std::size_t n) {
      x->raw.append(buffer->data(), n);
      if (parse(*x, head)) {
        x->replied = true;
        *done = true;
        return;
      }
      if (ec) {
        x->ended = ec == asio::error::eof ? "closed by the server"
                   : ec == asio::error::connection_reset ? "reset by the server"
                                                         : ec.message();
        *done = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  io.run_for(timeout);
  if (!*done)
    throw std::runtime_error("no reply within " + std::to_string(timeout.count()) + " ms; read so far: " +
                             x->raw.substr(0, 300));
  boost::system::error_code ignored;
  socket.close(ignored);
  return *x;
}

http_exchange http_request(std::uint16_t port, std::string_view method, std::string_view target,
                           std::chrono::milliseconds timeout) {
  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n\r\n";
  return exchange(port, request, method == "HEAD", timeout);
}

void send_and_hang_up(std::uint16_t port, std::string_view bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes.data(), bytes.size()));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace nominee::testing
