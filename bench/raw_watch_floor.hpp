#pragma once
// The floor under group_bench's number: the same fan-out done with the bare
// ZooKeeper C client (the multi-threaded one nominee links), and no library.
// N handles each hold a data watch on one node; one more handle writes it;
// each watcher re-reads and re-arms from the C client's own completion
// thread, the shortest path the client allows. Time until every handle has
// read the new value, and until every handle was notified.
//
// On one machine this measures the server's fan-out and the client's 2N
// threads, not the network: it tells how much of group_bench's latency is
// nominee's and how much comes with N sessions on these cores.

#include <string>
#include <vector>

namespace nominee::bench {

struct raw_watch_floor_result {
  std::vector<double> all_read_ms;      // per round: the last handle to read the new value
  std::vector<double> all_notified_ms;  // per round: the last handle's watch event
};

// Throws std::runtime_error when the server cannot be reached or a round
// does not complete within 30 s.
raw_watch_floor_result measure_raw_watch_floor(const std::string& hosts, int handles, int rounds);

}  // namespace nominee::bench
