// The distributed lock against a real ZooKeeper.
#include <nominee/lock.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }
  std::unique_ptr<session> connect() { return connect_session(hosts_); }
  lock_options options(const std::string& owner = "") { return {root_, "inventory", owner}; }
  std::string hosts_;
  std::string root_;
};

TEST_F(LockTest, MutualExclusionUnderContention) {
  constexpr int workers = 5;
  constexpr int rounds = 12;
  struct entry {
    std::chrono::steady_clock::time_point in, out;
    std::int64_t token;
  };
  std::mutex history_mutex;
  std::vector<entry> history;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};

  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto s = connect();
      distributed_lock lock(*s, options("worker-" + std::to_string(w)));
      for (int r = 0; r < rounds; ++r) {
        auto acquired = lock.async_lock(use_future);
        std::int64_t token = 0;
        try {
          token = get_within(acquired, 30s);
        } catch (const std::exception&) {
          ++failures;
          return;
        }
        auto in = std::chrono::steady_clock::now();
        if (inside.fetch_add(1) != 0) ++overlaps;
        std::this_thread::sleep_for(1ms);  // work inside the critical section
        inside.fetch_sub(1);
        auto out = std::chrono::steady_clock::now();
        {
          std::lock_guard lock_history(history_mutex);
          history.push_back({in, out, token});
        }
        lock.unlock();
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0) << "a lock request did not complete in time";
  EXPECT_EQ(overlaps.load(), 0) << "two holders at once";
  ASSERT_EQ(history.size(), static_cast<std::size_t>(workers * rounds));
  // The history checker: sorted by entry, each section ends before the next
  // begins, and the fencing tokens only grow.
  std::sort(history.begin(), history.end(), [](auto& a, auto& b) { return a.in < b.in; });
  for (std::size_t i = 1; i < history.size(); ++i) {
    EXPECT_LE(history[i - 1].out, history[i].in) << "sections " << i - 1 << " and " << i << " overlap";
    EXPECT_GT(history[i].token, history[i - 1].token) << "token went backwards at " << i;
  }
}

TEST_F(LockTest, TryLockGivesUpAndLeavesTheQueue) {
  auto a = connect();
  auto b = connect();
  distributed_lock first(*a, options("a"));
  auto held = first.async_lock(use_future);
  auto token = get_within(held);
  EXPECT_GT(token, 0);
  EXPECT_TRUE(first.held());
  EXPECT_EQ(first.token(), token);

  distributed_lock second(*b, options("b"));
  auto started = std::chrono::steady_clock::now();
  auto attempt = second.async_try_lock(300ms, use_future);
  try {
    get_within(attempt);
    FAIL() << "got a held lock";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::deadline_exceeded);
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
  // It left the queue: only the holder's node remains.
  ASSERT_TRUE(wait_until(
      [&] {
        auto kids = b->async_get_children(root_ + "/locks/inventory", use_future);
        return get_within(kids).names.size() == 1;
      },
      10s));

  first.unlock();
  auto now_free = second.async_try_lock(10s, use_future);
  EXPECT_GT(get_within(now_free), token) << "the next holder's token is larger";
}

TEST_F(LockTest, OneRequestAtATimeAndUnlockCancelsAWaiter) {
  auto a = connect();
  auto b = connect();
  distributed_lock holder(*a, options());
  auto h = holder.async_lock(use_future);
  get_within(h);

  distributed_lock waiter(*b, options());
  auto pending = waiter.async_lock(use_future);
  auto again = waiter.async_lock(use_future);
  try {
    get_within(again);
    FAIL() << "a second request while one is pending";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::in_progress);
  }
  waiter.unlock();
  try {
    get_within(pending);
    FAIL() << "unlock should cancel the pending request";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::operation_canceled);
  }
}

TEST_F(LockTest, SuspensionLosesTheLock) {
  zookeeper_cluster own{zookeeper_options{}};
  auto o = test_options(own.connect_string());
  o.session_timeout = 15000ms;
  session s(o);
  s.wait_connected(15s);
  std::promise<revoke_reason> lost;
  distributed_lock lock(s, options(), [&](revoke_reason r) { lost.set_value(r); });
  auto h = lock.async_lock(use_future);
  get_within(h);
  own.stop(0);
  auto f = lost.get_future();
  EXPECT_EQ(get_within(f, 15s), revoke_reason::suspended);
  EXPECT_FALSE(lock.held());
  EXPECT_FALSE(lock.token().has_value());
  own.start(0);
  ASSERT_TRUE(wait_until([&] { return s.state() == session_state::reconnected; }, 20s));
  EXPECT_FALSE(lock.held()) << "not taken again behind the caller's back";
  auto again = lock.async_lock(use_future);
  EXPECT_GT(get_within(again, 20s), 0);
}

TEST_F(LockTest, BadNamesAreRefused) {
  auto s = connect();
  for (const char* name : {"", "a/b", "..", "x\ny"}) {
    try {
      distributed_lock l(*s, {root_, name, ""});
      ADD_FAILURE() << "accepted lock name '" << name << "'";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::invalid_name);
      EXPECT_NE(std::string(e.what()).find("lock_options.name"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace nominee::testing
