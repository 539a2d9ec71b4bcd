// The fault-injection proxy: against a loopback echo server for the exact
// byte-level behaviour, then with a real session against a real server.
#include "tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;

// Echoes every chunk back; a chunk containing "quit" makes it close that
// connection instead (a server that hangs up).
class echo_server {
 public:
  echo_server() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~echo_server() {
    io_.stop();
    thread_.join();
  }
  echo_server(const echo_server&) = delete;
  echo_server& operator=(const echo_server&) = delete;

  int port() const { return acceptor_.local_endpoint().port(); }
  int open_connections() const { return open_; }

 private:
  struct connection : std::enable_shared_from_this<connection> {
    connection(tcp::socket s, std::atomic<int>& open) : socket(std::move(s)), open(open) { ++open; }
    ~connection() { --open; }
    void read() {
      auto self = shared_from_this();
      socket.async_read_some(asio::buffer(buffer), [self](boost::system::error_code ec, std::size_t n) {
        if (ec) return;
        // Returning drops the last reference: the socket closes.
        if (std::string_view(self->buffer.data(), n).find("quit") != std::string_view::npos) return;
        asio::async_write(self->socket, asio::buffer(self->buffer.data(), n),
                          [self](boost::system::error_code e, std::size_t) {
                            if (!e) self->read();
                          });
      });
    }
    tcp::socket socket;
    std::atomic<int>& open;
    std::array<char, 8192> buffer;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<connection>(std::move(s), open_)->read();
      accept();
    });
  }

  // Before io_: the connections still pending when io_ is destroyed use it.
  std::atomic<int> open_{0};
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// A blocking loopback client with deadlines on every read.
class client {
 public:
  explicit client(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int e = errno;
      ::close(fd_);
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(e));
    }
  }
  ~client() { hang_up(); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // False when the connection is gone (no SIGPIPE).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  struct reply {
    std::string bytes;
    bool closed = false;  // EOF or reset
  };
  // Reads until `want` bytes came, the peer closed, or the timeout passed.
  reply receive(std::size_t want, std::chrono::milliseconds timeout) {
    reply r;
    auto deadline = steady::now() + timeout;
    std::array<char, 65536> buffer;
    while (r.bytes.size() < want) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left <= 0ms) break;
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      auto n = ::recv(fd_, buffer.data(), std::min(buffer.size(), want - r.bytes.size()), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        r.closed = true;
        break;
      }
      r.bytes.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return r;
  }

  void hang_up() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};


std::string describe(const tcp_proxy::counters& c) {
  return "accepted " + std::to_string(c.accepted) + ", up " + std::to_string(c.bytes_up) + ", down " +
         std::to_string(c.bytes_down) + ", dropped " + std::to_string(c.dropped_bytes) + ", open " +
         std::to_string(c.open_connections);
}

TEST(TcpProxyTest, PassForwardsBothWaysAndCounts) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());
  EXPECT_EQ(proxy.mode(), proxy_mode::pass);
  EXPECT_EQ(proxy.address(), "127.0.0.1:" + std::to_string(proxy.port()));

  client a(proxy.port());
  client b(proxy.port());
  ASSERT_TRUE(a.send("hello"));
  ASSERT_TRUE(b.send("world!"));
  EXPECT_EQ(a.receive(5, 10s).bytes, "hello");
  EXPECT_EQ(b.receive(6, 10s).bytes, "world!");
  // The client may read the echo before the proxy's write handler counted it.
  EXPECT_TRUE(wait_until([&] { return proxy.totals().bytes_down == 11; }, 10s)) << describe(proxy.totals());
  auto t = proxy.totals();
  EXPECT_EQ(t.accepted, 2u);
  EXPECT_EQ(t.bytes_up, 11u);
  EXPECT_EQ(t.dropped_bytes, 0u);
  EXPECT_EQ(t.open_connections, 2u);
  EXPECT_EQ(echo.open_connections(), 2);
}

// More than the proxy queues per direction, written while the echo comes
// back: the bytes arrive whole and in order through the back pressure.
TEST(TcpProxyTest, PassCarriesABulkTransferInOrder) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());
  client c(proxy.port());
  std::string data(3 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);

  std::atomic<bool> sent{false};
  std::thread writer([&] { sent = c.send(data); });
  auto r = c.receive(data.size(), 120s);
  writer.join();
  EXPECT_TRUE(sent);
  ASSERT_EQ(r.bytes.size(), data.size()) << describe(proxy.totals());
  EXPECT_TRUE(r.bytes == data) << "the echo came back altered or out of order";
  EXPECT_EQ(proxy.totals().bytes_up, data.size());
}

TEST(TcpProxyTest, DelayHoldsEveryChunkInBothDirections) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());
  client c(proxy.port());
  ASSERT_TRUE(c.send("warm"));
  ASSERT_EQ(c.receive(4, 10s).bytes, "warm");  // connected upstream: the delay is all that is left

  proxy.delay(300ms);
  EXPECT_EQ(proxy.mode(), proxy_mode::delay);
  auto start = steady::now();
  ASSERT_TRUE(c.send("ping"));
  auto r = c.receive(4, 30s);
  auto elapsed = steady::now() - start;
  EXPECT_EQ(r.bytes, "ping");
  EXPECT_GE(elapsed, 600ms) << "300 ms up, then 300 ms down";
  EXPECT_LT(elapsed, 20s);

  // Separate chunks keep their order.
  for (auto piece : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(c.send(piece));
    std::this_thread::sleep_for(20ms);  // pacing only: separate reads, likely
  }
  EXPECT_EQ(c.receive(4, 30s).bytes, "abcd");

  // A chunk held for a long delay goes at once when the mode turns to pass.
  proxy.delay(10min);
  ASSERT_TRUE(c.send("held"));
  ASSERT_EQ(c.receive(4, 300ms).bytes, "");
  proxy.pass();
  EXPECT_EQ(c.receive(4, 20s).bytes, "held");

  EXPECT_THROW(proxy.delay(-1ms), std::invalid_argument);
  EXPECT_EQ(proxy.mode(), proxy_mode::pass);
}

TEST(TcpProxyTest, BlackHoleSilencesOpenAndNewConnectionsUntilPass) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());
  client old_one(proxy.port());
  ASSERT_TRUE(old_one.send("one"));
  ASSERT_EQ(old_one.receive(3, 10s).bytes, "one");

  proxy.black_hole();
  EXPECT_EQ(proxy.mode(), proxy_mode::black_hole);
  ASSERT_TRUE(old_one.send("lost"));
  auto silence = old_one.receive(1, 500ms);
  EXPECT_EQ(silence.bytes, "");
  EXPECT_FALSE(silence.closed) << "a partition is silence, not a reset";

  client new_one(proxy.port());
  ASSERT_TRUE(new_one.send("gone"));
  auto new_silence = new_one.receive(1, 500ms);
  EXPECT_EQ(new_silence.bytes, "");
  EXPECT_FALSE(new_silence.closed);
  EXPECT_TRUE(wait_until([&] { return proxy.totals().dropped_bytes == 8; }, 10s)) << describe(proxy.totals());

  proxy.pass();
  ASSERT_TRUE(old_one.send("two"));
  EXPECT_EQ(old_one.receive(3, 10s).bytes, "two") << "what was sent into the black hole stays lost";
  ASSERT_TRUE(new_one.send("three"));
  EXPECT_EQ(new_one.receive(5, 10s).bytes, "three");
  auto t = proxy.totals();
  EXPECT_EQ(t.accepted, 2u);
  EXPECT_EQ(t.open_connections, 2u);
  EXPECT_EQ(t.bytes_up, 11u) << describe(t);
}

TEST(TcpProxyTest, DropConnectionsResetsBothSidesAndKeepsTheMode) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());
  client c(proxy.port());
  ASSERT_TRUE(c.send("hi"));
  ASSERT_EQ(c.receive(2, 10s).bytes, "hi");
  ASSERT_EQ(echo.open_connections(), 1);

  proxy.drop_connections();
  EXPECT_EQ(proxy.totals().open_connections, 0u) << "done by the time drop_connections returns";
  EXPECT_TRUE(c.receive(1, 10s).closed);
  EXPECT_TRUE(wait_until([&] { return echo.open_connections() == 0; }, 10s)) << "the server side is closed too";
  EXPECT_EQ(proxy.mode(), proxy_mode::pass);

  client next(proxy.port());
  ASSERT_TRUE(next.send("again"));
  EXPECT_EQ(next.receive(5, 10s).bytes, "again");

  // In a black hole as well: the reset is the fault runner's own doing.
  proxy.black_hole();
  client silent(proxy.port());
  EXPECT_TRUE(wait_until([&] { return proxy.totals().open_connections == 2; }, 10s)) << describe(proxy.totals());
  proxy.drop_connections();
  EXPECT_TRUE(silent.receive(1, 10s).closed);
  EXPECT_TRUE(next.receive(1, 10s).closed);
  EXPECT_EQ(proxy.mode(), proxy_mode::black_hole);
  EXPECT_EQ(proxy.totals().accepted, 3u);
}

TEST(TcpProxyTest, EitherSideClosingClosesTheOther) {
  echo_server echo;
  tcp_proxy proxy("127.0.0.1", echo.port());

  client leaving(proxy.port());
  ASSERT_TRUE(leaving.send("x"));
  ASSERT_EQ(leaving.receive(1, 10s).bytes, "x");
  leaving.hang_up();
  EXPECT_TRUE(wait_until([&] { return echo.open_connections() == 0; }, 10s));
  EXPECT_TRUE(wait_until([&] { return proxy.totals().open_connections == 0; }, 10s)) << describe(proxy.totals());

  client hung_up_on(proxy.port());
  ASSERT_TRUE(hung_up_on.send("quit"));
  auto r = hung_up_on.receive(1, 10s);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.bytes, "");

  tcp_proxy nowhere("127.0.0.1", unused_loopback_port());
  client refused(nowhere.port());
  EXPECT_TRUE(refused.receive(1, 10s).closed) << "a failed upstream connect closes the client";
  EXPECT_TRUE(wait_until([&] { return nowhere.totals().open_connections == 0; }, 10s));
}

// In a black hole a close does not cross either: the client hears it only
// once the partition heals.
TEST(TcpProxyTest, BlackHoleHoldsBackACloseUntilPass) {
  tcp_proxy nowhere("127.0.0.1", unused_loopback_port());
  nowhere.black_hole();
  client c(nowhere.port());
  auto silence = c.receive(1, 500ms);
  EXPECT_FALSE(silence.closed);
  EXPECT_EQ(nowhere.totals().open_connections, 1u);
  nowhere.pass();
  EXPECT_TRUE(c.receive(1, 10s).closed);
  EXPECT_TRUE(wait_until([&] { return nowhere.totals().open_connections == 0; }, 10s));
}

TEST(TcpProxyTest, ConstructorNamesTheAddressItCannotUse) {
  tcp_proxy first("127.0.0.1", unused_loopback_port());
  try {
    tcp_proxy second("127.0.0.1", unused_loopback_port(), first.port());
    FAIL() << "two proxies listen on port " << first.port();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tcp_proxy("127.0.0.1", 0), std::runtime_error);
}

std::string describe(const std::vector<session_state>& states) {
  std::string out;
  for (auto s : states) out += std::string(out.empty() ? "" : " ") + std::string(to_string(s));
  return out;
}

// A real session through the proxy: a black hole looks like a partition to
// the C client (no answer to its pings), and healing it lets it back in.
TEST(TcpProxyTest, SessionThroughTheProxySuspendsInABlackHoleAndComesBack) {
  auto& zookeeper = shared_zookeeper();
  tcp_proxy proxy("127.0.0.1", zookeeper.client_port(0));
  // Declared after the proxy, so it is closed while the proxy still passes.
  session s(test_options(proxy.address()));
  state_recorder states(s);
  s.wait_connected(30s);
  EXPECT_NE(s.current_server().find(std::to_string(proxy.port())), std::string::npos) << s.current_server();
  auto before = proxy.totals();
  EXPECT_GE(before.accepted, 1u);
  EXPECT_GT(before.bytes_up, 0u);
  EXPECT_GT(before.bytes_down, 0u);

  proxy.black_hole();
  // The client reads nothing for 2/3 of the 4 s session timeout, then drops
  // the connection: the session is suspended.
  ASSERT_TRUE(states.wait_for(session_state::suspended, 60s)) << describe(states.states());
  EXPECT_GT(proxy.totals().dropped_bytes, 0u) << "its pings went into the hole";

  proxy.pass();
  // Back on the same session if the server had not expired it yet, or on a
  // new one after an expiry: either way the state moved on from suspended.
  ASSERT_TRUE(wait_until(
      [&] { return states.count(session_state::reconnected) > 0 || states.count(session_state::expired) > 0; },
      60s))
      << describe(states.states());
  EXPECT_TRUE(wait_until(
      [&] { return s.state() == session_state::connected || s.state() == session_state::reconnected; }, 60s))
      << describe(states.states());
  EXPECT_GT(proxy.totals().accepted, before.accepted) << "the client came back on a new connection";
}

}  // namespace
}  // namespace nominee::testing
