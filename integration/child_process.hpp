#pragma once
// The parent side of the multi-process tests (election_churn_test,
// divider_churn_test): a scratch directory for histories and logs, a child
// process started with arguments and ended by its PID, a polling wait, and
// the fault log written beside the histories.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "election_history.hpp"  // fault

namespace nominee::testing {

// A directory for histories and logs, "<tmp>/nominee-<name>-XXXXXX"; kept
// (and named on stderr, "<kept> kept in <dir>") when the test failed or
// NOMINEE_KEEP_HISTORIES is set, so the evidence survives.
class scratch_dir {
 public:
  scratch_dir(const std::string& name, std::string kept);
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string kept_;
};

// One child process. Every process started is ended by its PID: the
// destructor SIGKILLs (and SIGCONTs, should it be stopped) and reaps one
// that is still running.
class child_process {
 public:
  child_process() = default;
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Starts args[0] with args, stdout and stderr appended to `log`, no signal
  // blocked, and `default_signals` set to their default action.
  void spawn(std::vector<std::string> args, const std::filesystem::path& log,
             std::initializer_list<int> default_signals);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Sends sig while the process runs (not yet reaped).
  void signal(int sig) const;
  void kill() const;       // SIGKILL
  void terminate() const;  // SIGTERM
  void stop() const;       // SIGSTOP
  void resume() const;     // SIGCONT

  // The wait status once the process has exited (reaping it), or nullopt at
  // the deadline; the last status again once it was reaped.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> last_status_;
};

// Polls cond every `period` until it holds or the timeout passes (then one
// last try): for conditions that parse history files, where the children
// need the cores more than the test does.
bool poll_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period = std::chrono::milliseconds(100));

// The last max_chars of a (log) file.
std::string file_tail(const std::filesystem::path& path, std::size_t max_chars = 3000);

// "<ns> <kind> <member> <detail>" per fault, beside the histories.
void write_fault_log(const std::filesystem::path& path, const std::vector<fault>& faults);

}  // namespace nominee::testing
