#pragma once
// Runs nominee-txnlog-check (TxnLogChecker.java, through the launcher the
// build configures) on ZooKeeper dataDirs and parses what it printed: for
// tests and the fault runner, which want the server's own word on whether a
// session ever deleted a node it did not own.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace nominee::testing {

// The launcher in the build tree.
std::string default_txn_log_checker();

struct txn_log_check_options {
  // One dataDir (the directory holding version-2/) per server.
  std::vector<std::filesystem::path> data_dirs;
  // More of the checker's flags, e.g. {"--root", "/faults", "--records", "/faults/records/jobs"}.
  std::vector<std::string> flags;
  std::string checker = default_txn_log_checker();
  // A JVM reading a few hundred thousand txns takes seconds; the bound is
  // for one that hangs.
  std::chrono::milliseconds timeout{180000};
};

struct txn_log_violation {
  std::string zxid;     // "0x..."
  std::string kind;     // e.g. "ephemeral_deleted_by_other_session"
  std::string session;  // who did it, "0x..."
  std::string owner;    // whose node it was, "0x0" for nobody's
  std::string path;
  std::string line;     // as printed
};

struct txn_log_check_result {
  // The checker's exit status: 0 no violation, 1 violations, 2 bad usage or
  // unreadable logs; -1 when it did not exit by itself (timed out, killed).
  int exit_code = -1;
  bool timed_out = false;
  std::string summary;                          // the JSON line
  std::map<std::string, std::int64_t> counts;   // its numeric fields
  std::vector<txn_log_violation> violations;    // as printed (at most --max-lines)
  std::vector<std::string> notes;
  std::string output;  // all of stdout
  std::string errors;  // all of stderr

  bool ok() const { return exit_code == 0; }
  // A count from the summary, 0 when absent.
  std::int64_t count(const std::string& name) const;
  // For a failure message: status, summary, violations, stderr.
  std::string describe() const;
};

// Runs the checker and waits for it by PID until the timeout, then SIGKILLs
// it. Throws std::runtime_error when it cannot be started at all.
txn_log_check_result run_txn_log_check(const txn_log_check_options& options);

// Parses the checker's stdout (exposed for tests of the parsing itself).
void parse_txn_log_check_output(const std::string& output, txn_log_check_result& result);

}  // namespace nominee::testing
