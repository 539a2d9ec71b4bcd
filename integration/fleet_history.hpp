#pragma once
// The histories of a fleet of sample workers (samples/worker, one file per
// worker name, "nominee-worker --history"), checked together after a fault
// run: roles, keys, range values and key records, each through what holds
// for it, and a summary of the run (faults, counts, how long keys waited).
//
// A worker's lines, "<ns> <member> <verb> [args...]" (history_file.hpp):
//
//   started pid=<pid> affinity=<n>   a new process of the member
//   elected <role> <token>           it holds the role (e.g. cluster-manager)
//   revoked <role> <reason>          it no longer does
//   start <key> <token>              divider keys (divider_history.hpp)
//   stop <key> <reason>
//   confirm <key>
//   write <key> <value> <token>      the key's record was set to Value=<value>
//                                    under fencing token <token>
//   refused <key> <token> <newer>    the record held <newer>: no write
//   drew <space> <value>             a range consumer handed <value> out
//   exiting flush=<outcome>          it stops acting (SIGTERM)
//   anything else                    a note (session, joined, leaving, ...)
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "divider_history.hpp"
#include "election_history.hpp"
#include "history_file.hpp"

namespace nominee::testing {

struct fleet_check_options {
  // The workers' session timeout. Roles and keys must be held again within
  // it plus liveness_margin_ns after the last fault, and no key may wait
  // longer than that after the later of its gap's start and the last fault
  // (of any kind) before the gap's end.
  std::int64_t session_timeout_ns = 2'000'000'000;
  std::int64_t liveness_margin_ns = 1'000'000'000;
  // Two holders (of a role or a key) that overlap by at most this are
  // tolerated and listed: one machine clock stamps every line, the margin
  // only absorbs what a clock read can reorder.
  std::int64_t clock_margin_ns = 2'000'000;
  // When the run ended (the runner's time just before it stopped the
  // workers): every expected key and role must be held then. 0: no
  // liveness checks.
  std::int64_t end_ns = 0;
  // The work set at the end (keys removed during the run are not
  // required). Empty: every key seen, as check_divider_histories does.
  std::vector<std::string> expected_keys;
  // The roles that must be held at end_ns.
  std::vector<std::string> expected_roles;
  std::int64_t context_window_ns = 1'500'000'000;
  std::size_t max_context_lines = 40;
};

struct fleet_violation {
  std::string area;         // "roles", "keys", "ranges" or "records"
  std::string kind;         // e.g. "overlap", "value_drawn_twice", "stale_write_accepted"
  std::string description;  // what happened: members, tokens, values, times
  std::string context;      // the lines and faults around it, one per line
};

// One key's record, as the accepted writes show it.
struct record_counts {
  std::size_t accepted = 0;
  std::size_t refused = 0;
  std::int64_t highest_value = 0;
};

// The longest gap of a key that a fault may have caused: one that began at
// most session timeout + liveness margin after the fault, or during which
// the fault happened; `cause` is the latest such fault before its end.
struct gap_after_fault {
  unowned_gap gap;
  fault cause;
};

struct fleet_report {
  std::size_t events = 0;   // lines parsed, all files
  std::size_t members = 0;
  std::size_t runs = 0;     // processes (`started` lines)
  std::map<std::string, std::size_t> faults;  // by kind
  std::size_t elections = 0;
  std::size_t revocations = 0;
  std::size_t starts = 0;
  std::size_t stops = 0;
  std::size_t confirms = 0;
  std::size_t writes_accepted = 0;
  std::size_t writes_refused = 0;
  std::size_t values_drawn = 0;
  std::map<std::string, std::size_t> values_by_space;
  std::map<std::string, record_counts> records;  // by key
  std::optional<unowned_gap> longest_unowned;
  std::optional<gap_after_fault> longest_unowned_after_fault;
  // With end_ns: the last fault before it, and when every expected key and
  // role was held again (continuously through end_ns) after it.
  std::optional<std::int64_t> last_fault_ns;
  std::optional<std::int64_t> keys_owned_again_ns;
  std::map<std::string, std::int64_t> roles_held_again_ns;
  // Per role, the longest time nobody held it (a short SIGSTOP that the
  // session survived does not end a hold here).
  std::map<std::string, vacancy> role_vacancies;
  std::optional<std::int64_t> recovered_ns;  // the later of the two
  std::vector<fleet_violation> violations;
  std::vector<fleet_violation> tolerated;  // within the clock margin, forced expiry, stale work after a resume
  std::vector<std::string> problems;       // unreadable lines and files
  std::int64_t origin_ns = 0;              // "+0 ms" in reports: the first line or fault
  // What the role and key checkers said, in full (timelines, intervals).
  history_report roles;
  divider_report keys;

  bool ok() const { return violations.empty() && problems.empty(); }
  // Faults, counts, gaps and recovery, then every problem and violation
  // (and tolerated one, a few) with the lines around it.
  std::string summary() const;
  // One JSON object: faults by kind, events, violations (count and by
  // kind), counts, longest_unowned_ms, recovered_after_last_fault_ms, ...
  std::string json() const;
};

// Checks the workers' lines (any order, all files together; origin
// "file:line" for reports):
//  - roles (elected/revoked): at no instant two holders of a role (beyond
//    the clock margin), tokens only grow (check_histories, with kill -9
//    and SIGSTOP cutting holds short); a run other than a member's last
//    that ends holding a role was killed; with end_ns, every expected role
//    is held at end_ns and was held again within session timeout +
//    liveness margin after the last fault;
//  - keys: check_divider_histories with the expected keys and the gap
//    deadline counted from the last fault of any kind;
//  - ranges: no value of a space is drawn twice, across workers and runs;
//  - records: per key, no Value accepted twice, and in Value order the
//    tokens never go down (a smaller token accepted after a larger one is
//    the fencing failure); a refusal names a newer token than its own.
fleet_report check_fleet_lines(const std::vector<history_line>& lines, const std::vector<fault>& faults,
                               const fleet_check_options& options = {});

// The same over history files; a missing file or a torn line is a problem.
fleet_report check_fleet_files(const std::vector<std::filesystem::path>& files, const std::vector<fault>& faults,
                               const fleet_check_options& options = {});

}  // namespace nominee::testing
