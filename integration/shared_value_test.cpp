// Shared values against a real ZooKeeper: initialize-if-absent, CAS by
// version, updates from many sessions that never lose one, the integer and
// prefix helpers within their bounds, the watch, and bad input.
#include <nominee/shared_value.hpp>

#include <future>
#include <set>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "fault_injection.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

class SharedValueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
    session_ = connect_session(hosts_);
  }
  shared_value_options options(const std::string& name = "counter") {
    shared_value_options o;
    o.root = root_;
    o.name = name;
    return o;
  }
  // The error code a request completed with (ok when it succeeded).
  template <class Start>
  static std::error_code outcome(Start start) {
    try {
      auto f = start();
      get_within(f);
      return {};
    } catch (const std::system_error& e) {
      return e.code();
    }
  }
  std::string hosts_;
  std::string root_;
  std::unique_ptr<session> session_;
};

TEST_F(SharedValueTest, InitializeCreatesOnlyWhenAbsent) {
  shared_value value(*session_, options());
  EXPECT_EQ(outcome([&] { return value.async_read(use_future); }), errc::no_node);

  auto first = value.async_initialize("7", use_future);
  auto created = get_within(first);
  EXPECT_EQ(created.value, "7");
  EXPECT_EQ(created.version, 0);

  shared_value other(*session_, options());
  auto second = other.async_initialize("99", use_future);
  auto existing = get_within(second);
  EXPECT_EQ(existing.value, "7") << "a second initialize keeps the value that was there";

  auto read = value.async_read(use_future);
  EXPECT_EQ(get_within(read).value, "7");
}

TEST_F(SharedValueTest, CompareAndSetOnlyFromTheExpectedVersion) {
  shared_value value(*session_, options());
  auto init = value.async_initialize("a", use_future);
  auto v0 = get_within(init);

  auto set = value.async_compare_and_set("b", v0.version, use_future);
  auto v1 = get_within(set);
  EXPECT_EQ(v1.value, "b");
  EXPECT_EQ(v1.version, v0.version + 1);

  EXPECT_EQ(outcome([&] { return value.async_compare_and_set("c", v0.version, use_future); }), errc::bad_version)
      << "a stale version must not overwrite";
  auto read = value.async_read(use_future);
  EXPECT_EQ(get_within(read).value, "b");
}

// Ten increases at once, from five sessions: CAS retries make every one
// count, so the sum is exact.
TEST_F(SharedValueTest, ConcurrentIncreasesEndAtTheExactSum) {
  shared_value seed(*session_, options());
  auto init = seed.async_initialize("0", use_future);
  get_within(init);

  constexpr int sessions = 5, per_session = 2;
  std::vector<std::unique_ptr<session>> clients;
  std::vector<std::unique_ptr<shared_value>> values;
  for (int i = 0; i < sessions; ++i) {
    clients.push_back(connect_session(hosts_));
    for (int j = 0; j < per_session; ++j) values.push_back(std::make_unique<shared_value>(*clients.back(), options()));
  }
  std::vector<std::future<versioned_value>> increases;
  for (std::size_t i = 0; i < values.size(); ++i)
    increases.push_back(values[i]->async_increase(static_cast<std::int64_t>(i + 1), 1'000'000, use_future));
  std::set<std::int32_t> versions;
  for (auto& f : increases) versions.insert(get_within(f, 30s).version);

  auto read = seed.async_read(use_future);
  auto final_value = get_within(read);
  EXPECT_EQ(final_value.value, "55") << "1 + 2 + ... + 10";
  EXPECT_EQ(final_value.version, 10);
  EXPECT_EQ(versions.size(), 10u) << "each increase wrote its own version";
}

TEST_F(SharedValueTest, IncreaseAndDecreaseStayWithinCeilingAndFloor) {
  shared_value value(*session_, options());
  auto init = value.async_initialize("8", use_future);
  get_within(init);

  auto up = value.async_increase(5, 10, use_future);
  EXPECT_EQ(get_within(up).value, "10") << "clamped at the ceiling";
  auto again = value.async_increase(1, 10, use_future);
  auto at_ceiling = get_within(again);
  EXPECT_EQ(at_ceiling.value, "10");
  EXPECT_EQ(at_ceiling.version, 1) << "at the ceiling nothing is written";

  auto down = value.async_decrease(25, -3, use_future);
  EXPECT_EQ(get_within(down).value, "-3") << "clamped at the floor";
  auto big = value.async_decrease(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                                  use_future);
  EXPECT_EQ(get_within(big).value, std::to_string(std::numeric_limits<std::int64_t>::min()))
      << "an overflow on the way down stops at the floor";
}

TEST_F(SharedValueTest, ANonNumberIsRefusedUnwritten) {
  shared_value value(*session_, options());
  auto init = value.async_initialize("12 apples", use_future);
  get_within(init);
  EXPECT_EQ(outcome([&] { return value.async_increase(1, 100, use_future); }), errc::not_a_number);
  auto read = value.async_read(use_future);
  auto now = get_within(read);
  EXPECT_EQ(now.value, "12 apples");
  EXPECT_EQ(now.version, 0);
}

TEST_F(SharedValueTest, PrefixLengthensAndShortensWithinBounds) {
  shared_value value(*session_, options("difficulty"));
  auto init = value.async_initialize("00", use_future);
  get_within(init);
  prefix_bounds bounds{"0", 1, 3};

  auto longer = value.async_lengthen(bounds, use_future);
  EXPECT_EQ(get_within(longer).value, "000");
  auto capped = value.async_lengthen(bounds, use_future);
  EXPECT_EQ(get_within(capped).value, "000") << "max_units holds";
  for (int i = 0; i < 3; ++i) {
    auto shorter = value.async_shorten(bounds, use_future);
    get_within(shorter);
  }
  auto read = value.async_read(use_future);
  EXPECT_EQ(get_within(read).value, "0") << "min_units holds";

  shared_value other(*session_, options("not-a-prefix"));
  auto init_other = other.async_initialize("0x0", use_future);
  get_within(init_other);
  EXPECT_EQ(outcome([&] { return other.async_lengthen(bounds, use_future); }), errc::invalid_option);
}

// Appends from four sessions at once: with a get-then-set some would be
// lost; with CAS every one is in the final text.
TEST_F(SharedValueTest, ConcurrentUpdatesNeverLoseOne) {
  shared_value seed(*session_, options("log"));
  auto init = seed.async_initialize("", use_future);
  get_within(init);
  std::vector<std::unique_ptr<session>> clients;
  std::vector<std::unique_ptr<shared_value>> values;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect_session(hosts_));
    values.push_back(std::make_unique<shared_value>(*clients.back(), options("log")));
  }
  std::vector<std::future<versioned_value>> updates;
  for (int round = 0; round < 5; ++round)
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto mark = std::string(1, static_cast<char>('a' + i)) + std::to_string(round) + ";";
      updates.push_back(values[i]->async_update(
          [mark](const versioned_value& current) { return std::optional<std::string>(current.value + mark); },
          use_future));
    }
  for (auto& f : updates) get_within(f, 30s);
  auto read = seed.async_read(use_future);
  auto text = get_within(read).value;
  for (int round = 0; round < 5; ++round)
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto mark = std::string(1, static_cast<char>('a' + i)) + std::to_string(round) + ";";
      EXPECT_NE(text.find(mark), std::string::npos) << mark << " was lost: " << text;
    }
  EXPECT_EQ(text.size(), 20u * 3u);
}

TEST_F(SharedValueTest, OnChangeSeesTheLatestValue) {
  auto seen = std::make_shared<event_store<versioned_value>>();
  shared_value watcher(*session_, options(), [seen](const versioned_value& v) { seen->add(v); });
  ASSERT_TRUE(wait_until([&] { return !seen->get().empty(); }, 15s)) << "the first delivery: absent";
  EXPECT_FALSE(seen->get().front().exists());

  auto writer_session = connect_session(hosts_);
  shared_value writer(*writer_session, options());
  auto init = writer.async_initialize("1", use_future);
  get_within(init);
  for (int i = 0; i < 5; ++i) {
    auto up = writer.async_increase(1, 100, use_future);
    get_within(up);
  }
  ASSERT_TRUE(wait_until([&] { return !seen->get().empty() && seen->get().back().value == "6"; }, 15s))
      << "last seen: " << seen->get().back().value;
  auto versions = seen->get();
  for (std::size_t i = 1; i < versions.size(); ++i)
    EXPECT_LT(versions[i - 1].version, versions[i].version) << "deliveries in version order";
  ASSERT_TRUE(watcher.last_seen().has_value());
  EXPECT_EQ(watcher.last_seen()->version, 5);
}

TEST_F(SharedValueTest, BadInputIsRefusedBeforeAnythingIsSent) {
  auto message_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message_of([&] { shared_value v(*session_, options("a/b")); }).find("a/b"), std::string::npos);
  EXPECT_NE(message_of([&] { shared_value v(*session_, options("")); }).find("shared_value_options.name"),
            std::string::npos);
  auto bad_root = options();
  bad_root.root = "relative";
  EXPECT_NE(message_of([&] { shared_value v(*session_, bad_root); }).find("relative"), std::string::npos);

  shared_value value(*session_, options());
  EXPECT_NE(message_of([&] { value.async_increase(-1, 10, use_future); }).find("delta '-1'"), std::string::npos);
  EXPECT_NE(message_of([&] { value.async_decrease(-2, 0, use_future); }).find("delta '-2'"), std::string::npos);
  EXPECT_NE(message_of([&] { value.async_lengthen(prefix_bounds{"0", 5, 2}, use_future); }).find("min_units"),
            std::string::npos);
  EXPECT_NE(message_of([&] { value.async_shorten(prefix_bounds{"", 1, 2}, use_future); }).find("unit"),
            std::string::npos);
  EXPECT_NE(message_of([&] { value.async_compare_and_set("x", -1, use_future); }).find("expected_version"),
            std::string::npos);
  // Nothing was sent: the value is still absent.
  EXPECT_EQ(outcome([&] { return value.async_read(use_future); }), errc::no_node);
}

TEST_F(SharedValueTest, DestroyingCancelsWhatIsPending) {
  auto value = std::make_unique<shared_value>(*session_, options());
  auto init = value->async_initialize("0", use_future);
  get_within(init);
  // Requests the destructor overtakes complete with cancelled; those that
  // finished first complete normally. None is left hanging.
  std::vector<std::future<versioned_value>> pending;
  for (int i = 0; i < 20; ++i) pending.push_back(value->async_increase(1, 1000, use_future));
  value.reset();
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(15s), std::future_status::ready);
    try {
      f.get();
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), errc::cancelled);
    }
  }
}

// The session is closed under it: requests in flight complete (closed, or
// done if they made it), and later ones too; no future is left hanging.
TEST_F(SharedValueTest, ClosingTheSessionCompletesWhatIsPending) {
  auto own = connect_session(hosts_);
  shared_value value(*own, options());
  auto init = value.async_initialize("0", use_future);
  get_within(init);
  std::vector<std::future<versioned_value>> pending;
  for (int i = 0; i < 20; ++i) pending.push_back(value.async_increase(1, 1000, use_future));
  own->close();
  pending.push_back(value.async_increase(1, 1000, use_future));
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(15s), std::future_status::ready);
    try {
      f.get();
    } catch (const std::system_error& e) {
      EXPECT_TRUE(e.code() == errc::session_closed || e.code() == errc::closing) << e.code().message();
    }
  }
}

// The increase lands but its answer is lost: the version moved, and whose
// write moved it cannot be told, so the caller hears connection_loss and
// the increase is not applied a second time.
TEST_F(SharedValueTest, AWriteWhoseAnswerWasLostIsNotAppliedTwice) {
  shared_value value(*session_, options());
  auto init = value.async_initialize("10", use_future);
  get_within(init);
  detail::fault_injection::lose_set_replies(1);
  auto up = value.async_increase(5, 100, use_future);
  try {
    get_within(up);
    ADD_FAILURE() << "a lost answer must not be reported as success";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::connection_loss) << e.code().message();
  }
  detail::fault_injection::lose_set_replies(0);
  auto read = value.async_read(use_future);
  auto now = get_within(read);
  EXPECT_EQ(now.value, "15") << "applied exactly once";
  EXPECT_EQ(now.version, 1);
}

// The create lands but its answer is lost: initialize finds it there.
TEST_F(SharedValueTest, InitializeSurvivesALostCreateAnswer) {
  shared_value first(*session_, options("first"));
  auto parents = first.async_initialize("", use_future);
  get_within(parents);  // so the lost answer is the value's own create
  shared_value value(*session_, options());
  detail::fault_injection::lose_create_replies(1);
  auto init = value.async_initialize("3", use_future);
  auto there = get_within(init);
  detail::fault_injection::lose_create_replies(0);
  EXPECT_EQ(there.value, "3");
  EXPECT_EQ(there.version, 0);
}

TEST(SharedValueParse, IntegersOnly) {
  EXPECT_EQ(shared_value::parse_integer("12"), 12);
  EXPECT_EQ(shared_value::parse_integer("-3"), -3);
  EXPECT_FALSE(shared_value::parse_integer(""));
  EXPECT_FALSE(shared_value::parse_integer("+1"));
  EXPECT_FALSE(shared_value::parse_integer(" 1"));
  EXPECT_FALSE(shared_value::parse_integer("1.5"));
  EXPECT_FALSE(shared_value::parse_integer("99999999999999999999"));
}

}  // namespace
}  // namespace nominee::testing
