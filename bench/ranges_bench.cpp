// ranges_bench: adaptive range leases.
//
//  - next() values per second, one consumer on one thread (and with two
//    threads on one consumer), after the lease has grown;
//  - ZooKeeper writes (consumer reports + coordinator multis, each one
//    request) per 1,000,000 values at a steady high rate, adaptive sizing
//    against a fixed small block;
//  - how long sizing takes to adapt after a consumer's rate jumps 100x
//    (10,000/s -> 1,000,000/s), and how often next() had to wait meanwhile.
//
// Prints one JSON object, with the goals and whether they were met.
//
//   ranges_bench [--values N] [--help]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nominee/log.hpp>
#include <nominee/ranges.hpp>
#include <nominee/session.hpp>

#include "bench_stats.hpp"
#include "zookeeper_launcher.hpp"

namespace {

using namespace std::chrono_literals;
using nominee::bench::clock_type;
using nominee::bench::fixed;
using nominee::bench::ms_between;

struct fixture {
  std::string hosts;
  int spaces = 0;

  std::unique_ptr<nominee::session> connect() {
    nominee::session_options o;
    o.hosts = hosts;
    o.session_timeout = 10s;
    auto s = std::make_unique<nominee::session>(o);
    s->wait_connected(30s);
    return s;
  }

  nominee::range_consumer_options consumer(const std::string& space, nominee::range_space_config c) {
    nominee::range_consumer_options o;
    o.root = "/bench";
    o.space = space;
    o.consumer_id = "c";
    o.config = c;
    o.wait_timeout = 30s;
    return o;
  }
  nominee::range_coordinator_options coordinator(const std::string& space, nominee::range_space_config c) {
    nominee::range_coordinator_options o;
    o.root = "/bench";
    o.space = space;
    o.member_id = "m";
    o.config = c;
    return o;
  }
};

std::uint64_t writes(const nominee::range_consumer& c, const nominee::range_coordinator& m) {
  return c.statistics().zookeeper_writes + m.statistics().zookeeper_writes;
}

// Draws `rate` values per second (in 1 ms steps) for `d`; returns the
// longest single next() call in ms.
double draw_paced(nominee::range_consumer& c, double rate, std::chrono::milliseconds d,
                  const std::function<bool()>& stop_early = {}) {
  auto start = clock_type::now();
  double longest = 0;
  std::uint64_t done = 0;
  for (int step = 0; step < 10'000'000; ++step) {
    auto now = clock_type::now();
    if (now - start >= d || (stop_early && stop_early())) break;
    auto due = static_cast<std::uint64_t>(rate * std::chrono::duration<double>(now - start).count());
    for (; done < due; ++done) {
      auto t0 = clock_type::now();
      (void)c.next();
      longest = std::max(longest, ms_between(t0, clock_type::now()));
    }
    std::this_thread::sleep_for(1ms);
  }
  return longest;
}

std::string goal(const char* name, const char* unit, double goal, double actual, bool at_least) {
  bool met = at_least ? actual >= goal : actual <= goal;
  return std::string("\"") + name + "\": {\"goal_" + unit + "\": " + fixed(goal, 1) + ", \"actual_" + unit +
         "\": " + fixed(actual, 1) + ", \"met\": " + (met ? "true" : "false") + "}";
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t measure_values = 50'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--values" && i + 1 < argc) {
      measure_values = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::cerr << "usage: ranges_bench [--values N]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  nominee::set_log_level(nominee::log_level::error);
  try {
    nominee::testing::zookeeper_options zo;
    nominee::testing::zookeeper_cluster zk(zo);
    fixture f{zk.connect_string()};
    std::ostringstream out;
    out << "{\"bench\": \"ranges\"";

    // --- 1. next() throughput --------------------------------------------------
    double per_second = 0, two_threads = 0;
    std::uint64_t waits = 0;
    {
      nominee::range_space_config c{0, ~0ULL, 1 << 16, 1 << 24, 1000ms};
      auto ms = f.connect();
      auto cs = f.connect();
      nominee::range_coordinator m(*ms, f.coordinator("throughput", c));
      nominee::range_consumer consumer(*cs, f.consumer("throughput", c));
      // Warm up until the lease is large.
      auto warm_until = clock_type::now() + 10s;
      while (consumer.statistics().block_size < (1u << 24) && clock_type::now() < warm_until)
        for (int i = 0; i < 1'000'000; ++i) (void)consumer.next();
      auto before = consumer.statistics();
      auto t0 = clock_type::now();
      std::uint64_t sink = 0;
      for (std::uint64_t i = 0; i < measure_values; ++i) sink ^= consumer.next();
      auto t1 = clock_type::now();
      per_second = static_cast<double>(measure_values) / std::chrono::duration<double>(t1 - t0).count();
      waits = consumer.statistics().waits - before.waits;
      // Two threads on one consumer (contended compare-and-swap).
      std::atomic<std::uint64_t> total{0};
      auto t2 = clock_type::now();
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
          std::uint64_t local = 0;
          for (std::uint64_t i = 0; i < measure_values / 4; ++i) local ^= consumer.next();
          total += measure_values / 4 + (local & 0);
        });
      for (auto& t : threads) t.join();
      two_threads = static_cast<double>(total.load()) / std::chrono::duration<double>(clock_type::now() - t2).count();
      if (sink == 42) std::cerr << "";
    }
    out << ", \"next_per_second_one_thread\": " << fixed(per_second, 0)
        << ", \"next_per_second_two_threads_one_consumer\": " << fixed(two_threads, 0)
        << ", \"waits_during_measurement\": " << waits;

    // --- 2. writes per 1,000,000 values -------------------------------------------
    double adaptive_writes = 0, fixed_writes = 0;
    std::uint64_t adaptive_block = 0;
    const double steady_rate = 2'000'000;
    {
      nominee::range_space_config c{0, ~0ULL, 1000, 1 << 22, 1000ms};
      auto ms = f.connect();
      auto cs = f.connect();
      nominee::range_coordinator m(*ms, f.coordinator("adaptive", c));
      nominee::range_consumer consumer(*cs, f.consumer("adaptive", c));
      draw_paced(consumer, steady_rate, 4s);  // reach the steady size
      auto w0 = writes(consumer, m);
      auto v0 = consumer.statistics().values;
      draw_paced(consumer, steady_rate, 6s);
      auto dv = consumer.statistics().values - v0;
      adaptive_writes = static_cast<double>(writes(consumer, m) - w0) * 1e6 / static_cast<double>(dv);
      adaptive_block = consumer.statistics().block_size;
    }
    {
      nominee::range_space_config c{0, ~0ULL, 1000, 1000, 1000ms};
      auto ms = f.connect();
      auto cs = f.connect();
      nominee::range_coordinator m(*ms, f.coordinator("fixed", c));
      nominee::range_consumer consumer(*cs, f.consumer("fixed", c));
      for (int i = 0; i < 10'000; ++i) (void)consumer.next();
      auto w0 = writes(consumer, m);
      auto v0 = consumer.statistics().values;
      for (int i = 0; i < 1'000'000; ++i) (void)consumer.next();
      auto dv = consumer.statistics().values - v0;
      fixed_writes = static_cast<double>(writes(consumer, m) - w0) * 1e6 / static_cast<double>(dv);
    }
    out << ", \"writes_per_million_values\": {\"adaptive\": " << fixed(adaptive_writes, 1)
        << ", \"adaptive_rate_per_second\": " << fixed(steady_rate, 0) << ", \"adaptive_block\": " << adaptive_block
        << ", \"fixed_block_1000\": " << fixed(fixed_writes, 1) << "}";

    // --- 3. adapting to a 100x rate jump ---------------------------------------
    double adapt_ms = -1, longest_next_ms = 0;
    std::uint64_t block_before = 0, block_after = 0, adapt_waits = 0;
    {
      const std::chrono::milliseconds target = 500ms;
      nominee::range_space_config c{0, ~0ULL, 64, 1 << 22, target};
      auto ms = f.connect();
      auto cs = f.connect();
      nominee::range_coordinator m(*ms, f.coordinator("jump", c));
      nominee::range_consumer consumer(*cs, f.consumer("jump", c));
      draw_paced(consumer, 10'000, 5s);
      block_before = consumer.statistics().block_size;
      auto w = consumer.statistics().waits;
      // Adapted: a lease lasts at least half the target at the new rate.
      const double new_rate = 1'000'000;
      auto needed = static_cast<std::uint64_t>(new_rate * std::chrono::duration<double>(target).count() / 2);
      auto t0 = clock_type::now();
      std::atomic<bool> adapted{false};
      longest_next_ms = draw_paced(consumer, new_rate, 30s, [&] {
        if (!adapted && consumer.statistics().block_size >= needed) {
          adapted = true;
          adapt_ms = ms_between(t0, clock_type::now());
        }
        return adapted.load();
      });
      block_after = consumer.statistics().block_size;
      adapt_waits = consumer.statistics().waits - w;
    }
    out << ", \"rate_jump_100x\": {\"from_per_second\": 10000, \"to_per_second\": 1000000, \"target_lease_ms\": 500"
        << ", \"block_before\": " << block_before << ", \"block_after\": " << block_after
        << ", \"adapt_ms\": " << fixed(adapt_ms, 1) << ", \"next_waits_while_adapting\": " << adapt_waits
        << ", \"longest_next_ms\": " << fixed(longest_next_ms, 2) << "}";

    out << ", \"goals\": {" << goal("next_per_second_one_core", "values_per_second", 10'000'000, per_second, true)
        << ", " << goal("writes_per_million_values_steady", "writes", 50, adaptive_writes, false) << "}}\n";
    std::cout << out.str();
  } catch (const std::exception& e) {
    std::cerr << "ranges_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
