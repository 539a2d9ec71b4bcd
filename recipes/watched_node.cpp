#include <nominee/watched_node.hpp>

#include <mutex>

#include "watched_base.hpp"

namespace nominee {
namespace detail {

class watched_node_impl : public watched_base<watched_node_impl> {
 public:
  watched_node_impl(session& s, std::string path, watched_node::callback on_change, watched_node::strand_type strand)
      : watched_base(s, std::move(path), std::move(strand), "watched_node"), on_change_(std::move(on_change)) {}

  std::optional<node_change> current() const {
    std::lock_guard lock(current_mutex_);
    return current_;
  }

 private:
  friend class watched_base<watched_node_impl>;

  void read() {
    link_.get(path_, make_watcher(), on_strand([](watched_node_impl& me, std::error_code ec, node n) {
                me.on_read_done(ec, [&] { me.deliver(node_change{true, std::move(n.data), n.stat}); });
              }));
  }

  void deliver_missing() { deliver(node_change{}); }

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

  watched_node::callback on_change_;
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
