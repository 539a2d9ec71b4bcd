#pragma once
// The fault runner's plan: a seeded, reproducible list of steps (inject a
// fault, or undo one) for a fleet of workers and a ZooKeeper ensemble. The
// same seed and options always give the same steps, so a failing run can
// be replayed with its seed (the timing of the processes differs, the
// faults do not). Pure logic: fault_schedule_test checks it without a
// server.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nominee::testing {

enum class step_kind {
  kill_worker,       // kill -9
  restart_worker,    // start a killed or terminated worker again (same name)
  pause_worker,      // SIGSTOP (`value`: 1 when the pause outlasts the session timeout)
  resume_worker,     // SIGCONT
  terminate_worker,  // SIGTERM: a graceful leave (flush), then exit
  expire_session,    // a twin handle attaches to the worker's session and closes it
  kill_leader,       // kill -9 of the ZooKeeper server that leads now
  kill_follower,     // kill -9 of a ZooKeeper server that follows
  restart_server,    // start the killed server again
  partition,         // the worker's proxies black-hole its traffic (`value`: 1 when past the session timeout)
  slow_link,         // the worker's proxies delay every chunk by `value` ms
  heal,              // the worker's proxies pass traffic again
  set_affinity,      // the worker's affinity becomes `value` (divider_admin, from outside)
  add_keys,          // `keys` join the work set
  remove_keys,       // `keys` leave the work set
};
std::string to_string(step_kind kind);

struct fault_step {
  std::chrono::milliseconds at{0};  // from the start of the schedule
  step_kind kind = step_kind::kill_worker;
  int worker = -1;  // the target worker's index, for worker and link steps
  std::int64_t value = 0;
  std::vector<std::string> keys;
};
// "12.345s kill_worker w2", for logs and --print-schedule.
std::string describe(const fault_step& step);

struct schedule_options {
  std::uint64_t seed = 1;
  std::chrono::milliseconds duration{120000};  // faults are injected in [warm_up, duration)
  std::chrono::milliseconds warm_up{2000};
  int workers = 5;
  int partitionable = 2;  // workers 0 .. partitionable-1 reach ZooKeeper through proxies
  std::chrono::milliseconds session_timeout{3000};
  int initial_keys = 40;
  // At most this many workers are impaired (killed, paused, partitioned,
  // leaving) at once, so the fleet always has somewhere to put the keys.
  int max_impaired = 2;
};

// The work set a schedule starts from: "key-000" .. (initial_keys - 1).
std::vector<std::string> initial_keys(const schedule_options& options);

// Steps in time order. Every fault that has an end (a restart, a resume, a
// heal) has its ending step in the list, before or shortly after
// `duration`: when the last step has run, everything is whole again.
// Throws std::invalid_argument naming a bad option.
std::vector<fault_step> make_schedule(const schedule_options& options);

// The work set after every add_keys and remove_keys of the schedule.
std::vector<std::string> final_keys(const schedule_options& options, const std::vector<fault_step>& steps);

// Steps by kind, for the summary.
std::map<std::string, int> count_steps(const std::vector<fault_step>& steps);

}  // namespace nominee::testing
