#include "tcp_proxy.hpp"

#include <array>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace nominee::testing {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr std::size_t read_size = 16 * 1024;
// A direction stops reading while this much waits to be written (a long
// delay, a slow receiver), so a fast sender cannot grow the queue unbounded.
constexpr std::size_t max_queued_bytes = 1024 * 1024;
}  // namespace

std::string_view to_string(proxy_mode mode) noexcept {
  switch (mode) {
    case proxy_mode::pass: return "pass";
    case proxy_mode::delay: return "delay";
    case proxy_mode::black_hole: return "black_hole";
  }
  return "unknown";
}

// Everything the proxy owns. The links (and everything they hold) belong to
// the I/O thread; the mode and the counters are shared under mutex_.
class tcp_proxy::state {
 public:
  state(const std::string& target_host, int target_port, int listen_port);
  ~state();

  struct settings {
    proxy_mode mode;
    milliseconds delay;
  };
  settings current() const;
  void set(proxy_mode mode, milliseconds delay);
  counters totals() const;
  template <class Change>
  void count(Change change) {
    std::lock_guard lock(mutex_);
    change(totals_);
  }
  void drop_connections();

  const tcp::resolver::results_type& target() const { return target_; }
  int port() const { return port_; }

 private:
  void accept();
  template <class Action>
  void for_each_link(Action action);

  // Declared before io_, so they outlive it: io_'s destructor destroys the
  // handlers still pending, and with them the last links, which use these.
  mutable std::mutex mutex_;
  proxy_mode mode_ = proxy_mode::pass;
  milliseconds delay_{0};
  counters totals_;
  std::vector<std::weak_ptr<link>> links_;  // I/O thread only
  tcp::resolver::results_type target_;

  asio::io_context io_;
  // Declared after io_, so they are gone before it.
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  int port_ = 0;
  std::thread thread_;
};

// One client connection and its upstream twin; lives as long as a pending
// operation holds it (shared_from_this in every handler).
class tcp_proxy::link : public std::enable_shared_from_this<link> {
 public:
  link(state& proxy, tcp::socket client);
  void start();
  // The mode changed: timed holds and held-back closes are decided anew.
  void reconsider();
  // reset: RST instead of FIN, like a link that broke.
  void close(bool reset);

 private:
  struct chunk {
    steady::time_point read_at;
    std::string bytes;
  };
  // One direction: what is read from `from` is queued, then written to `to`.
  struct pipe {
    pipe(tcp::socket& from, tcp::socket& to, std::uint64_t counters::*forwarded)
        : from(from), to(to), forwarded(forwarded), hold(from.get_executor()) {}
    tcp::socket& from;
    tcp::socket& to;
    std::uint64_t counters::*forwarded;
    std::deque<chunk> queue;
    std::size_t queued_bytes = 0;
    std::array<char, read_size> buffer;
    asio::steady_timer hold;  // waits out the delay of the chunk in front
    bool reading = false;
    bool writing = false;
    bool holding = false;
    bool ended = false;  // `from` closed, failed or never connected: no more bytes
  };

  void read(pipe& p);
  // Called after anything that may let p move: a read, a write or a hold
  // that finished, the upstream connect, a mode change.
  void forward(pipe& p);
  void write_or_hold(pipe& p);

  state& proxy_;
  tcp::socket client_;
  tcp::socket server_;
  bool connected_ = false;  // server_ is connected upstream
  bool closed_ = false;
  pipe up_{client_, server_, &counters::bytes_up};
  pipe down_{server_, client_, &counters::bytes_down};
};

// --- state -------------------------------------------------------------------

tcp_proxy::state::state(const std::string& target_host, int target_port, int listen_port) {
  if (target_port <= 0 || target_port > 65535)
    throw std::runtime_error("tcp_proxy: bad target port in " + target_host + ":" + std::to_string(target_port));
  if (listen_port < 0 || listen_port > 65535)
    throw std::runtime_error("tcp_proxy: bad listen port 127.0.0.1:" + std::to_string(listen_port));

  error_code ec;
  tcp::resolver resolver(io_);
  target_ = resolver.resolve(target_host, std::to_string(target_port), ec);
  if (ec || target_.empty())
    throw std::runtime_error("tcp_proxy: cannot resolve " + target_host + ":" + std::to_string(target_port) + ": " +
                             ec.message());

  tcp::endpoint listen_at(asio::ip::address_v4::loopback(), static_cast<unsigned short>(listen_port));
  acceptor_.open(listen_at.protocol(), ec);
  // A fixed port can be taken again at once after an earlier proxy on it.
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen_at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("tcp_proxy: cannot listen on 127.0.0.1:" + std::to_string(listen_port) + ": " +
                             ec.message());
  port_ = acceptor_.local_endpoint().port();

  accept();
  thread_ = std::thread([this] { io_.run(); });
}

tcp_proxy::state::~state() {
  io_.stop();
  thread_.join();
}

tcp_proxy::state::settings tcp_proxy::state::current() const {
  std::lock_guard lock(mutex_);
  return {mode_, delay_};
}

void tcp_proxy::state::set(proxy_mode mode, milliseconds delay) {
  {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    delay_ = delay;
  }
  // The links read the mode whenever they move; this wakes the ones waiting
  // on a hold or holding back a close.
  asio::post(io_, [this] { for_each_link([](link& l) { l.reconsider(); }); });
}

tcp_proxy::counters tcp_proxy::state::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

void tcp_proxy::state::drop_connections() {
  // Shared with the handler, which may still be returning from set_value
  // when the caller wakes up.
  auto done = std::make_shared<std::promise<void>>();
  auto dropped = done->get_future();
  asio::post(io_, [this, done] {
    for_each_link([](link& l) { l.close(true); });
    done->set_value();
  });
  dropped.wait();
}

void tcp_proxy::state::accept() {
  acceptor_.async_accept([this](error_code ec, tcp::socket client) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, say: try again shortly instead of spinning.
      accept_retry_.expires_after(milliseconds(50));
      accept_retry_.async_wait([this](error_code e) {
        if (!e) accept();
      });
      return;
    }
    auto l = std::make_shared<link>(*this, std::move(client));
    std::erase_if(links_, [](const std::weak_ptr<link>& w) { return w.expired(); });
    links_.push_back(l);
    count([](counters& c) {
      ++c.accepted;
      ++c.open_connections;
    });
    l->start();
    accept();
  });
}

template <class Action>
void tcp_proxy::state::for_each_link(Action action) {
  for (auto& w : links_)
    if (auto l = w.lock()) action(*l);
}

// --- link --------------------------------------------------------------------

tcp_proxy::link::link(state& proxy, tcp::socket client)
    : proxy_(proxy), client_(std::move(client)), server_(client_.get_executor()) {}

void tcp_proxy::link::start() {
  error_code ignored;
  // ZooKeeper sends small requests; Nagle would add its own delays.
  client_.set_option(tcp::no_delay(true), ignored);
  // The client is read at once; its bytes wait in the queue until connected.
  read(up_);
  asio::async_connect(server_, proxy_.target(), [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
    if (self->closed_) return;
    if (ec) {
      // Like a server that closed at once: passed on to the client as a close.
      self->down_.ended = true;
    } else {
      self->connected_ = true;
      error_code ignored_too;
      self->server_.set_option(tcp::no_delay(true), ignored_too);
    }
    self->forward(self->up_);
    self->forward(self->down_);
  });
}

void tcp_proxy::link::reconsider() {
  // A hold was timed for the old delay; its handler calls forward().
  up_.hold.cancel();
  down_.hold.cancel();
  forward(up_);
  forward(down_);
}

void tcp_proxy::link::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  for (tcp::socket* s : {&client_, &server_}) {
    error_code ignored;
    // Linger 0: close() sends RST rather than FIN.
    if (reset && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ignored);
    s->close(ignored);
  }
  up_.hold.cancel();
  down_.hold.cancel();
  proxy_.count([](counters& c) { --c.open_connections; });
}

void tcp_proxy::link::read(pipe& p) {
  if (closed_ || p.reading || p.ended || p.queued_bytes >= max_queued_bytes) return;
  if (&p.from == &server_ && !connected_) return;
  p.reading = true;
  p.from.async_read_some(asio::buffer(p.buffer), [self = shared_from_this(), &p](error_code ec, std::size_t n) {
    p.reading = false;
    if (self->closed_) return;
    if (ec) {
      p.ended = true;  // EOF or reset alike: `from` is done
    } else {
      p.queue.push_back({steady::now(), std::string(p.buffer.data(), n)});
      p.queued_bytes += n;
    }
    self->forward(p);
  });
}

void tcp_proxy::link::forward(pipe& p) {
  if (!closed_ && !p.writing && !p.holding) write_or_hold(p);
  // Reading goes on while a chunk is held or written, so each chunk's delay
  // counts from when it arrived.
  read(p);
}

void tcp_proxy::link::write_or_hold(pipe& p) {
  auto [mode, delay] = proxy_.current();
  if (mode == proxy_mode::black_hole) {
    proxy_.count([&](counters& c) { c.dropped_bytes += p.queued_bytes; });
    p.queue.clear();
    p.queued_bytes = 0;
    // A close is news from the other side, held back like the bytes; unless
    // nobody is left to hear it.
    if (up_.ended && down_.ended) close(false);
    return;
  }
  if (p.queue.empty()) {
    // Everything `from` sent has been delivered: now pass its end on.
    if (p.ended) close(false);
    return;
  }
  if (&p.to == &server_ && !connected_) return;  // start() forwards once connected

  auto due = p.queue.front().read_at + (mode == proxy_mode::delay ? delay : milliseconds(0));
  if (due > steady::now()) {
    p.holding = true;
    p.hold.expires_at(due);
    p.hold.async_wait([self = shared_from_this(), &p](error_code) {
      p.holding = false;
      self->forward(p);
    });
    return;
  }
  p.writing = true;
  asio::async_write(p.to, asio::buffer(p.queue.front().bytes),
                    [self = shared_from_this(), &p](error_code ec, std::size_t n) {
                      p.writing = false;
                      if (self->closed_) return;
                      if (ec) {
                        self->close(false);  // `to` is gone: close the other side too
                        return;
                      }
                      self->proxy_.count([&](counters& c) { c.*p.forwarded += n; });
                      p.queued_bytes -= p.queue.front().bytes.size();
                      p.queue.pop_front();
                      self->forward(p);
                    });
}

// --- tcp_proxy -----------------------------------------------------------------

tcp_proxy::tcp_proxy(const std::string& target_host, int target_port, int listen_port)
    : state_(std::make_unique<state>(target_host, target_port, listen_port)) {}

tcp_proxy::~tcp_proxy() = default;

int tcp_proxy::port() const { return state_->port(); }

std::string tcp_proxy::address() const { return "127.0.0.1:" + std::to_string(port()); }

void tcp_proxy::pass() { state_->set(proxy_mode::pass, milliseconds(0)); }

void tcp_proxy::delay(std::chrono::milliseconds d) {
  if (d < milliseconds(0)) throw std::invalid_argument("tcp_proxy: negative delay");
  state_->set(proxy_mode::delay, d);
}

void tcp_proxy::black_hole() { state_->set(proxy_mode::black_hole, milliseconds(0)); }

proxy_mode tcp_proxy::mode() const { return state_->current().mode; }

void tcp_proxy::drop_connections() { state_->drop_connections(); }

tcp_proxy::counters tcp_proxy::totals() const { return state_->totals(); }

}  // namespace nominee::testing
