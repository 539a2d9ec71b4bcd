// The divider's key store against a real ZooKeeper: sharded, batched,
// idempotent, with a live view of the whole set.
#include "work_keys.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <set>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "key_codec.hpp"
#include "validate.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;

class WorkKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    session_ = connect_session(shared_zookeeper().connect_string());
    base_ = detail::work_base(unique_root(), "/process/me/");
  }
  std::error_code change(std::vector<std::string> keys, bool remove) {
    auto promise = std::make_shared<std::promise<std::error_code>>();
    auto result = promise->get_future();
    detail::change_work(*session_, base_, std::move(keys), remove,
                        detail::completion<std::error_code>([promise](std::error_code ec) { promise->set_value(ec); },
                                                            session_->get_executor()));
    return get_within(result, 60s);
  }
  std::unique_ptr<session> session_;
  std::string base_;
};

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("key-" + std::to_string(i));
  return out;
}

TEST_F(WorkKeysTest, AddRemoveAndAViewThatFollows) {
  detail::key_set_view view(*session_, base_, {});
  auto keys = numbered(0, 1000);
  // Keys with odd bytes travel too.
  const std::vector<std::string> odd{"/", "a/b", "%", ".", "..", std::string("nul\0byte", 8), "tab\t", "naïve", "%41"};
  keys.insert(keys.end(), odd.begin(), odd.end());
  ASSERT_FALSE(change(keys, false));
  ASSERT_TRUE(wait_until([&] { return view.keys().size() == keys.size(); }, 30s)) << view.keys().size();
  EXPECT_TRUE(view.complete());
  auto seen = view.keys();
  for (auto& k : keys) EXPECT_TRUE(seen.count(k)) << "missing " << detail::describe("key", k);

  // Adding again (with overlap) is fine and changes nothing.
  ASSERT_FALSE(change(numbered(900, 1100), false));
  ASSERT_TRUE(wait_until([&] { return view.keys().size() == keys.size() + 100; }, 30s));

  // Removing, twice, is fine too.
  ASSERT_FALSE(change(numbered(0, 300), true));
  ASSERT_FALSE(change(numbered(0, 300), true));
  ASSERT_TRUE(wait_until([&] { return view.keys().size() == keys.size() + 100 - 300; }, 30s));
  EXPECT_FALSE(view.keys().count("key-0"));
  EXPECT_TRUE(view.keys().count("key-300"));
}

// A consumer that posts deliveries on (the divider) cannot ask complete():
// it can run ahead of the deliveries still on their way. The flag travels
// with them: false until the delivery that completes the first listing,
// true from then on, and by then every key already there has come.
TEST_F(WorkKeysTest, TheListedFlagComesWithTheDeliveryThatCompletesTheFirstListing) {
  ASSERT_FALSE(change(numbered(0, 1000), false));
  std::mutex mutex;
  std::vector<bool> flags;
  std::set<std::string> before_listed;
  detail::key_set_view view(
      *session_, base_, [&](const std::vector<std::string>& added, const std::vector<std::string>&, bool listed) {
        std::lock_guard lock(mutex);
        if (flags.empty() || !flags.back()) before_listed.insert(added.begin(), added.end());
        flags.push_back(listed);
      });
  ASSERT_TRUE(wait_until([&] { std::lock_guard lock(mutex); return !flags.empty() && flags.back(); }, 30s))
      << "no delivery said listed";
  ASSERT_FALSE(change(numbered(1000, 1010), false));
  ASSERT_TRUE(wait_until([&] { return view.keys().size() == 1010; }, 30s)) << view.keys().size();
  std::lock_guard lock(mutex);
  auto first = std::find(flags.begin(), flags.end(), true);
  EXPECT_TRUE(std::all_of(first, flags.end(), [](bool f) { return f; })) << "listed went back to false";
  EXPECT_GT(first - flags.begin(), 0) << "the first listing came in one delivery: the test shows nothing";
  EXPECT_EQ(before_listed.size(), 1000u) << "keys of the first listing came after the delivery that said listed";
  EXPECT_FALSE(before_listed.count("key-1000"));
}

TEST_F(WorkKeysTest, KeysAreSpreadOverShards) {
  ASSERT_FALSE(change(numbered(0, 2000), false));
  auto listing = session_->async_get_children(base_ + "/keys", boost::asio::use_future);
  auto shards = get_within(listing);
  EXPECT_GT(shards.names.size(), 200u) << "2,000 keys over 256 shards touch most of them";
  std::size_t total = 0;
  std::size_t largest = 0;
  for (auto& shard : shards.names) {
    auto kids = session_->async_get_children(base_ + "/keys/" + shard, boost::asio::use_future);
    auto n = get_within(kids).names.size();
    total += n;
    largest = std::max(largest, n);
  }
  EXPECT_EQ(total, 2000u);
  EXPECT_LT(largest, 40u) << "no shard gets a lopsided share";
}

TEST_F(WorkKeysTest, BadKeysAreRefusedAndNothingIsWritten) {
  EXPECT_EQ(change({"fine", ""}, false), errc::invalid_name);
  EXPECT_EQ(change({std::string(detail::max_key_bytes + 1, 'k')}, false), errc::invalid_name);
  auto keys = session_->async_exists(base_ + "/keys", boost::asio::use_future);
  EXPECT_FALSE(get_within(keys).has_value()) << "not even the valid key of the refused batch was written";
  try {
    detail::work_base("/root", "");
    FAIL() << "an empty prefix was accepted";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::invalid_name);
  }
}

}  // namespace
}  // namespace nominee::testing
