#pragma once
// Histories written by divider members (nominee-divider-member), and a
// checker that says whether two members ever worked on the same key at once.
//
// A history file holds what one member id's processes appended, one line per
// event, "<ns> <member> <verb> [args...]", <ns> being steady_clock
// (CLOCK_MONOTONIC, comparable across processes on one machine) in
// nanoseconds. Verbs:
//
//   started ...              a process began (a new run of the member)
//   start <key> <token>      on_start: the member works on key from now on
//   stop <key> <reason>      on_stop
//   confirm <key>            it stopped working on key; confirm_stop follows
//   exiting flush=<outcome>  it does no more work (SIGTERM); "ok" when the
//                            flush handed every key over
//   anything else            a note (joined, session events, leaving, ...)
//
// A member works on a key from its `start` to its `confirm`, or to its
// `stop` when the reason is suspended, expired or lost: then the divider
// cannot wait for the confirm before the key goes elsewhere, and work still
// in flight is the fencing token's to refuse. A process
// killed with SIGKILL cannot write: its work on every key it held ends at
// the kill (the test's fault log has the time, taken just before the
// signal). Not at the kill plus the session timeout: after kill -9 the
// process does nothing, and the successor may only start once the server
// expired the session, which is later still; counting the session timeout
// in would blame the successor for a takeover that is correct.
//
// A process stopped with SIGSTOP cannot work either: its work on a key it
// held ends at the stop. When it is resumed before it let the key go, the
// rest (from the resume to its confirm) is an interval of its own, marked
// frozen_at_ns: if its session expired meanwhile, another member may own
// the key by then, and the resumed process works on it until it notices.
// The records' fencing token keeps that stale work out; the checker
// tolerates (and lists) such an overlap only when the session could have
// expired: the pause lasted 2/3 of the session timeout, the other member
// took the key at least that long after the stop, and the resumed process
// let go (its `stop`) within the session timeout of the resume.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "election_history.hpp"  // fault, fault_kind, fault_log, steady_now_ns

namespace nominee::testing {

enum class divider_verb { started, exiting, start, stop, confirm, note };

struct divider_event {
  std::int64_t at_ns = 0;
  std::string member;
  divider_verb verb = divider_verb::note;
  std::string key;
  std::int64_t token = 0;
  std::string detail;  // the stop reason, the exiting outcome, or a note's words
  std::string origin;  // "file:line", for reports
  std::string line;    // the line as written
};

struct parsed_divider_history {
  std::vector<divider_event> events;  // in file order
  std::vector<std::string> problems;  // lines that could not be read
};

std::optional<divider_event> parse_divider_line(const std::string& line, std::string* problem = nullptr);
// A last line without its newline (a torn write) is a problem, not an event;
// so is a missing file.
parsed_divider_history parse_divider_file(const std::filesystem::path& path);

// The keys a history's last run works on now (started, not confirmed), or
// nothing when that run has exited. For a live process only: a killed one's
// history still shows what it held when it died.
std::set<std::string> running_keys(const std::vector<divider_event>& events);

// One member working on one key, from `start` until it ended.
struct ownership_interval {
  std::string key;
  std::string member;
  int run = 0;  // which process of the member (0: the first `started`)
  std::int64_t token = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;             // max() while still open at the end
  std::optional<std::int64_t> stop_ns; // its `stop` line, if any
  // "confirm:<reason>", "kill", "exiting", "stop" (SIGSTOP), "vanished", or
  // "open" (still owned).
  std::string end_cause;
  std::string origin;
  // Ended by a SIGSTOP: when the process was resumed, if it was before it
  // let go (the interval after the resume is the next one).
  std::optional<std::int64_t> resumed_ns;
  // The work after such a resume: when the process was stopped.
  std::optional<std::int64_t> frozen_at_ns;
};

struct divider_violation {
  std::string kind;         // "overlap", "token_order", "unowned_at_end", ...
  std::string description;  // what happened: members, tokens, times
  std::string context;      // the key's events and the faults around it
};

struct divider_check_options {
  // Two intervals of a key that overlap by at most this are tolerated (and
  // listed): every line is stamped by one machine clock, and a member writes
  // `confirm` before its owner node goes, so a real handoff never overlaps;
  // the margin only absorbs what a clock read can reorder.
  std::int64_t clock_margin_ns = 2'000'000;
  // The members' session timeout: after the last fault the keys must be
  // owned again within it plus liveness_margin_ns, and no gap may outlast
  // it (plus the margin) after its start or the last kill before its end.
  std::int64_t session_timeout_ns = 2'000'000'000;
  std::int64_t liveness_margin_ns = 1'000'000'000;
  // A gap's deadline counts from the last kill before its end (a killed
  // member's session must expire first). With this, from the last fault of
  // any kind that can stall ownership (can_stall_ownership: not the ones
  // that only move work) and member before its end: a ZooKeeper server
  // killed or a partition delays reconnects, an expiry or a stop delays the
  // handoff.
  bool gap_deadline_after_any_fault = false;
  // When the run under test ended (the test's time just before it stopped
  // every process). Faults after it do not count as "the last fault", and
  // every key must be owned at this instant. 0: no liveness checks.
  std::int64_t end_ns = 0;
  // The keys that must be owned at end_ns (empty: every key seen).
  std::vector<std::string> expected_keys;
  std::int64_t context_window_ns = 1'500'000'000;
  std::size_t max_context_lines = 40;
};

// A time nobody worked on a key, between two intervals.
struct unowned_gap {
  std::string key;
  std::int64_t from_ns = 0;
  std::int64_t to_ns = 0;
  std::string before;  // the two intervals, described
  std::string after;
  std::int64_t length_ns() const { return to_ns - from_ns; }
};

struct divider_report {
  std::size_t events = 0;
  std::size_t runs = 0;
  std::size_t keys = 0;
  std::size_t starts = 0;
  std::size_t stops = 0;
  std::size_t confirms = 0;
  std::size_t notes_after_exit = 0;  // callbacks a process logged after `exiting` (ignored)
  std::size_t unflushed_exits = 0;   // exiting with flush != ok
  std::map<std::string, std::size_t> stops_by_reason;
  std::map<std::string, std::size_t> faults;  // by kind
  std::vector<ownership_interval> intervals;   // sorted by start
  std::vector<divider_violation> violations;
  std::vector<divider_violation> tolerated;    // within clock_margin_ns, or stale work after a resume
  std::vector<std::string> problems;           // unreadable lines
  std::optional<unowned_gap> longest_gap_after_kill;
  std::optional<unowned_gap> longest_gap;      // any cause
  // Liveness (with end_ns): the last fault before end_ns, and when the last
  // key was owned again after it.
  std::optional<std::int64_t> last_fault_ns;
  std::optional<std::int64_t> all_owned_ns;
  std::int64_t origin_ns = 0;  // "+0 ms" in reports: the first event or fault

  bool ok() const { return violations.empty() && problems.empty(); }
  // One line of counts, then the gaps and liveness, then every violation
  // (and tolerated one) with its context.
  std::string summary() const;
  // The intervals of one key, one per line (for a failure message).
  std::string timeline(const std::string& key) const;
};

// Checks all members' events together (any order):
//  - per key, at no instant two members work on it: intervals do not overlap;
//  - per key, tokens grow over successive starts (equal only when the same
//    process starts the key again on the same node, after a suspension);
//  - per process and key, start, stop and confirm come in that order, and
//    confirm_stop accepted every confirm (no `confirm_failed` note);
//  - a run that ends holding keys without `exiting` was killed (a kill is
//    recorded for it), and one that exits after a flush that said ok holds
//    nothing;
//  - no key is unowned longer than session timeout + liveness margin after
//    the later of the gap's start and the last kill before its end (a key
//    waits for killed members' sessions to expire, and for nothing else;
//    with gap_deadline_after_any_fault, the last fault of any kind);
//  - with end_ns: every key is owned at end_ns, and was owned again within
//    session timeout + liveness margin after the last fault.
divider_report check_divider_histories(std::vector<divider_event> events, const std::vector<fault>& faults,
                                       const divider_check_options& options = {});

divider_report check_divider_files(const std::vector<std::filesystem::path>& files, const std::vector<fault>& faults,
                                   const divider_check_options& options = {});

}  // namespace nominee::testing
