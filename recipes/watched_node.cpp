#include <nominee/watched_node.hpp>

#include <mutex>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <nominee/log.hpp>

#include "session_link.hpp"
#include "watch_guard.hpp"

namespace nominee {
namespace detail {

namespace asio = boost::asio;

// Same shape as watched_children_impl: state on the strand, handlers
// through the gate, one read in flight.
class watched_node_impl : public std::enable_shared_from_this<watched_node_impl> {
 public:
  watched_node_impl(session& s, std::string path, watched_node::callback on_change, watched_node::strand_type strand)
      : link_(s), path_(std::move(path)), on_change_(std::move(on_change)), strand_(std::move(strand)),
        retry_timer_(strand_) {}

  void start() { post([](watched_node_impl& self) { self.refresh(); }); }

  void stop() {
    gate_.close();
    asio::post(strand_, [self = shared_from_this()] { self->retry_timer_.cancel(); });
  }

  std::optional<node_change> current() const {
    std::lock_guard lock(current_mutex_);
    return current_;
  }

 private:
  template <class F>
  void post(F f) {
    asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
    });
  }

  session::watcher make_watcher() {
    return [weak = weak_from_this()](const watch_event&) {
      if (auto self = weak.lock()) self->post([](watched_node_impl& me) { me.refresh(); });
    };
  }

  void refresh() {
    if (reading_) {
      dirty_ = true;
      return;
    }
    reading_ = true;
    link_.get(path_, make_watcher(),
                        asio::bind_executor(strand_, [weak = weak_from_this()](std::error_code ec, node n) {
                          if (auto self = weak.lock()) self->gate_.run([&] { self->on_read(ec, std::move(n)); });
                        }));
  }

  void on_read(std::error_code ec, node n) {
    reading_ = false;
    if (ec == errc::no_node) {
      deliver(node_change{});
      link_.exists(path_, make_watcher(),
                             asio::bind_executor(strand_, [weak = weak_from_this()](std::error_code e,
                                                                                     std::optional<stat> st) {
                               auto self = weak.lock();
                               if (!self) return;
                               self->gate_.run([&] {
                                 if (e) return self->retry_later(e);
                                 if (st) self->refresh();
                               });
                             }));
    } else if (ec) {
      return retry_later(ec);
    } else {
      deliver(node_change{true, std::move(n.data), n.stat});
    }
    if (dirty_) {
      dirty_ = false;
      refresh();
    }
  }

  void retry_later(std::error_code ec) {
    if (ec == errc::session_closed) return;
    log(log_level::warn, "watched_node '" + path_ + "': " + ec.message() + "; reading again shortly");
    retry_timer_.expires_after(std::chrono::milliseconds(200));
    retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& e) {
      if (e) return;
      if (auto self = weak.lock()) self->gate_.run([&] { self->refresh(); });
    });
  }

  void deliver(node_change change) {
    {
      std::lock_guard lock(current_mutex_);
      // Same node, same version: nothing new (a re-read after a reconnect).
      if (current_ && current_->exists == change.exists && current_->stat.czxid == change.stat.czxid &&
          current_->stat.mzxid == change.stat.mzxid)
        return;
      current_ = change;
    }
    try {
      on_change_(change);
    } catch (const std::exception& e) {
      log(log_level::error, "watched_node '" + path_ + "' callback threw: " + e.what());
    }
  }

  session_link link_;
  std::string path_;
  watched_node::callback on_change_;
  watched_node::strand_type strand_;
  asio::steady_timer retry_timer_;
  callback_gate gate_;
  bool reading_ = false;
  bool dirty_ = false;
  mutable std::mutex current_mutex_;
  std::optional<node_change> current_;
};

}  // namespace detail

watched_node::watched_node(session& s, std::string path, callback on_change)
    : watched_node(s, std::move(path), std::move(on_change), boost::asio::make_strand(s.get_executor())) {}

watched_node::watched_node(session& s, std::string path, callback on_change, strand_type strand)
    : path_(std::move(path)),
      impl_(std::make_shared<detail::watched_node_impl>(s, path_, std::move(on_change), std::move(strand))) {
  impl_->start();
}

watched_node::~watched_node() { impl_->stop(); }

std::optional<node_change> watched_node::current() const { return impl_->current(); }

}  // namespace nominee
