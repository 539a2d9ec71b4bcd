#pragma once
// What watched_children and watched_node share: state on one strand, every
// handler through a callback_gate (nothing runs after stop()), one read in
// flight with a dirty flag (a burst of events costs one extra read), an
// exists() watch while the node is missing, and a retry after an error.
//
// Derived provides read() (issue the read, then call on_read_done()) and
// deliver_missing() (report that the node does not exist).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>
#include <nominee/session.hpp>

#include "session_link.hpp"
#include "watch_guard.hpp"

namespace nominee::detail {

template <class Derived>
class watched_base : public std::enable_shared_from_this<Derived> {
 public:
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

  watched_base(session& s, std::string path, strand_type strand, const char* kind)
      : link_(s), path_(std::move(path)), strand_(std::move(strand)), retry_timer_(strand_), kind_(kind) {}

  void start() {
    post([](Derived& self) { self.refresh(); });
  }

  void stop() {
    gate_.close();
    boost::asio::post(strand_, [self = this->shared_from_this()] { self->retry_timer_.cancel(); });
  }

 protected:
  // Runs f(derived) on the strand, through the gate.
  template <class F>
  void post(F f) {
    boost::asio::post(strand_, [weak = this->weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
    });
  }

  // A completion handler that runs f(derived, args...) on the strand, through the gate.
  template <class F>
  auto on_strand(F f) {
    return boost::asio::bind_executor(strand_, [weak = this->weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self, std::forward<decltype(args)>(args)...); });
    });
  }

  // Any event (or session_lost) means: read again.
  session::watcher make_watcher() {
    return [weak = this->weak_from_this()](const watch_event&) {
      if (auto self = weak.lock()) self->post([](Derived& me) { me.refresh(); });
    };
  }

  void refresh() {
    if (reading_) {
      dirty_ = true;  // one more read once this one is back
      return;
    }
    reading_ = true;
    static_cast<Derived*>(this)->read();
  }

  // Derived calls this when its read is back: no_node -> report missing and
  // watch for the node's creation; another error -> retry; ok -> deliver().
  template <class Deliver>
  void on_read_done(std::error_code ec, Deliver deliver) {
    reading_ = false;
    if (ec == errc::no_node) {
      static_cast<Derived*>(this)->deliver_missing();
      // Learn when it appears: an exists() watch fires on create.
      link_.exists(path_, make_watcher(), on_strand([](Derived& me, std::error_code e, std::optional<stat> st) {
                     if (e) return me.retry_later(e);
                     if (st) me.refresh();  // created between the two reads
                   }));
    } else if (ec) {
      return retry_later(ec);
    } else {
      deliver();
    }
    if (dirty_) {
      dirty_ = false;
      refresh();
    }
  }

  void retry_later(std::error_code ec) {
    if (ec == errc::session_closed) return;  // the session is gone for good
    log(log_level::warn, std::string(kind_) + " '" + path_ + "': " + ec.message() + "; reading again shortly");
    retry_timer_.expires_after(std::chrono::milliseconds(200));
    retry_timer_.async_wait([weak = this->weak_from_this()](const std::error_code& e) {
      if (e) return;
      if (auto self = weak.lock()) self->gate_.run([&] { self->refresh(); });
    });
  }

  session_link link_;
  std::string path_;
  strand_type strand_;
  boost::asio::steady_timer retry_timer_;
  callback_gate gate_;
  const char* kind_;
  bool reading_ = false;
  bool dirty_ = false;
};

}  // namespace nominee::detail
