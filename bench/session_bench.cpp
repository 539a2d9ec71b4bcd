// session_bench: the floors every recipe's latency is held against.
// Round trips of exists/get/set/create+remove through nominee::session,
// pipelined exists throughput, on a standalone server and (with
// --ensemble) a 3-node ensemble, all on loopback. Prints one JSON object.
//
//   session_bench [--ensemble] [--count N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <nominee/log.hpp>
#include <nominee/session.hpp>

#include "zookeeper_launcher.hpp"

namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;
using clock_type = std::chrono::steady_clock;

struct summary {
  double p50_us, p99_us, max_us;
  std::size_t count;
};

summary summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))]; };
  return {at(0.50), at(0.99), us.back(), us.size()};
}

template <class Start>
summary measure(int count, Start start) {
  std::vector<double> us;
  us.reserve(count);
  for (int i = 0; i < count; ++i) {
    auto t0 = clock_type::now();
    auto f = start(i);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("a request took over 10 s");
    f.get();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  return summarize(std::move(us));
}

std::string json(const char* name, const summary& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"%s\": {\"count\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}",
                name, s.count, s.p50_us, s.p99_us, s.max_us);
  return buf;
}

double pipelined_exists_per_second(nominee::session& s, int total, int window) {
  std::atomic<int> done{0};
  std::atomic<int> in_flight{0};
  std::promise<void> all_done;
  auto t0 = clock_type::now();
  for (int sent = 0; sent < total; ++sent) {
    auto deadline = clock_type::now() + 10s;
    while (in_flight.load() >= window)
      if (clock_type::now() > deadline) throw std::runtime_error("pipelined exists stalled");
    ++in_flight;
    s.async_exists("/bench", [&](std::error_code, std::optional<nominee::stat>) {
      --in_flight;
      if (++done == total) all_done.set_value();
    });
  }
  if (all_done.get_future().wait_for(30s) != std::future_status::ready) throw std::runtime_error("pipeline stalled");
  return total / std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  bool ensemble = false;
  int count = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--ensemble") ensemble = true;
    else if (arg == "--count" && i + 1 < argc) count = std::max(100, std::atoi(argv[++i]));
    else {
      std::cerr << "usage: session_bench [--ensemble] [--count N]\n";
      return 2;
    }
  }
  try {
    nominee::set_log_level(nominee::log_level::error);
    nominee::testing::zookeeper_options zk_options;
    zk_options.servers = ensemble ? 3 : 1;
    nominee::testing::zookeeper_cluster cluster(zk_options);

    nominee::session_options options;
    options.hosts = cluster.connect_string();
    nominee::session s(options);
    s.wait_connected(15s);
    s.async_create("/bench", "x", {}, use_future).get();

    // Warm up the JIT on the server and our allocator before measuring.
    for (int i = 0; i < 200; ++i) s.async_exists("/bench", use_future).get();

    auto exists = measure(count, [&](int) { return s.async_exists("/bench", use_future); });
    auto get = measure(count, [&](int) { return s.async_get("/bench", use_future); });
    auto set = measure(count, [&](int) { return s.async_set("/bench", "y", nominee::any_version, use_future); });
    auto create_remove = measure(count / 2, [&](int i) {
      auto path = "/bench/n" + std::to_string(i);
      s.async_create(path, "", {nominee::create_mode::ephemeral, {}, {}}, use_future).get();
      return s.async_remove(path, nominee::any_version, use_future);
    });
    double throughput = pipelined_exists_per_second(s, count * 10, 256);

    std::cout << "{\"benchmark\": \"session\", \"servers\": " << zk_options.servers << ", "
              << json("exists", exists) << ", " << json("get", get) << ", " << json("set", set) << ", "
              << json("create_and_remove", create_remove)
              << ", \"pipelined_exists_per_s\": " << static_cast<long>(throughput) << "}\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "session_bench: " << e.what() << "\n";
    return 1;
  }
}
