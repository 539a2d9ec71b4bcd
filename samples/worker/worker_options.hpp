#pragma once
// nominee-worker's settings: command-line flags, each with an environment
// variable for containers (the flag wins). Checked before anything connects.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace nominee::worker {

struct worker_options {
  std::string hosts = "127.0.0.1:2181";
  std::string root = "/nominee";
  std::string prefix = "demo";
  std::string name;            // default: <hostname>-<pid>
  std::int64_t affinity = 1;
  std::chrono::milliseconds session_timeout{10000};
  std::string status_address = "127.0.0.1";
  int status_port = 0;         // 0: any free port; -1: no status endpoint
  std::string digest;          // "user:password", or empty
  std::chrono::milliseconds tick{1000};  // how often each owned key's record is written
  std::chrono::milliseconds print_interval{1000};
  std::string history;         // append events here (divider_history.hpp format), or empty
  std::string role = "cluster-manager";
  bool quiet = false;          // no per-second key list (tests)
  // Draw values from this range space (nominee::range_consumer, standing
  // for its coordinator role too) every draw_interval; empty: none.
  std::string range_space;
  std::chrono::milliseconds draw_interval{50};
  std::string session_file;    // publish the session's id and password here (tests force its expiry)
  bool die_with_parent = false;  // SIGKILL when the parent dies (a test runner's children)
};

// --help was asked for: the text is in what().
struct help_requested : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws std::invalid_argument naming the bad flag and value, or
// help_requested. Environment: NOMINEE_HOSTS, NOMINEE_ROOT, NOMINEE_PREFIX,
// NOMINEE_NAME, NOMINEE_AFFINITY, NOMINEE_SESSION_TIMEOUT_MS,
// NOMINEE_STATUS (address:port), NOMINEE_DIGEST, NOMINEE_TICK_MS.
worker_options parse_worker_options(int argc, char** argv);

}  // namespace nominee::worker
