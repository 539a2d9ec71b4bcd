// assignment_table_bench: the CPU one member spends following a change of a
// large prefix (no ZooKeeper). Every member of a fleet pays set_members on
// each join, leave or affinity change, and a starting member pays add_keys
// for the whole key set; on a machine hosting many members these add up.
//
//   assignment_table_bench [--keys N] [--members M] [--repeats R]
//
// Prints one JSON object: p50/max milliseconds per call.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "assignment_table.hpp"
#include "bench_stats.hpp"

namespace {

using nominee::bench::clock_type;
using nominee::bench::fixed;
using nominee::bench::ms_between;
using nominee::detail::assignment_table;
using nominee::detail::weighted_member;

std::string stats_json(const std::vector<double>& ms) {
  auto s = nominee::bench::summarize(ms);
  return "{\"p50_ms\": " + fixed(s.p50) + ", \"max_ms\": " + fixed(s.max) + ", \"count\": " + std::to_string(s.count) + "}";
}

template <class F>
double timed(F f) {
  auto t0 = clock_type::now();
  f();
  return ms_between(t0, clock_type::now());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t keys = 100000;
  int members = 50, repeats = 10;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--keys" && i + 1 < argc) keys = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--members" && i + 1 < argc) members = std::max(2, std::atoi(argv[++i]));
    else if (arg == "--repeats" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else {
      std::cerr << "usage: assignment_table_bench [--keys N] [--members M] [--repeats R]\n";
      return 2;
    }
  }
  std::vector<std::string> names;
  names.reserve(keys);
  for (std::size_t i = 0; i < keys; ++i) names.push_back("key-" + std::to_string(i));
  std::vector<weighted_member> fleet;
  for (int m = 0; m < members; ++m) fleet.push_back({"member-" + std::to_string(m), 1});
  auto without_last = fleet;
  without_last.pop_back();

  // The way a divider loads them: one batch per key shard listing.
  const std::size_t shards = 256;
  std::vector<std::vector<std::string>> by_shard(shards);
  for (std::size_t i = 0; i < keys; ++i) by_shard[i % shards].push_back(names[i]);

  std::vector<double> load_ms, load_by_shard_ms, join_ms, leave_ms, raise_ms;
  std::size_t moved_on_join = 0;
  for (int r = 0; r < repeats; ++r) {
    assignment_table table;
    // A starting member: it knows the others, then lists the keys.
    table.set_members(without_last);
    load_ms.push_back(timed([&] { table.add_keys(names); }));
    assignment_table sharded;
    sharded.set_members(without_last);
    load_by_shard_ms.push_back(timed([&] {
      for (auto& batch : by_shard) sharded.add_keys(batch);
    }));
    join_ms.push_back(timed([&] { moved_on_join = table.set_members(fleet).size(); }));
    leave_ms.push_back(timed([&] { table.set_members(without_last); }));
    auto raised = without_last;
    raised.front().affinity = 2;
    raise_ms.push_back(timed([&] { table.set_members(raised); }));
  }
  std::cout << "{\"benchmark\": \"assignment_table\", \"keys\": " << keys << ", \"members\": " << members
            << ", \"repeats\": " << repeats << ", \"add_keys_all\": " << stats_json(load_ms)
            << ", \"add_keys_by_shard\": " << stats_json(load_by_shard_ms)
            << ", \"set_members_join\": " << stats_json(join_ms) << ", \"keys_moved_on_join\": " << moved_on_join
            << ", \"set_members_leave\": " << stats_json(leave_ms)
            << ", \"set_members_affinity_raise\": " << stats_json(raise_ms) << "}\n";
  return 0;
}
