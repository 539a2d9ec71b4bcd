#pragma once
// What the integration suites share: one real ZooKeeper server per test
// binary, a fresh root per test, and waiting on conditions with deadlines.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nominee/session.hpp>

#include "zookeeper_launcher.hpp"

namespace nominee::testing {

// The standalone server every test of this binary talks to, started on
// first use and killed (by PID) when the binary exits. Fails the test with
// the launcher's message (how to install Java or the server) if it cannot start.
zookeeper_cluster& shared_zookeeper();

// A root no other test uses: "/<test-suite>.<test-name>-<n>".
std::string unique_root();

// Polls cond every few milliseconds until it holds or timeout passes.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// Ends s's session from the outside, the way a server expiry does: a second
// client attaches to the same session id and password, then closes it.
// Returns once s is on a new session (so s must reconnect after expiry).
void force_expiry(const session& s, const std::string& hosts);

class state_recorder;
// The same for a session that does not come back (reconnect_after_expiry =
// false), like a process that died: done once `states` saw it expire.
void expire_for_good(const session& s, const std::string& hosts, const state_recorder& states);

// A loopback port nothing listens on (bound, then released).
int unused_loopback_port();

// Session options for tests: short timeouts, the shared server.
session_options test_options(const std::string& hosts);

// A session on hosts with the given session timeout, connected (or the
// test fails with nominee::error naming the hosts).
std::unique_ptr<session> connect_session(const std::string& hosts,
                                         std::chrono::milliseconds session_timeout = std::chrono::milliseconds(4000));

// Records a session's state events, for assertions on order and timing.
class state_recorder {
 public:
  explicit state_recorder(session& s);
  std::vector<session_state> states() const;
  // Waits until `state` has been seen at least `count` times.
  bool wait_for(session_state state, std::chrono::milliseconds timeout, int count = 1) const;
  int count(session_state state) const;
  session_event last() const;

 private:
  // Shared with the listener, which may outlive the recorder (the session
  // reports `closed` after the test body's locals are gone).
  struct log {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<session_event> events;
  };
  std::shared_ptr<log> log_ = std::make_shared<log>();
};

// Events appended from callbacks on other threads, read by the test. Held
// by shared_ptr in the callbacks, so it outlives a callback that runs late.
template <class T>
class event_store {
 public:
  void add(T item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
  }
  std::vector<T> get() const {
    std::lock_guard lock(mutex_);
    return items_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> items_;
};

// A future's result within a deadline, or a test failure that says so.
template <class T>
T get_within(std::future<T>& f, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  if (f.wait_for(timeout) != std::future_status::ready)
    throw std::runtime_error("operation did not complete within " + std::to_string(timeout.count()) + " ms");
  return f.get();
}

}  // namespace nominee::testing
