#include "session_link.hpp"

#include <boost/asio/steady_timer.hpp>

#include <nominee/log.hpp>

namespace nominee::detail {

namespace {

struct reliable_removal : std::enable_shared_from_this<reliable_removal> {
  reliable_removal(const session_link& l, std::string p, int attempts, const boost::asio::any_io_executor& ex)
      : link(l), path(std::move(p)), attempts_left(attempts), timer(ex) {}

  void attempt() {
    --attempts_left;
    link.remove(path, any_version, [self = shared_from_this()](std::error_code ec) { self->on_result(ec); });
  }

  void on_result(std::error_code ec) {
    if (!ec || ec == errc::no_node || ec == errc::session_closed || ec == errc::session_expired) return;
    if (link.state() == session_state::expired || attempts_left <= 0) {
      log(log_level::warn, "gave up deleting '" + path + "': " + ec.message());
      return;
    }
    timer.expires_after(std::chrono::milliseconds(200));
    timer.async_wait([self = shared_from_this()](const std::error_code& e) {
      if (!e) self->attempt();
    });
  }

  session_link link;
  std::string path;
  int attempts_left;
  boost::asio::steady_timer timer;
};

}  // namespace

void session_link::remove_reliably(std::string path, int max_attempts) const {
  auto c = lock();
  if (!c) return;
  std::make_shared<reliable_removal>(*this, std::move(path), max_attempts, c->executor())->attempt();
}

}  // namespace nominee::detail
