#pragma once
// A live view of one node's data: re-arms the one-shot data/exists watches,
// coalesces bursts, survives reconnects and expiry, and delivers the node's
// latest state on a strand.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/session.hpp>

namespace nominee {

struct node_change {
  bool exists = false;
  std::string data;     // empty when it does not exist
  nominee::stat stat;   // zeroed when it does not exist
};

namespace detail {
class watched_node_impl;
}

class watched_node {
 public:
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
  using callback = std::function<void(const node_change&)>;

  // on_change runs on `strand` (default: a new strand of the session's
  // executor): first with the initial state, then whenever the node is
  // created, changed or deleted. Never called after the destructor returns.
  watched_node(session& s, std::string path, callback on_change);
  watched_node(session& s, std::string path, callback on_change, strand_type strand);
  ~watched_node();
  watched_node(const watched_node&) = delete;
  watched_node& operator=(const watched_node&) = delete;

  // The last state delivered; empty before the first.
  std::optional<node_change> current() const;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::shared_ptr<detail::watched_node_impl> impl_;
};

}  // namespace nominee
