#pragma once
// A live view of a node's children: re-arms ZooKeeper's one-shot watches,
// coalesces bursts (one read in flight; events during it cause one more),
// survives reconnects and expiry, and delivers diffs on a strand.
//
// The diffs are of names: a child deleted and created again between two
// listings (a member that restarts under the same id within a few
// milliseconds) is no change here. Where a child's identity matters, watch
// the child too (watched_node), as group does for each member's data.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/session.hpp>

namespace nominee {

struct children_change {
  std::vector<std::string> added;    // sorted
  std::vector<std::string> removed;  // sorted
  std::vector<std::string> current;  // sorted
  bool exists = true;                // false while the parent node does not exist
};

namespace detail {
class watched_children_impl;
}

class watched_children {
 public:
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
  using callback = std::function<void(const children_change&)>;

  // Starts at once. on_change runs on `strand` (default: a new strand of
  // the session's executor): first with the initial listing, then on every
  // change. It is never called once the destructor has returned.
  watched_children(session& s, std::string path, callback on_change);
  watched_children(session& s, std::string path, callback on_change, strand_type strand);
  ~watched_children();
  watched_children(const watched_children&) = delete;
  watched_children& operator=(const watched_children&) = delete;

  // The last listing delivered (sorted); empty before the first.
  std::vector<std::string> current() const;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::shared_ptr<detail::watched_children_impl> impl_;
};

}  // namespace nominee
