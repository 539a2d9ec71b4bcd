#pragma once
// A loopback TCP proxy for fault injection: it sits between a ZooKeeper
// client and one server, and the test (or a fault runner) turns it into a
// slow link, a network partition, or a source of connection resets, while
// the connections stay open. Not part of the installed library.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nominee::testing {

enum class proxy_mode {
  pass,        // forward both ways at once
  delay,       // hold every chunk before forwarding it
  black_hole,  // forward nothing, not even a close: a partition
};

std::string_view to_string(proxy_mode mode) noexcept;

// Listens on 127.0.0.1 and forwards each accepted connection to the target.
// One I/O thread of its own; every method may be called from any thread.
//
// A mode change applies to the connections already open as well as to new
// ones. A chunk the proxy has already begun writing when the mode changes
// still arrives (like a packet already on the wire); nothing else does. A
// write that fails closes both sides at once, whatever the mode.
//
// In black_hole the proxy keeps accepting, reads and discards what either
// side sends, and holds back closes: when one side closes (or the upstream
// connect fails), the other side hears nothing until the mode leaves
// black_hole, and only then is it closed. What was discarded is gone, so a
// ZooKeeper client usually times out and reconnects after a partition heals.
class tcp_proxy {
 public:
  struct counters {
    std::uint64_t accepted = 0;          // client connections accepted
    std::uint64_t bytes_up = 0;          // forwarded (written) client -> target
    std::uint64_t bytes_down = 0;        // forwarded (written) target -> client
    std::uint64_t dropped_bytes = 0;     // read in black_hole and discarded
    std::uint64_t open_connections = 0;  // accepted and not yet closed
  };

  // Listens on 127.0.0.1:listen_port (0: any free port) and resolves the
  // target now (it need not be up yet: each connection connects anew).
  // Throws std::runtime_error naming the address when either fails.
  tcp_proxy(const std::string& target_host, int target_port, int listen_port = 0);
  // Stops the I/O thread and closes every connection.
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const;
  // "127.0.0.1:<port>", for a ZooKeeper connect string.
  std::string address() const;

  void pass();
  // Every chunk, in both directions, is forwarded d after the proxy read it;
  // order is kept per direction. Throws std::invalid_argument if d < 0.
  void delay(std::chrono::milliseconds d);
  void black_hole();
  proxy_mode mode() const;

  // Resets (RST) both sides of every open connection and returns once that
  // is done; the mode stays as it is, and new connections are accepted.
  void drop_connections();

  counters totals() const;

 private:
  class state;
  class link;
  std::unique_ptr<state> state_;
};

}  // namespace nominee::testing
