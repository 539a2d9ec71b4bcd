// group_bench: how fast a membership change reaches every member.
// N members (own sessions, own views) against a standalone server; one
// member changes its affinity; time until all N views have seen it.
// The same fan-out with the bare C client (raw_watch_floor) is measured in
// the same run, so the report says how much of the latency is nominee's.
// Prints one JSON object.
//
//   group_bench [--members N] [--repeats R] [--no-fsync] [--io-threads T] [--no-floor]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <nominee/group.hpp>
#include <nominee/log.hpp>

#include "bench_stats.hpp"
#include "raw_watch_floor.hpp"
#include "zookeeper_launcher.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct tally {
  std::mutex mutex;
  std::condition_variable changed;
  std::int64_t target = -1;            // the affinity being waited for
  clock_type::time_point started;
  std::vector<double> seen_ms;         // per view, this round
};

}  // namespace

int main(int argc, char** argv) {
  int members = 50;
  int repeats = 40;
  bool fsync = true;
  int io_threads_count = 2;
  bool floor = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--members" && i + 1 < argc) members = std::max(2, std::atoi(argv[++i]));
    else if (arg == "--repeats" && i + 1 < argc) repeats = std::max(5, std::atoi(argv[++i]));
    else if (arg == "--no-fsync") fsync = false;
    else if (arg == "--io-threads" && i + 1 < argc) io_threads_count = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--no-floor") floor = false;
    else {
      std::cerr << "usage: group_bench [--members N] [--repeats R] [--no-fsync] [--io-threads T] [--no-floor]\n";
      return 2;
    }
  }
  try {
    nominee::set_log_level(nominee::log_level::error);
    nominee::testing::zookeeper_options zk;
    zk.fsync = fsync;
    nominee::testing::zookeeper_cluster cluster(zk);
    nominee::session_options options;
    options.hosts = cluster.connect_string();

    // One io_context for all members (default: two threads, the cores we
    // have), rather than 50 I/O threads fighting over 2 cores. The C client
    // still runs two threads per session: with 50 sessions on 2 cores its
    // hand-offs (~35 context switches per view and update, perf stat) are
    // what the latency is made of.
    boost::asio::io_context io(io_threads_count);
    auto work = boost::asio::make_work_guard(io);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < io_threads_count; ++i) io_threads.emplace_back([&io] { io.run(); });

    tally t;
    std::vector<std::unique_ptr<nominee::session>> sessions;
    std::vector<std::unique_ptr<nominee::group_member>> group;
    std::vector<std::unique_ptr<nominee::group_view>> views;
    for (int i = 0; i < members; ++i) {
      sessions.push_back(std::make_unique<nominee::session>(io.get_executor(), options));
      sessions.back()->wait_connected(15s);
    }
    for (int i = 0; i < members; ++i) {
      nominee::group_view::callbacks cb;
      cb.on_update = [&t](const nominee::member_info& now, const nominee::member_info&) {
        std::lock_guard lock(t.mutex);
        if (now.affinity != t.target) return;
        t.seen_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t.started).count());
        t.changed.notify_all();
      };
      views.push_back(std::make_unique<nominee::group_view>(*sessions[i], "/bench", cb));
    }
    for (int i = 0; i < members; ++i) {
      nominee::group_options g;
      g.root = "/bench";
      g.member_id = "m" + std::to_string(i);
      g.affinity = 1;
      group.push_back(std::make_unique<nominee::group_member>(*sessions[i], g));
      group.back()->async_join(boost::asio::use_future).get();
    }
    // Every view sees every member before measuring.
    auto deadline = clock_type::now() + 60s;
    for (auto& v : views)
      while (v->members().size() != static_cast<std::size_t>(members)) {
        if (clock_type::now() > deadline) throw std::runtime_error("views did not converge");
        std::this_thread::sleep_for(5ms);
      }

    std::vector<double> all_seen_ms, per_view_ms, write_ms;
    for (int r = 0; r < repeats; ++r) {
      auto& changer = *group[r % members];
      {
        std::lock_guard lock(t.mutex);
        t.target = 100 + r;
        t.seen_ms.clear();
        t.started = clock_type::now();
      }
      changer.async_set_affinity(100 + r, boost::asio::use_future).get();
      write_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t.started).count());
      std::unique_lock lock(t.mutex);
      if (!t.changed.wait_for(lock, 30s, [&] { return t.seen_ms.size() >= static_cast<std::size_t>(members); }))
        throw std::runtime_error("an update did not reach every view within 30 s");
      all_seen_ms.push_back(*std::max_element(t.seen_ms.begin(), t.seen_ms.end()));
      per_view_ms.insert(per_view_ms.end(), t.seen_ms.begin(), t.seen_ms.end());
    }
    views.clear();
    group.clear();
    sessions.clear();
    work.reset();
    for (auto& th : io_threads) th.join();

    auto all = nominee::bench::summarize(all_seen_ms);
    auto per_view = nominee::bench::summarize(per_view_ms);
    auto write = nominee::bench::summarize(write_ms);

    // The floor, with nominee's sessions gone so the two do not compete.
    std::string floor_json = "null", over_floor_json = "null";
    if (floor) {
      auto raw = nominee::bench::measure_raw_watch_floor(cluster.connect_string(), members, repeats);
      auto read = nominee::bench::summarize(raw.all_read_ms);
      auto notified = nominee::bench::summarize(raw.all_notified_ms);
      floor_json = "{\"all_read\": {\"p50_ms\": " + nominee::bench::fixed(read.p50, 2) +
                   ", \"p99_ms\": " + nominee::bench::fixed(read.p99, 2) +
                   "}, \"all_notified\": {\"p50_ms\": " + nominee::bench::fixed(notified.p50, 2) +
                   ", \"p99_ms\": " + nominee::bench::fixed(notified.p99, 2) + "}}";
      over_floor_json = nominee::bench::fixed(all.p50 / read.p50, 2);
    }
    std::printf(
        "{\"benchmark\": \"group\", \"members\": %d, \"repeats\": %d, "
        "\"update_seen_by_all\": {\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f}, "
        "\"update_seen_per_view\": {\"p50_ms\": %.2f, \"p99_ms\": %.2f}, "
        "\"write_acknowledged\": {\"p50_ms\": %.2f, \"p99_ms\": %.2f}, "
        "\"raw_c_client_floor\": %s, \"seen_by_all_over_floor_p50\": %s, \"fsync\": %s, \"io_threads\": %d, "
        "\"goal\": {\"all_p50_ms\": 3, \"all_p99_ms\": 6}}\n",
        members, repeats, all.p50, all.p99, all.max, per_view.p50, per_view.p99, write.p50, write.p99, floor_json.c_str(),
        over_floor_json.c_str(), fsync ? "true" : "false", io_threads_count);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "group_bench: " << e.what() << "\n";
    return 1;
  }
}
