#pragma once
// Histories written by processes that hold things (a role, later work keys),
// and a checker that says whether two of them ever held the same thing at
// once.
//
// A history file is what one member's processes appended, one line per
// event, each line "<ns> <member> <verb> [args...]", where <ns> is
// std::chrono::steady_clock (CLOCK_MONOTONIC: comparable across processes on
// one machine) in nanoseconds since its epoch. Verbs:
//
//   started                      a process began (a new run of the member)
//   exiting                      it stops acting and shuts down (SIGTERM)
//   elected <token>              it holds the file's subject (its role)
//   revoked <reason>             it no longer does
//   act <token>                  it acted as holder (it checked is_holder())
//   acquired <subject> <token>   the same for a named subject (a key)
//   released <subject> <reason>
//   acted <subject> <token>
//   anything else                kept as a note (session events, diagnostics)
//
// The test that runs the processes keeps a fault_log: kill -9, SIGSTOP and
// SIGCONT, forced expiries, restarts, each with its steady time. A process
// killed while holding cannot write `revoked`: its hold ends at the kill. A
// stopped process cannot act: its hold ends at the stop at the latest when
// it is resumed later (its `act` lines after the resume are still checked).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <tuple>
#include <vector>

#include "history_file.hpp"  // steady_now_ns, reading the files

namespace nominee::testing {

enum class history_verb { started, exiting, acquired, released, acted, note };

struct history_event {
  std::int64_t at_ns = 0;
  std::string member;
  history_verb verb = history_verb::note;
  std::string subject;  // the role (from the file) or the key (from the line)
  std::int64_t token = 0;
  std::string detail;   // the revoke reason, or a note's words
  std::string origin;   // "file:line", for reports
  std::string line;     // the line as written
};

struct parsed_history {
  std::vector<history_event> events;  // in file order
  std::vector<std::string> problems;  // lines that could not be read
};

// Parses one line; `subject` names what elected/revoked/act are about.
std::optional<history_event> parse_history_line(const std::string& line, const std::string& subject,
                                                std::string* problem = nullptr);
// Parses a whole file. A last line without its newline (a process killed
// mid-write) is a problem, not an event. A missing file is a problem.
parsed_history parse_history_file(const std::filesystem::path& path, const std::string& subject);

// What a test did. The first six are done to a member's process (member:
// its name). The rest come from the fault runner: a network partition of a
// member (its client's proxy black-holes it) or a slow link (its proxy
// delays every chunk), and their end (heal), an affinity
// change, work keys added or removed (member: "-" or who did it), and a
// ZooKeeper server killed or restarted (member: "zk1", "zk2", ...). The
// checkers match kinds exactly: a kind they do not know of is only counted,
// and is "a fault" where any fault counts (the last fault before the end).
enum class fault_kind {
  kill,
  stop,
  resume,
  expire,
  restart,
  terminate,
  partition,
  slow_link,
  heal,
  affinity,
  add_keys,
  remove_keys,
  server_kill,
  server_restart,
};
std::string to_string(fault_kind kind);
// False for the changes that only move work (affinity, keys added or
// removed): the divider hands those keys over gracefully, so they explain no
// long wait for an owner. Every other kind may (a process or server gone or
// frozen, a partition, an expiry, or the recovery from one).
bool can_stall_ownership(fault_kind kind);

struct fault;
// "Never ended" in the checkers' intervals.
inline constexpr std::int64_t forever_ns = std::numeric_limits<std::int64_t>::max();
// The first fault of `kind` on `member` at a time in [from, to], if any.
std::optional<fault> first_fault(const std::vector<fault>& faults, fault_kind kind, const std::string& member,
                                 std::int64_t from, std::int64_t to);
// A time in reports: "+12.345 ms" after origin, or "+inf" for forever_ns.
std::string relative_time(std::int64_t ns, std::int64_t origin_ns);

struct fault {
  std::int64_t at_ns = 0;  // taken just before the fault was injected
  fault_kind kind = fault_kind::kill;
  std::string member;
  std::string detail;
};

// A SIGSTOP of `member` that cut short what it held over [from, to): the
// first stop recorded in that span, or up to `slack_ns` before it (a stop
// is recorded just before the signal) unless a resume came in between; and
// the resume after that stop, if one came before `to`.
struct freeze {
  fault stop;
  std::optional<fault> resume;
};
std::optional<freeze> freeze_within(const std::vector<fault>& faults, const std::string& member, std::int64_t from,
                                    std::int64_t to, std::int64_t slack_ns);

// What a test did to its processes; thread-safe.
class fault_log {
 public:
  // Records the fault at steady_now_ns() and returns that time. Call it
  // before injecting the fault, so the time is an upper bound for a kill.
  std::int64_t record(fault_kind kind, std::string member, std::string detail = {});
  void add(fault f);
  std::vector<fault> faults() const;
  int count(fault_kind kind) const;

 private:
  mutable std::mutex mutex_;
  std::vector<fault> faults_;
};

// What both checkers start from: each member's events together, in its
// file's order (which is time order: its processes ran one after another),
// the faults in time order, and the span [origin_ns, last_ns] they cover.
template <class Event>
void frame_history(std::vector<Event>& events, std::vector<fault>& faults, std::int64_t& origin_ns,
                   std::int64_t& last_ns) {
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.member, a.at_ns) < std::tie(b.member, b.at_ns);
  });
  std::sort(faults.begin(), faults.end(), [](const fault& a, const fault& b) { return a.at_ns < b.at_ns; });
  origin_ns = std::numeric_limits<std::int64_t>::max();
  last_ns = 0;
  for (auto& e : events) {
    origin_ns = std::min(origin_ns, e.at_ns);
    last_ns = std::max(last_ns, e.at_ns);
  }
  for (auto& f : faults) {
    origin_ns = std::min(origin_ns, f.at_ns);
    last_ns = std::max(last_ns, f.at_ns);
  }
  if (origin_ns == std::numeric_limits<std::int64_t>::max()) origin_ns = 0;
}

// The evidence printed with a violation: `lines` (time, text) about it,
// plus the faults in [lo, hi], in time order; when there are more than
// max_lines, the ones nearest the middle of [from, to]. rel() prints a time.
std::string render_context(std::vector<std::pair<std::int64_t, std::string>> lines, const std::vector<fault>& faults,
                           std::int64_t lo, std::int64_t hi, std::int64_t from, std::int64_t to, std::size_t max_lines,
                           const std::function<std::string(std::int64_t)>& rel);

// Calls visit(first, end) for each member's run of framed events.
template <class Event, class Visit>
void for_each_member_run(const std::vector<Event>& events, Visit visit) {
  std::size_t i = 0;
  while (i < events.size()) {
    std::size_t j = i;
    while (j < events.size() && events[j].member == events[i].member) ++j;
    visit(i, j);
    i = j;
  }
}

// One member holding one subject, from `acquired` until it ended.
struct hold_interval {
  std::string subject;
  std::string member;
  int run = 0;  // which process of the member (0 = the first `started`)
  std::int64_t token = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  // "revoked:<reason>", "exiting", "kill", "stop", or "open" (never ended).
  std::string end_cause;
  // When the process itself said it let go (revoked/exiting), if it did;
  // after a stop this is later than end_ns.
  std::optional<std::int64_t> released_ns;
  // For holds cut short by a stop: when the process was resumed.
  std::optional<std::int64_t> resumed_ns;
  std::string origin;
};

struct violation {
  std::string kind;         // "overlap", "token_order", "acted_while_other_held", ...
  std::string description;  // what happened, with members, tokens and times
  std::string context;      // the events and faults around it, one per line
};

// A time when nobody held a subject, between two holds.
struct vacancy {
  std::int64_t from_ns = 0;  // the end of the hold before
  std::int64_t to_ns = 0;    // the start of the next
  std::string before;        // the two holds, described
  std::string after;
  std::int64_t length_ns() const { return to_ns - from_ns; }
};

struct history_check_options {
  // How much of the timeline to show around a violation.
  std::int64_t context_window_ns = 1'500'000'000;
  std::size_t max_context_lines = 40;
  // A run that ends holding, with no exiting and no kill recorded for it,
  // is a violation (a process died unseen) unless this is false.
  bool open_hold_is_violation = true;
  // A forced expiry (a twin handle attaches to the holder's session and
  // closes it) ends the session at once, without the session timeout the
  // suspension rule counts on: the holder learns of it only when the server
  // drops its connection, a few milliseconds before a successor can win.
  // The owner's client may even take the session back from the twin for a
  // moment and confirm its node just before the twin closes the session;
  // then only its lease (2/3 of the session timeout) ends its hold. Overlaps
  // and acts of a holder within this long after a forced expiry of its
  // session are reported as `tolerated`, not as violations: pass the
  // session timeout.
  std::int64_t forced_expiry_grace_ns = 2'000'000'000;
  // Two holds that overlap by at most this are tolerated (and listed), as
  // the divider checker's clock margin: 0 tolerates nothing.
  std::int64_t clock_margin_ns = 0;
};

struct history_report {
  std::size_t events = 0;
  std::size_t runs = 0;
  std::size_t elections = 0;  // acquired events that started a hold
  std::size_t revocations = 0;
  std::size_t acts = 0;
  std::map<std::string, std::size_t> revoke_reasons;
  std::map<std::string, std::size_t> elections_by_member;
  std::map<std::string, std::size_t> faults;  // by kind
  std::vector<hold_interval> holds;           // sorted by start
  std::vector<violation> violations;
  std::vector<violation> tolerated;           // a forced expiry or the clock margin explains them
  std::map<std::string, vacancy> longest_vacancy;  // by subject (liveness)
  std::vector<std::string> problems;          // unreadable lines
  std::int64_t origin_ns = 0;                 // "+0 ms" in reports: the first event or fault

  bool ok() const { return violations.empty() && problems.empty(); }
  // Counts, then every violation (and tolerated one) with its context.
  std::string summary() const;
  // The holds, one per line (for a failure message).
  std::string timeline() const;
};

// Checks every subject in `events` (all members' events, any order):
//  - at no instant two holders of one subject (holds must not overlap);
//  - tokens only grow in election order (equal only when the same member
//    is re-elected on the same node, after a reconnect);
//  - nobody acts as holder while another member holds;
//  - no revoke without a hold, no second acquire while holding, no hold
//    that a run leaves open without exiting or a recorded kill.
// Holds end at the kill time of a kill -9 and at the stop time of a SIGSTOP
// that was followed by a resume before the process let go.
history_report check_histories(std::vector<history_event> events, const std::vector<fault>& faults,
                               const history_check_options& options = {});

// Convenience: parse several files (one subject) and check them together.
history_report check_history_files(const std::vector<std::filesystem::path>& files, const std::string& subject,
                                   const std::vector<fault>& faults, const history_check_options& options = {});

}  // namespace nominee::testing
