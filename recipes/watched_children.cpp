#include <nominee/watched_children.hpp>

#include <algorithm>
#include <mutex>

#include "watched_base.hpp"

namespace nominee {
namespace detail {

class watched_children_impl : public watched_base<watched_children_impl> {
 public:
  watched_children_impl(session& s, std::string path, watched_children::callback on_change,
                        watched_children::strand_type strand)
      : watched_base(s, std::move(path), std::move(strand), "watched_children"), on_change_(std::move(on_change)) {}

  std::vector<std::string> current() const {
    std::lock_guard lock(current_mutex_);
    return current_;
  }

 private:
  friend class watched_base<watched_children_impl>;

  void read() {
    link_.get_children(path_, make_watcher(), on_strand([](watched_children_impl& me, std::error_code ec, children kids) {
                         me.on_read_done(ec, [&] {
                           std::sort(kids.names.begin(), kids.names.end());
                           me.deliver(std::move(kids.names), true);
                         });
                       }));
  }

  void deliver_missing() { deliver({}, false); }

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

  watched_children::callback on_change_;
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
