#pragma once
// One member of the sample fleet: a session, a candidate for the
// cluster-manager role, a divider on the prefix, and the key records it
// writes for every key it owns. Prints its keys every second; leaves
// cleanly (flush, then cancel) on shutdown.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "worker_options.hpp"

namespace nominee::worker {

class worker {
 public:
  worker(boost::asio::io_context& io, worker_options options);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Connects, stands for the role and joins the divider, retrying the join
  // while our name is still held by a killed predecessor's session.
  void start();
  // Hands every key over (flush), leaves, resigns and closes the session.
  // Blocks; call it from a thread that does not run the io_context. False
  // when the flush did not finish within 3 x the session timeout.
  bool shutdown();

  // The status endpoint's URL, or "" when it is off.
  std::string status_url() const;

 private:
  class impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace nominee::worker
