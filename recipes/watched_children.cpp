#include <nominee/watched_children.hpp>

#include <algorithm>
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

// All state lives on strand_; every handler runs through gate_, so after
// stop() no callback runs; the session is reached through a weak link.
class watched_children_impl : public std::enable_shared_from_this<watched_children_impl> {
 public:
  watched_children_impl(session& s, std::string path, watched_children::callback on_change,
                        watched_children::strand_type strand)
      : link_(s), path_(std::move(path)), on_change_(std::move(on_change)), strand_(std::move(strand)),
        retry_timer_(strand_) {}

  void start() { post([](watched_children_impl& self) { self.refresh(); }); }

  void stop() {
    gate_.close();
    asio::post(strand_, [self = shared_from_this()] { self->retry_timer_.cancel(); });
  }

  std::vector<std::string> current() const {
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
      if (auto self = weak.lock()) self->post([](watched_children_impl& me) { me.refresh(); });
    };
  }

  void refresh() {
    if (reading_) {
      dirty_ = true;  // one more read once this one is back: coalesces a burst
      return;
    }
    reading_ = true;
    link_.get_children(
        path_, make_watcher(),
        asio::bind_executor(strand_, [weak = weak_from_this()](std::error_code ec, children kids) {
          if (auto self = weak.lock())
            self->gate_.run([&] { self->on_listing(ec, std::move(kids.names)); });
        }));
  }

  void on_listing(std::error_code ec, std::vector<std::string> names) {
    reading_ = false;
    if (ec == errc::no_node) {
      deliver({}, false);
      // Learn when the parent appears: an exists() watch fires on create.
      link_.exists(path_, make_watcher(),
                             asio::bind_executor(strand_, [weak = weak_from_this()](std::error_code e,
                                                                                     std::optional<stat> st) {
                               auto self = weak.lock();
                               if (!self) return;
                               self->gate_.run([&] {
                                 if (e) return self->retry_later(e);
                                 if (st) self->refresh();  // created between the two reads
                               });
                             }));
    } else if (ec) {
      return retry_later(ec);
    } else {
      std::sort(names.begin(), names.end());
      deliver(std::move(names), true);
    }
    if (dirty_) {
      dirty_ = false;
      refresh();
    }
  }

  void retry_later(std::error_code ec) {
    if (ec == errc::session_closed) return;  // the session is gone for good
    log(log_level::warn, "watched_children '" + path_ + "': " + ec.message() + "; reading again shortly");
    retry_timer_.expires_after(std::chrono::milliseconds(200));
    retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& e) {
      if (e) return;
      if (auto self = weak.lock()) self->gate_.run([&] { self->refresh(); });
    });
  }

  void deliver(std::vector<std::string> names, bool exists) {
    children_change change;
    std::set_difference(names.begin(), names.end(), known_.begin(), known_.end(), std::back_inserter(change.added));
    std::set_difference(known_.begin(), known_.end(), names.begin(), names.end(),
                        std::back_inserter(change.removed));
    bool first = !delivered_;
    if (!first && change.added.empty() && change.removed.empty() && exists == exists_) return;
    delivered_ = true;
    exists_ = exists;
    known_ = names;
    change.current = std::move(names);
    change.exists = exists;
    {
      std::lock_guard lock(current_mutex_);
      current_ = change.current;
    }
    try {
      on_change_(change);
    } catch (const std::exception& e) {
      log(log_level::error, "watched_children '" + path_ + "' callback threw: " + e.what());
    }
  }

  session_link link_;
  std::string path_;
  watched_children::callback on_change_;
  watched_children::strand_type strand_;
  asio::steady_timer retry_timer_;
  callback_gate gate_;
  bool reading_ = false;
  bool dirty_ = false;
  bool delivered_ = false;
  bool exists_ = true;
  std::vector<std::string> known_;
  mutable std::mutex current_mutex_;
  std::vector<std::string> current_;
};

}  // namespace detail

watched_children::watched_children(session& s, std::string path, callback on_change)
    : watched_children(s, std::move(path), std::move(on_change), boost::asio::make_strand(s.get_executor())) {}

watched_children::watched_children(session& s, std::string path, callback on_change, strand_type strand)
    : path_(std::move(path)),
      impl_(std::make_shared<detail::watched_children_impl>(s, path_, std::move(on_change), std::move(strand))) {
  impl_->start();
}

watched_children::~watched_children() { impl_->stop(); }

std::vector<std::string> watched_children::current() const { return impl_->current(); }

}  // namespace nominee
