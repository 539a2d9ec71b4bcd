// Range leases against a real ZooKeeper, in one process: bad input, unique
// values across consumers and a session expiry, a fast consumer's lease
// growing and an idle one's shrinking, a returned tail granted again, and
// the error a used-up space gives. (Kill -9 of the coordinator and of a
// consumer: range_churn_test.)
#include <nominee/ranges.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

class RangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
  }

  range_consumer_options options(const std::string& id, range_space_config config, bool coordinator = false) {
    range_consumer_options o;
    o.root = root_;
    o.space = "ids";
    o.consumer_id = id;
    o.config = config;
    o.stand_for_coordinator = coordinator;
    o.wait_timeout = 20s;
    return o;
  }

  range_coordinator_options coordinator_options(const std::string& member, range_space_config config) {
    range_coordinator_options o;
    o.root = root_;
    o.space = "ids";
    o.member_id = member;
    o.config = config;
    return o;
  }

  bool root_exists(session& s) {
    auto f = s.async_exists(root_, use_future);
    return get_within(f).has_value();
  }

  std::vector<std::string> free_nodes(session& s) {
    auto f = s.async_get_children(root_ + "/spaces/ids/free", use_future);
    return get_within(f).names;
  }

  std::string hosts_;
  std::string root_;
};

// The message of the nominee::error that f throws (and its code).
template <class F>
std::pair<std::error_code, std::string> thrown_by(F f) {
  try {
    f();
  } catch (const error& e) {
    return {e.code(), e.what()};
  }
  return {{}, ""};
}

TEST_F(RangesTest, BadInputIsRefusedBeforeAnythingIsSent) {
  auto s = connect_session(hosts_);
  range_space_config good{0, 100, 1, 10, 500ms};

  auto empty_name = options("c1", good);
  empty_name.space = "";
  auto [ec1, what1] = thrown_by([&] { range_consumer c(*s, empty_name); });
  EXPECT_EQ(ec1, make_error_code(errc::invalid_name));
  EXPECT_NE(what1.find("range_consumer_options.space"), std::string::npos) << what1;

  auto [ec2, what2] = thrown_by([&] { range_consumer c(*s, options("c1", {50, 50, 1, 10, 500ms})); });
  EXPECT_EQ(ec2, make_error_code(errc::invalid_option));
  EXPECT_NE(what2.find("range_consumer_options.config.lo '50'"), std::string::npos) << what2;
  EXPECT_NE(what2.find("empty"), std::string::npos) << what2;

  auto [ec3, what3] = thrown_by([&] { range_consumer c(*s, options("c1", {90, 10, 1, 10, 500ms})); });
  EXPECT_EQ(ec3, make_error_code(errc::invalid_option));
  EXPECT_NE(what3.find("lo '90'"), std::string::npos) << what3;
  EXPECT_NE(what3.find("hi (10)"), std::string::npos) << what3;

  auto [ec4, what4] = thrown_by([&] { range_consumer c(*s, options("c1", {0, 100, 20, 10, 500ms})); });
  EXPECT_EQ(ec4, make_error_code(errc::invalid_option));
  EXPECT_NE(what4.find("range_consumer_options.config.min_block '20'"), std::string::npos) << what4;

  auto [ec5, what5] = thrown_by([&] { range_coordinator c(*s, coordinator_options("m1", {0, 100, 20, 10, 500ms})); });
  EXPECT_EQ(ec5, make_error_code(errc::invalid_option));
  EXPECT_NE(what5.find("range_coordinator_options.config.min_block '20'"), std::string::npos) << what5;

  auto bad_id = options("a/b", good);
  auto [ec6, what6] = thrown_by([&] { range_consumer c(*s, bad_id); });
  EXPECT_EQ(ec6, make_error_code(errc::invalid_name));
  EXPECT_NE(what6.find("range_consumer_options.consumer_id"), std::string::npos) << what6;

  EXPECT_FALSE(root_exists(*s)) << "a refused constructor must not have sent anything";
}

TEST_F(RangesTest, ConcurrentConsumersNeverSeeAValueTwice) {
  range_space_config config{1'000, 10'000'000, 8, 4096, 300ms};
  auto coordinator_session = connect_session(hosts_);
  range_coordinator coordinator(*coordinator_session, coordinator_options("m1", config));
  constexpr int consumers = 3;
  constexpr int threads_per_consumer = 2;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<std::unique_ptr<range_consumer>> cs;
  for (int i = 0; i < consumers; ++i) {
    sessions.push_back(connect_session(hosts_));
    cs.push_back(std::make_unique<range_consumer>(*sessions.back(), options("c" + std::to_string(i), config)));
  }
  std::mutex mutex;
  std::vector<std::uint64_t> all;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  auto until = std::chrono::steady_clock::now() + 2s;
  for (int i = 0; i < consumers; ++i)
    for (int t = 0; t < threads_per_consumer; ++t)
      threads.emplace_back([&, i] {
        std::vector<std::uint64_t> mine;
        for (int n = 0; n < 200'000 && std::chrono::steady_clock::now() < until; ++n) {
          try {
            mine.push_back(cs[i]->next());
          } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
            ++failures;
            break;
          }
          if (n % 1024 == 1023) std::this_thread::sleep_for(100us);
        }
        std::lock_guard lock(mutex);
        all.insert(all.end(), mine.begin(), mine.end());
      });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_GT(all.size(), 10'000u);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a value was handed out twice";
  EXPECT_GE(all.front(), config.lo);
  EXPECT_LT(all.back(), config.hi);
  std::uint64_t drawn = 0;
  for (auto& c : cs) drawn += c->statistics().values;
  EXPECT_EQ(drawn, all.size());
  EXPECT_TRUE(coordinator.is_coordinator());
  EXPECT_GT(coordinator.statistics().grants, 0u);
  cs.clear();
}

TEST_F(RangesTest, ValuesStayUniqueAcrossAConsumerSessionExpiry) {
  range_space_config config{0, 1'000'000'000, 16, 1024, 300ms};
  auto s = connect_session(hosts_);
  range_consumer c(*s, options("c0", config, /*coordinator=*/true));
  std::vector<std::uint64_t> values;
  auto draw_for = [&](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    for (int n = 0; n < 10'000'000 && std::chrono::steady_clock::now() < until; ++n) {
      values.push_back(c.next());
      if (n % 256 == 255) std::this_thread::sleep_for(200us);
    }
  };
  draw_for(700ms);
  auto before = s->session_id();
  force_expiry(*s, hosts_);
  EXPECT_NE(s->session_id(), before);
  draw_for(700ms);
  // The consumer registered again and kept getting leases on the new session.
  ASSERT_TRUE(wait_until([&] { return c.is_coordinator(); }, 20s));
  draw_for(700ms);
  auto lease = c.current_lease();
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->session_id, s->session_id());
  std::sort(values.begin(), values.end());
  EXPECT_EQ(std::adjacent_find(values.begin(), values.end()), values.end()) << "a value was handed out twice";
}

TEST_F(RangesTest, FastLeaseGrowsIdleShrinksAndItsTailIsGrantedAgain) {
  range_space_config config{0, 1'000'000'000, 10, 20'000, 400ms};
  auto cs = connect_session(hosts_);
  range_coordinator coordinator(*cs, coordinator_options("m1", config));
  auto s1 = connect_session(hosts_);
  auto c1 = std::make_unique<range_consumer>(*s1, options("fast", config));

  // Fast: every lease is used up well within half the target: it doubles.
  std::set<std::uint64_t> seen;
  auto until = std::chrono::steady_clock::now() + 20s;
  std::uint64_t grown = 0;
  for (int n = 0; n < 50'000'000 && std::chrono::steady_clock::now() < until; ++n) {
    seen.insert(c1->next());
    if (n % 1000 == 999) {
      grown = c1->statistics().block_size;
      if (grown >= 640) break;  // six doublings
    }
  }
  EXPECT_GE(grown, 640u) << "the fast consumer's lease did not grow";
  auto lease = c1->current_lease();
  ASSERT_TRUE(lease);
  EXPECT_GT(lease->hi - lease->lo, 10u);

  // Idle: after twice the target it gives the tail back and is halved. (A
  // grant still in flight may double the size once more before that.)
  std::uint64_t peak = 0, now = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        auto st = c1->statistics();
        now = st.block_size;
        peak = std::max(peak, now);
        return st.returned_values > 0 && now < peak;
      },
      20s))
      << "the idle consumer gave nothing back or its size did not shrink from " << peak;
  EXPECT_EQ(now, std::max<std::uint64_t>(config.min_block, peak / 2));
  std::vector<std::string> free;
  ASSERT_TRUE(wait_until([&] { return !(free = free_nodes(*cs)).empty(); }, 20s)) << "the tail never reached free/";
  std::sort(free.begin(), free.end());
  auto tail_lo = std::stoull(free.front().substr(0, 20));
  EXPECT_EQ(seen.count(tail_lo), 0u) << "the returned tail starts at a value that was handed out";
  auto lease_after = c1->current_lease();
  ASSERT_TRUE(lease_after);
  EXPECT_EQ(lease_after->next, lease_after->hi) << "the cut lease must hand out nothing more";

  // Someone else gets the returned tail: free ranges are granted first.
  auto s2 = connect_session(hosts_);
  range_consumer c2(*s2, options("other", config));
  auto first = c2.next();
  EXPECT_EQ(first, tail_lo) << "the reclaimed tail was not granted again";
  EXPECT_EQ(seen.count(first), 0u);
  EXPECT_TRUE(wait_until([&] { return coordinator.statistics().reclaimed_values > 0; }, 10s));

  // And the idle consumer, used again, gets fresh values, none seen before.
  for (int i = 0; i < 100; ++i) {
    auto v = c1->next();
    EXPECT_TRUE(seen.insert(v).second) << v << " handed out twice";
    EXPECT_NE(v, first);
  }
}

TEST_F(RangesTest, AUsedUpSpaceGivesAClearError) {
  range_space_config config{500, 600, 10, 10, 300ms};
  auto s = connect_session(hosts_);
  range_consumer c(*s, options("c0", config, /*coordinator=*/true));
  std::set<std::uint64_t> values;
  for (int i = 0; i < 100; ++i) values.insert(c.next());
  EXPECT_EQ(values.size(), 100u);
  EXPECT_EQ(*values.begin(), 500u);
  EXPECT_EQ(*values.rbegin(), 599u);
  auto [ec, what] = thrown_by([&] { c.next(10s); });
  EXPECT_EQ(ec, make_error_code(errc::space_exhausted)) << what;
  EXPECT_NE(what.find("[500, 600)"), std::string::npos) << what;
  EXPECT_NE(what.find("'ids'"), std::string::npos) << what;
  std::uint64_t v = 0;
  EXPECT_EQ(c.try_next(v), make_error_code(errc::space_exhausted));
}

TEST_F(RangesTest, TheStoredConfigWinsAndTryNextNeverWaits) {
  auto s = connect_session(hosts_);
  range_space_config first{0, 1000, 10, 100, 300ms};
  range_space_config second{5000, 9000, 1, 1, 300ms};
  range_consumer a(*s, options("a", first, /*coordinator=*/true));
  EXPECT_LT(a.next(), 1000u);
  range_consumer b(*s, options("b", second));
  ASSERT_TRUE(wait_until([&] { return b.stored_config().has_value(); }, 10s));
  EXPECT_EQ(b.stored_config()->hi, 1000u);
  std::uint64_t v = 0;
  std::error_code ec;
  ASSERT_TRUE(wait_until([&] { return !(ec = b.try_next(v)); }, 10s)) << ec.message();
  EXPECT_LT(v, 1000u);
}

// Regression: a consumer object reusing the id of a destroyed one on the
// same session must not take the grant queued for (and drawn from by) the
// first: grants name the registration (the consumer node's czxid).
TEST_F(RangesTest, ASecondConsumerObjectWithTheSameIdAndSessionNeverTakesTheFirstOnesGrant) {
  // Big leases, long target: the first object's report still says
  // taken = 0 when it is destroyed, so its grant stays queued.
  range_space_config config{0, 1'000'000, 1000, 1000, 10s};
  auto cs = connect_session(hosts_);
  range_coordinator coordinator(*cs, coordinator_options("m1", config));
  auto s = connect_session(hosts_);
  std::set<std::uint64_t> seen;
  for (int round = 0; round < 3; ++round) {
    range_consumer c(*s, options("x", config));
    for (int i = 0; i < 3; ++i) {
      auto v = c.next();
      EXPECT_TRUE(seen.insert(v).second) << v << " handed out twice (object " << round << ")";
    }
  }
  EXPECT_EQ(seen.size(), 9u);
}

// Regression: destroying a consumer while another thread waits in next()
// wakes it with errc::cancelled; the waiter must not touch the destroyed
// object (ASan/TSan builds catch a use after free here).
TEST_F(RangesTest, DestroyingAConsumerWhileNextWaitsCancelsTheWait) {
  range_space_config config{0, 1000, 10, 10, 300ms};
  auto s = connect_session(hosts_);
  // No coordinator anywhere: no grant ever comes, next() waits.
  auto c = std::make_unique<range_consumer>(*s, options("lonely", config));
  range_consumer* raw = c.get();
  // Several waiters: on two cores some of them wake only after the
  // destructor has returned.
  constexpr int waiters = 8;
  std::atomic<int> entered{0};
  std::vector<std::error_code> got(waiters);
  std::vector<std::thread> threads;
  for (int i = 0; i < waiters; ++i)
    threads.emplace_back([&, i] {
      ++entered;
      try {
        raw->next(30s);
      } catch (const error& e) {
        got[i] = e.code();
      }
    });
  ASSERT_TRUE(wait_until([&] { return entered.load() == waiters; }, 10s));
  std::this_thread::sleep_for(300ms);  // well inside next()'s wait
  auto t0 = std::chrono::steady_clock::now();
  c.reset();
  for (auto& t : threads) t.join();
  for (const auto& ec : got) EXPECT_EQ(ec, make_error_code(errc::cancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

// Regression: a consumer that used up the space and then went idle (its
// report then says it wants nothing) asks again when next() is called, so a
// tail another consumer returns later is still granted to it.
TEST_F(RangesTest, AnIdleExhaustedConsumerStillGetsATailReturnedLater) {
  range_space_config config{0, 1000, 100, 100, 200ms};
  auto cs = connect_session(hosts_);
  range_coordinator coordinator(*cs, coordinator_options("m1", config));
  auto sb = connect_session(hosts_);
  auto b = std::make_unique<range_consumer>(*sb, options("b", config));
  std::set<std::uint64_t> seen;
  std::mutex mutex;
  auto remember = [&](std::uint64_t v) {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(seen.insert(v).second) << v << " handed out twice";
  };
  remember(b->next());  // b holds a lease of 100 and stays busy: never idle
  std::atomic<bool> stop_b{false};
  std::thread busy([&] {
    while (!stop_b) {
      remember(b->next());
      std::this_thread::sleep_for(100ms);
    }
  });

  auto sa = connect_session(hosts_);
  range_consumer a(*sa, options("a", config));
  std::error_code end;
  for (int i = 0; i < 2000 && !end; ++i) {
    try {
      remember(a.next(10s));
    } catch (const error& e) {
      end = e.code();
    }
  }
  ASSERT_EQ(end, make_error_code(errc::space_exhausted));
  // a goes idle (twice the target without a draw) and its report says so.
  auto report_of_a = [&] {
    auto f = cs->async_get(root_ + "/spaces/ids/consumers/a", use_future);
    return get_within(f).data;
  };
  ASSERT_TRUE(wait_until([&] { return report_of_a().find("\"want\":false") != std::string::npos; }, 10s))
      << report_of_a();

  // Only now b goes idle and returns its tail.
  stop_b = true;
  busy.join();
  ASSERT_TRUE(wait_until([&] { return !free_nodes(*cs).empty(); }, 10s)) << "b's tail never reached free/";

  std::uint64_t v = 0;
  std::error_code ec;
  ASSERT_TRUE(wait_until([&] { return !(ec = a.try_next(v)); }, 10s))
      << "the returned tail was never granted to the exhausted consumer: " << ec.message();
  remember(v);
  EXPECT_LT(v, 100u) << "not from b's returned tail";
}

// Regression: while the current lease has values left, try_next() never
// fails, however many threads contend for them.
TEST_F(RangesTest, TryNextNeverFailsWhileTheLeaseHasValuesLeft) {
  range_space_config config{0, 1'000'000'000, 1'000'000, 1'000'000, 60s};
  auto s = connect_session(hosts_);
  range_consumer c(*s, options("busy", config, /*coordinator=*/true));
  auto first = c.next();
  auto lease = c.current_lease();
  ASSERT_TRUE(lease);
  ASSERT_EQ(lease->hi - lease->lo, 1'000'000u);
  constexpr int threads = 8;
  constexpr int per_thread = 50'000;  // all together well under the lease
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::vector<std::uint64_t> all{first};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      std::vector<std::uint64_t> mine;
      mine.reserve(per_thread);
      for (int n = 0; n < per_thread; ++n) {
        std::uint64_t v = 0;
        if (c.try_next(v)) {
          ++failures;
          continue;
        }
        mine.push_back(v);
      }
      std::lock_guard lock(mutex);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0) << "try_next failed although the lease had values left";
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a value was handed out twice";
  EXPECT_LT(all.back(), lease->hi);
}

// Regression: a consumer destroyed while its report write is in flight
// still removes its node, so a new object with the same id on the same
// session can register (it would wait for the session's end otherwise).
TEST_F(RangesTest, AConsumerDestroyedWhileReportingLeavesItsId) {
  range_space_config config{0, 1'000'000'000, 4, 4, 10s};
  auto cs = connect_session(hosts_);
  range_coordinator coordinator(*cs, coordinator_options("m1", config));
  auto s = connect_session(hosts_);
  std::set<std::uint64_t> seen;
  for (int round = 0; round < 20; ++round) {
    auto o = options("x", config);
    o.wait_timeout = 5s;
    range_consumer c(*s, o);
    // The third value passes the half of a 4-value lease: a report (a
    // request for the next lease) is written as the object goes away.
    for (int i = 0; i < 3; ++i) {
      std::uint64_t v = 0;
      try {
        v = c.next();
      } catch (const error& e) {
        FAIL() << "round " << round << ": " << e.what();
      }
      EXPECT_TRUE(seen.insert(v).second) << v << " handed out twice";
    }
  }
}

// Regression: a consumer whose handling keeps failing (here: its lease
// node may not be written, so every grant's multi fails) must not block the
// grants of the others: a failed consumer goes to the back of the queue,
// and is parked after repeated identical failures.
TEST_F(RangesTest, APersistentlyFailingConsumerDoesNotBlockTheOthers) {
  range_space_config config{0, 1'000'000, 4, 4, 10s};
  auto cs = connect_session(hosts_);
  range_coordinator coordinator(*cs, coordinator_options("m1", config));
  auto sb = connect_session(hosts_);
  auto o = options("b", config);
  o.wait_timeout = 5s;
  range_consumer b(*sb, o);
  std::set<std::uint64_t> seen;
  seen.insert(b.next());  // the space (and leases/) exists now

  // "a" sorts first and asks for a grant that can never be written.
  auto sa = connect_session(hosts_);
  auto base = root_ + "/spaces/ids";
  create_options read_only;
  read_only.acl = acl{acl_entry{perm::read | perm::remove | perm::admin, "world", "anyone"}};
  auto f1 = cs->async_create(base + "/leases/a",
                             R"({"block":4,"next_n":1,"grants":[],"sized_n":0,"ret_czxid":0,"ret_seq":0,"exhausted":false})",
                             read_only, use_future);
  get_within(f1);
  auto report = R"({"session":)" + std::to_string(sa->session_id()) +
                R"(,"instance":1,"taken":0,"want":true,"used_n":0,"used_ms":-1,"rate":0,"drawn":0,"returns":[]})";
  auto f2 = sa->async_create(base + "/consumers/a", report, create_options{create_mode::ephemeral, {}, {}}, use_future);
  get_within(f2);
  std::this_thread::sleep_for(200ms);  // a is failing by now

  // b keeps getting leases of 4 values: many grants while a fails.
  for (int i = 0; i < 100; ++i) {
    std::uint64_t v = 0;
    try {
      v = b.next();
    } catch (const error& e) {
      FAIL() << "value " << i << ": " << e.what();
    }
    EXPECT_TRUE(seen.insert(v).second) << v << " handed out twice";
  }
}

}  // namespace
}  // namespace nominee::testing
