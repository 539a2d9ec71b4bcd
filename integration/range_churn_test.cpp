// Range leases across real processes (nominee-range-consumer) against a
// real server: eight consumers draw values at once, three of them standing
// for the coordinator role; the test kills the coordinator (kill -9), then
// another consumer (kill -9) and starts that one again under the same id.
// Every value any process wrote down must be unique, across all of them,
// and everyone must keep drawing after the faults.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "history_file.hpp"
#include "test_support.hpp"

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string consumer_binary() {
  if (const char* path = std::getenv("NOMINEE_RANGE_CONSUMER")) return path;
  return NOMINEE_RANGE_CONSUMER_PATH;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr auto slow = 3;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr auto slow = 3;
#else
constexpr auto slow = 1;
#endif
#else
constexpr auto slow = 1;
#endif

constexpr std::uint64_t space_lo = 1'000;
constexpr std::uint64_t space_hi = 1'000'000'000'000ULL;
constexpr int session_timeout_ms = 2000;

// One consumer id; every start is a new process with its own values file.
class consumer_process {
 public:
  consumer_process(std::string hosts, std::string root, std::string id, fs::path dir, bool coordinator,
                   int burst, int period_ms)
      : hosts_(std::move(hosts)),
        root_(std::move(root)),
        id_(std::move(id)),
        dir_(std::move(dir)),
        coordinator_(coordinator),
        burst_(burst),
        period_ms_(period_ms) {}

  const std::string& id() const { return id_; }
  bool stands() const { return coordinator_; }
  bool running() const { return child_.running(); }
  fs::path status() const { return dir_ / (id_ + ".status"); }
  fs::path log() const { return dir_ / (id_ + ".log"); }
  fs::path values(int run) const { return dir_ / (id_ + "." + std::to_string(run) + ".values"); }
  fs::path current_values() const { return values(starts_); }
  int starts() const { return starts_; }

  void start() {
    ++starts_;
    child_.spawn({consumer_binary(), "--hosts", hosts_, "--root", root_, "--space", "churn", "--id", id_,
                  "--values", current_values().string(), "--status", status().string(),
                  "--session-timeout-ms", std::to_string(session_timeout_ms), "--lo", std::to_string(space_lo),
                  "--hi", std::to_string(space_hi), "--min-block", "16", "--max-block", "65536", "--target-ms",
                  "500", "--coordinator", coordinator_ ? "1" : "0", "--burst", std::to_string(burst_),
                  "--period-ms", std::to_string(period_ms_)},
                 log(), {SIGTERM, SIGINT});
  }
  void kill() { child_.kill(); child_.wait_exit(30s); }
  void terminate() { child_.terminate(); }
  std::optional<int> wait_exit(std::chrono::milliseconds t) { return child_.wait_exit(t); }

  // Values written by the current process so far.
  std::uintmax_t drawn_now() const {
    std::error_code ec;
    auto size = fs::file_size(current_values(), ec);
    return ec ? 0 : size / 8;
  }

  // "coordinator 1" is the last coordinator line of the current process.
  bool coordinating() const {
    auto lines = read_history_lines(status());
    bool current = false, mine = false;
    auto started = "started pid=" + std::to_string(child_.pid());
    for (const auto& l : lines.lines) {
      if (l.text.find(" started pid=") != std::string::npos) mine = l.text.find(started) != std::string::npos;
      if (!mine) continue;
      if (l.text.find(" coordinator 1") != std::string::npos) current = true;
      if (l.text.find(" coordinator 0") != std::string::npos) current = false;
    }
    return running() && current;
  }

 private:
  std::string hosts_, root_, id_;
  fs::path dir_;
  bool coordinator_;
  int burst_, period_ms_;
  int starts_ = 0;
  child_process child_;
};

// Every value in every values file: 8-byte little-endian records; a torn
// last record (kill -9 mid-write) is left out.
struct value_source {
  std::uint64_t value;
  std::uint32_t file;
};

void read_values(const fs::path& path, std::uint32_t file, std::vector<value_source>& out) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(bytes[i + b]) << (8 * b);
    out.push_back({v, file});
  }
}

TEST(RangeChurnTest, EveryValueIsUniqueWhileTheCoordinatorAndAConsumerAreKilled) {
  auto hosts = shared_zookeeper().connect_string();
  auto root = unique_root();
  scratch_dir dir("range-churn", "values and status files");

  std::vector<std::unique_ptr<consumer_process>> consumers;
  for (int i = 0; i < 8; ++i) {
    // Different rates: c0 draws 2,000 every 2 ms, c7 20 every 20 ms.
    int burst = i == 0 ? 2000 : i == 7 ? 20 : 200;
    int period = i == 0 ? 2 : i == 7 ? 20 : 5;
    consumers.push_back(std::make_unique<consumer_process>(hosts, root, "c" + std::to_string(i), dir.path(),
                                                           /*coordinator=*/i < 3, burst, period));
  }
  for (auto& c : consumers) c->start();

  auto all_drawing = [&] {
    return std::all_of(consumers.begin(), consumers.end(),
                       [](const auto& c) { return !c->running() || c->drawn_now() > 0; });
  };
  ASSERT_TRUE(poll_until(all_drawing, std::chrono::milliseconds(60'000 * slow)))
      << "not every consumer drew a value; c0's log:\n" << file_tail(consumers[0]->log());

  auto coordinator = [&]() -> consumer_process* {
    for (auto& c : consumers)
      if (c->coordinating()) return c.get();
    return nullptr;
  };
  consumer_process* first = nullptr;
  ASSERT_TRUE(poll_until([&] { return (first = coordinator()) != nullptr; }, std::chrono::milliseconds(30'000 * slow)))
      << "nobody reported coordinating";

  std::this_thread::sleep_for(2s);  // a steady stretch (load, not synchronisation)

  // Fault 1: kill -9 the coordinator. Another candidate takes over once the
  // server has expired the dead one's session.
  std::cerr << "killing the coordinator " << first->id() << "\n";
  first->kill();
  consumer_process* second = nullptr;
  ASSERT_TRUE(poll_until([&] { return (second = coordinator()) != nullptr && second != first; },
                         std::chrono::milliseconds((session_timeout_ms + 20'000) * slow)))
      << "no new coordinator after the kill";

  // Fault 2: kill -9 a consumer that is not the coordinator, mid-run, then
  // start it again under the same id (a new session: it must ignore grants
  // left for the old one, and never reuse its values).
  auto* victim = consumers[5].get();
  auto before = victim->drawn_now();
  ASSERT_TRUE(poll_until([&] { return victim->drawn_now() > before; }, std::chrono::milliseconds(20'000 * slow)));
  std::cerr << "killing consumer " << victim->id() << "\n";
  victim->kill();
  victim->start();

  // Everyone keeps drawing after the faults (the restarted one once the old
  // session has expired and it registered again).
  std::map<std::string, std::uintmax_t> marks;
  for (auto& c : consumers)
    if (c->running()) marks[c->id()] = c->drawn_now();
  EXPECT_TRUE(poll_until(
      [&] {
        for (auto& c : consumers)
          if (c->running() && c->drawn_now() <= marks[c->id()] + 20) return false;
        return true;
      },
      std::chrono::milliseconds((session_timeout_ms + 30'000) * slow)))
      << "a consumer stopped drawing after the faults";

  std::this_thread::sleep_for(1s);
  for (auto& c : consumers)
    if (c->running()) c->terminate();
  for (auto& c : consumers) {
    if (!c->running()) continue;
    auto status = c->wait_exit(60s);
    ASSERT_TRUE(status) << c->id() << " did not exit on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << c->id() << " exited with " << *status << ":\n" << file_tail(c->log());
  }

  // Every value seen, checked over all of them.
  std::vector<value_source> all;
  std::vector<std::string> files;
  for (auto& c : consumers)
    for (int run = 1; run <= c->starts(); ++run) {
      files.push_back(c->values(run).filename().string());
      read_values(c->values(run), static_cast<std::uint32_t>(files.size() - 1), all);
    }
  std::cerr << all.size() << " values from " << files.size() << " processes\n";
  ASSERT_GT(all.size(), 10'000u);
  std::sort(all.begin(), all.end(), [](const value_source& a, const value_source& b) { return a.value < b.value; });
  std::size_t duplicates = 0;
  std::ostringstream report;
  for (std::size_t i = 1; i < all.size(); ++i) {
    if (all[i].value != all[i - 1].value) continue;
    if (duplicates++ < 10)
      report << all[i].value << " in " << files[all[i - 1].file] << " and " << files[all[i].file] << "\n";
  }
  EXPECT_EQ(duplicates, 0u) << "values handed out twice:\n" << report.str();
  EXPECT_GE(all.front().value, space_lo);
  EXPECT_LT(all.back().value, space_hi);
}

}  // namespace
}  // namespace nominee::testing
