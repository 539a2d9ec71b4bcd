#include "test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include <zookeeper/zookeeper.h>

#include "session_expiry.hpp"
#include "zookeeper_handle.hpp"

namespace nominee::testing {

namespace {
// Every session a test opened is closed by the end: the leak check LSan
// cannot make for us, since it ignores the C client's allocations.
class every_handle_closed : public ::testing::Environment {
 public:
  void TearDown() override {
    EXPECT_EQ(detail::zookeeper_handles_open(), 0) << "ZooKeeper handles left open at the end of the tests";
  }
};
[[maybe_unused]] auto* const registered = ::testing::AddGlobalTestEnvironment(new every_handle_closed);
}  // namespace

zookeeper_cluster& shared_zookeeper() {
  static std::unique_ptr<zookeeper_cluster> cluster;
  static std::once_flag started;
  static std::string failure;
  std::call_once(started, [] {
    try {
      zookeeper_options options;
      options.servers = 1;
      cluster = std::make_unique<zookeeper_cluster>(options);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  if (!cluster) throw std::runtime_error("could not start a ZooKeeper server for the tests: " + failure);
  return *cluster;
}

std::string unique_root() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& c : name)
    if (c == '/') c = '_';
  return "/" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {

// The twin trick: a second client attaches with s's session id and password
// and closes the session. It can lose a race: when the twin attaches, the
// server drops the original connection, and if the original client
// reattaches before the twin closes, the twin's close never reaches the
// server and the session lives on. So: try until ended() says it took (a
// won race shows within milliseconds), a few seconds apart.
void end_from_outside(const session& s, const std::string& hosts,
                      const std::function<bool(std::chrono::milliseconds)>& ended, const std::string& caller) {
  auto old_id = s.session_id();
  auto password = s.session_password();
  if (old_id == 0 || password.size() != sizeof(clientid_t::passwd))
    throw std::runtime_error(caller + ": the session is not connected");
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (ended(std::chrono::milliseconds(0))) return;
    auto outcome = expire_session(hosts, session_credentials{old_id, password});
    if (outcome == "zookeeper_init failed") throw std::runtime_error(caller + ": " + outcome);
    if (ended(std::chrono::seconds(3))) return;
  }
  throw std::runtime_error(caller + ": the session survived ten attempts");
}

}  // namespace

void force_expiry(const session& s, const std::string& hosts) {
  auto old_id = s.session_id();
  auto moved = [&] { return s.session_id() != old_id && s.session_id() != 0; };
  end_from_outside(
      s, hosts,
      [&](std::chrono::milliseconds wait) {
        // Between sessions (the old one heard expired, the new one not yet
        // made): wait for the new one rather than attach to the old again.
        if (s.session_id() == 0) wait = std::max<std::chrono::milliseconds>(wait, std::chrono::seconds(10));
        return wait_until(moved, wait);
      },
      "force_expiry");
}

void expire_for_good(const session& s, const std::string& hosts, const state_recorder& states) {
  end_from_outside(
      s, hosts, [&](std::chrono::milliseconds wait) { return states.wait_for(session_state::expired, wait); },
      "expire_for_good");
}

session_options test_options(const std::string& hosts) {
  session_options o;
  o.hosts = hosts;
  o.session_timeout = std::chrono::milliseconds(4000);
  o.operation_timeout = std::chrono::milliseconds(10000);
  return o;
}

std::unique_ptr<session> connect_session(const std::string& hosts, std::chrono::milliseconds session_timeout) {
  auto options = test_options(hosts);
  options.session_timeout = session_timeout;
  auto s = std::make_unique<session>(options);
  s->wait_connected(std::chrono::seconds(15));
  return s;
}

state_recorder::state_recorder(session& s) {
  s.add_listener([log = log_](const session_event& e) {
    std::lock_guard lock(log->mutex);
    log->events.push_back(e);
    log->changed.notify_all();
  });
}

std::vector<session_state> state_recorder::states() const {
  std::lock_guard lock(log_->mutex);
  std::vector<session_state> out;
  for (auto& e : log_->events) out.push_back(e.state);
  return out;
}

int state_recorder::count(session_state state) const {
  std::lock_guard lock(log_->mutex);
  int n = 0;
  for (auto& e : log_->events) n += e.state == state;
  return n;
}

bool state_recorder::wait_for(session_state state, std::chrono::milliseconds timeout, int count) const {
  std::unique_lock lock(log_->mutex);
  return log_->changed.wait_for(lock, timeout, [&] {
    int n = 0;
    for (auto& e : log_->events) n += e.state == state;
    return n >= count;
  });
}

session_event state_recorder::last() const {
  std::lock_guard lock(log_->mutex);
  return log_->events.empty() ? session_event{session_state::connecting} : log_->events.back();
}

int unused_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace nominee::testing
