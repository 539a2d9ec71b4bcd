#pragma once
// The fault runner: a 3-node ZooKeeper ensemble on loopback, a fleet of real
// nominee-worker processes (some of them reaching ZooKeeper through TCP
// proxies the runner controls), a seeded schedule of faults
// (fault_schedule.hpp) played against them, and at the end every worker's
// history checked together (fleet_history.hpp).
//
// Run it as nominee-fault-runner (fault_runner_main.cpp); .ci/run plays a
// short schedule, scripts/soak.sh a long one.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fault_schedule.hpp"

namespace nominee::testing {

struct fault_run_options {
  schedule_options schedule;
  std::string worker_path;  // the nominee-worker binary
  // Where histories, logs and the fault log go; empty: a fresh temp
  // directory, removed after a clean run unless keep_files.
  std::filesystem::path directory;
  bool keep_files = false;
  std::chrono::milliseconds tick{250};           // each owned key's record write
  std::chrono::milliseconds draw_interval{50};   // each worker's range draws
  // After the last step, how long the fleet may take to own every key on
  // its target member before the run fails.
  std::chrono::milliseconds settle_timeout{90000};
  bool verbose = true;  // print each step as it runs (stderr)
};

struct fault_run_result {
  bool ok = false;
  std::string summary;  // for people: steps, faults, the checker's report
  std::string json;     // one JSON object: seed, steps by kind, the checker's numbers
  std::filesystem::path directory;  // kept when !ok or keep_files
};

// Plays the schedule and checks the histories. Throws std::runtime_error
// when the run cannot be set up (no java, no worker binary); a run that
// went wrong is a result with ok == false.
fault_run_result run_faults(const fault_run_options& options);

}  // namespace nominee::testing
