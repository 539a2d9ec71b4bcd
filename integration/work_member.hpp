#pragma once
// One divider member with a session of its own, started, confirming every
// stop at once: what the status endpoint tests show on their boards.
#include <memory>
#include <string>

#include <boost/asio/use_future.hpp>

#include <nominee/divider.hpp>

#include "test_support.hpp"

namespace nominee::testing {

// One divider member with a session of its own; stops are confirmed at once.
class work_member {
 public:
  work_member(const std::string& root, const std::string& prefix, const std::string& id, std::int64_t affinity,
              const std::string& endpoint)
      : session_(connect_session(shared_zookeeper().connect_string())) {
    divider_options o;
    o.root = root;
    o.prefix = prefix;
    o.member_id = id;
    o.affinity = affinity;
    o.endpoint = endpoint;
    divider_ = std::make_unique<divider>(*session_, o,
                                         divider::callbacks{[](const key_lease&) {},
                                                            [this](const std::string& key, stop_reason) {
                                                              divider_->confirm_stop(key);
                                                            }});
    auto started = divider_->async_start(boost::asio::use_future);
    get_within(started);
  }
  ~work_member() {
    divider_.reset();  // before its session
  }
  session& s() { return *session_; }
  divider& d() { return *divider_; }

 private:
  std::unique_ptr<session> session_;
  std::unique_ptr<divider> divider_;
};

}  // namespace nominee::testing
