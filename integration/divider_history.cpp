#include "divider_history.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <tuple>

namespace nominee::testing {

namespace {

constexpr std::int64_t forever = forever_ns;

}  // namespace

std::optional<divider_event> parse_divider_line(const std::string& line, std::string* problem) {
  auto fail = [&](const std::string& why) -> std::optional<divider_event> {
    if (problem) *problem = why + ": '" + line + "'";
    return std::nullopt;
  };
  auto fields = split_history_line(line, problem);
  if (!fields) return std::nullopt;
  const auto& verb = fields->verb;
  auto& args = fields->args;
  divider_event e;
  e.at_ns = fields->at_ns;
  e.member = fields->member;
  e.line = line;
  if (verb == "started") {
    e.verb = divider_verb::started;
  } else if (verb == "exiting") {
    e.verb = divider_verb::exiting;
    e.detail = args.empty() ? "" : args[0];
  } else if (verb == "start") {
    e.verb = divider_verb::start;
    if (args.size() < 2 || !parse_history_int(args[1], e.token)) return fail("'start' needs <key> <numeric token>");
    e.key = args[0];
  } else if (verb == "stop") {
    e.verb = divider_verb::stop;
    if (args.size() < 2) return fail("'stop' needs <key> <reason>");
    e.key = args[0];
    e.detail = args[1];
  } else if (verb == "confirm") {
    e.verb = divider_verb::confirm;
    if (args.empty()) return fail("'confirm' needs <key>");
    e.key = args[0];
  } else {
    e.verb = divider_verb::note;
    e.detail = verb;
    for (auto& a : args) e.detail += " " + a;
  }
  return e;
}

parsed_divider_history parse_divider_file(const std::filesystem::path& path) {
  return parse_history_lines<parsed_divider_history>(
      path, [](const std::string& line, std::string* problem) { return parse_divider_line(line, problem); });
}

std::set<std::string> running_keys(const std::vector<divider_event>& events) {
  std::set<std::string> running;
  for (auto& e : events) {
    switch (e.verb) {
      case divider_verb::started:
      case divider_verb::exiting: running.clear(); break;
      case divider_verb::start: running.insert(e.key); break;
      case divider_verb::confirm: running.erase(e.key); break;
      case divider_verb::stop:
      case divider_verb::note: break;
    }
  }
  return running;
}

namespace {

class divider_checker {
 public:
  divider_checker(std::vector<divider_event> events, const std::vector<fault>& faults,
                  const divider_check_options& options)
      : events_(std::move(events)), faults_(faults), options_(options) {
    frame_history(events_, faults_, origin_ns_, last_ns_);
  }

  divider_report run() {
    report_.events = events_.size();
    report_.origin_ns = origin_ns_;
    for (auto& f : faults_) report_.faults[to_string(f.kind)]++;
    for_each_member_run(events_, [this](std::size_t first, std::size_t end) { replay_member(first, end); });
    cut_at_stops();
    std::sort(report_.intervals.begin(), report_.intervals.end(),
              [](const ownership_interval& a, const ownership_interval& b) {
                return std::tie(a.start_ns, a.key) < std::tie(b.start_ns, b.key);
              });
    check_keys();
    return std::move(report_);
  }

 private:
  struct held {
    ownership_interval interval;
    bool stopping = false;
    std::string reason;
  };

  void replay_member(std::size_t begin, std::size_t end) {
    const std::string member = events_[begin].member;
    int run = -1;
    bool exited = false;
    std::int64_t run_start = events_[begin].at_ns;
    std::map<std::string, held> open;  // by key
    std::int64_t session_expired_ns = -1;  // this run's last "session expired" note (-1: none)

    auto close = [&](held& h, std::int64_t at, std::string cause) {
      h.interval.end_ns = std::max(at, h.interval.start_ns);
      h.interval.end_cause = std::move(cause);
      report_.intervals.push_back(h.interval);
    };
    auto finish_run = [&](std::int64_t next_run_start) {
      if (open.empty()) return;
      // A run that ends holding was killed: by the kill recorded during it.
      // (The kill is recorded just before the signal: a start can follow.)
      auto kill = first_fault(fault_kind::kill, member, run_start, next_run_start);
      for (auto& [key, h] : open) {
        if (kill) {
          close(h, kill->at_ns, "kill");
        } else if (next_run_start == forever) {
          h.interval.end_ns = forever;  // still owned: the process is alive
          h.interval.end_cause = "open";
          report_.intervals.push_back(h.interval);
        } else {
          close(h, next_run_start, "vanished");
          add_violation("vanished",
                        member + " (run " + std::to_string(h.interval.run) + ") ended holding '" + key +
                            "' (token " + std::to_string(h.interval.token) + ", since " + rel(h.interval.start_ns) +
                            ") without exiting, and no kill was recorded for it",
                        key, {member}, h.interval.start_ns, next_run_start);
        }
      }
      open.clear();
    };

    for (std::size_t k = begin; k < end; ++k) {
      const auto& e = events_[k];
      if (exited && e.verb != divider_verb::started) {
        if (e.verb != divider_verb::note) ++report_.notes_after_exit;
        continue;
      }
      switch (e.verb) {
        case divider_verb::started:
          if (run >= 0) finish_run(e.at_ns);
          ++run;
          ++report_.runs;
          exited = false;
          run_start = e.at_ns;
          session_expired_ns = -1;
          break;
        case divider_verb::exiting: {
          bool flushed = e.detail == "flush=ok";
          if (!flushed) ++report_.unflushed_exits;
          for (auto& [key, h] : open) {
            if (flushed)
              add_violation("held_after_flush",
                            member + " exited after a flush that completed, still holding '" + key + "' (token " +
                                std::to_string(h.interval.token) + ", since " + rel(h.interval.start_ns) + ")",
                            key, {member}, h.interval.start_ns, e.at_ns);
            close(h, e.at_ns, "exiting");
          }
          open.clear();
          exited = true;
          break;
        }
        case divider_verb::start: {
          if (run < 0) {  // a file without `started`: one run
            run = 0;
            ++report_.runs;
          }
          ++report_.starts;
          keys_.insert(e.key);
          auto it = open.find(e.key);
          if (it != open.end()) {
            add_violation("start_while_held",
                          member + " got on_start for '" + e.key + "' (token " + std::to_string(e.token) + ") at " +
                              rel(e.at_ns) + " while it still held it (token " +
                              std::to_string(it->second.interval.token) + ", " +
                              (it->second.stopping ? "stopping" : "running") + ")",
                          e.key, {member}, it->second.interval.start_ns, e.at_ns);
            break;
          }
          held h;
          h.interval.key = e.key;
          h.interval.member = member;
          h.interval.run = std::max(run, 0);
          h.interval.token = e.token;
          h.interval.start_ns = e.at_ns;
          h.interval.end_ns = forever;
          h.interval.origin = e.origin;
          open.emplace(e.key, std::move(h));
          break;
        }
        case divider_verb::stop: {
          ++report_.stops;
          report_.stops_by_reason[e.detail]++;
          auto it = open.find(e.key);
          if (it == open.end() || it->second.stopping) {
            add_violation("stop_without_start",
                          member + " got on_stop(" + e.detail + ") for '" + e.key + "' at " + rel(e.at_ns) +
                              (it == open.end() ? " without running it" : " twice"),
                          e.key, {member}, e.at_ns, e.at_ns);
            break;
          }
          it->second.stopping = true;
          it->second.reason = e.detail;
          it->second.interval.stop_ns = e.at_ns;
          break;
        }
        case divider_verb::confirm: {
          ++report_.confirms;
          auto it = open.find(e.key);
          if (it == open.end() || !it->second.stopping) {
            add_violation("confirm_without_stop",
                          member + " confirmed '" + e.key + "' at " + rel(e.at_ns) + " without a stop before it",
                          e.key, {member}, e.at_ns, e.at_ns);
            break;
          }
          // After a stop the member starts no new work on the key. For a
          // moved, released, removed or flushed key the divider hands it on
          // only after the confirm, so the work ends there. For suspended,
          // expired and lost it cannot wait (the server may already have given
          // the key away): the work ends at the stop, and what the member
          // still had in flight (a write on a dead connection that delays
          // the confirm) is for the fencing token to refuse, which the record
          // check verifies.
          // Suspended (and lease_lapsed, its twin for a member that froze
          // or heard nothing before the client noticed) counts so only when
          // the session did expire before the confirm: if the same session
          // came back, the owner node stayed until the confirm, and nobody
          // else could have started.
          const auto& why = it->second.reason;
          auto stopped = *it->second.interval.stop_ns;
          bool expired_meanwhile = session_expired_ns >= stopped;
          bool gone_without_waiting = why == "expired" || why == "lost" ||
                                      ((why == "suspended" || why == "lease_lapsed") && expired_meanwhile);
          close(it->second, gone_without_waiting ? stopped : e.at_ns, "confirm:" + why);
          open.erase(it);
          break;
        }
        case divider_verb::note:
          if (e.detail == "session expired") session_expired_ns = e.at_ns;
          // The divider refused a confirm of a key it had just stopped.
          if (e.detail.rfind("confirm_failed", 0) == 0)
            add_violation("confirm_failed", member + ": " + e.detail + " at " + rel(e.at_ns), e.key, {member}, e.at_ns,
                          e.at_ns);
          break;
      }
    }
    finish_run(forever);
  }

  // A stopped process cannot work: an interval during which its member was
  // stopped ends at the stop. The stop is recorded just before the signal,
  // so an interval that began in between counts too, unless a resume came
  // before it began. When the process was resumed before the interval ended
  // (it had not confirmed yet), the rest is an interval of its own, which
  // may be cut again by a later stop.
  void cut_at_stops() {
    constexpr std::int64_t recording_slack_ns = 100'000'000;
    std::vector<ownership_interval> pending = std::move(report_.intervals);
    report_.intervals.clear();
    while (!pending.empty()) {
      auto h = std::move(pending.back());
      pending.pop_back();
      auto frozen = freeze_within(faults_, h.member, h.start_ns, h.end_ns, recording_slack_ns);
      if (!frozen) {
        report_.intervals.push_back(std::move(h));
        continue;
      }
      auto cut = std::max(frozen->stop.at_ns, h.start_ns);
      if (frozen->resume) {
        ownership_interval rest = h;
        rest.start_ns = std::max(frozen->resume->at_ns, cut);
        rest.frozen_at_ns = frozen->stop.at_ns;
        rest.resumed_ns.reset();
        h.resumed_ns = frozen->resume->at_ns;
        pending.push_back(std::move(rest));
      }
      if (h.stop_ns && *h.stop_ns > cut) h.stop_ns.reset();  // written after the resume: the rest's
      h.end_ns = cut;
      h.end_cause = "stop";
      report_.intervals.push_back(std::move(h));
    }
  }

  // `resumed` is the work of a process after a SIGSTOP, `other` another
  // member's interval it overlaps. That is stale work, not two owners, when
  // the other took the key after the stop (the stopped process's session
  // expired) and the resumed one let go within the session timeout.
  // Only when the session could have expired: the server ends it after a
  // session timeout of silence, and the client's last ping may be a third of
  // that old when the process froze; so the pause lasted at least 2/3 of the
  // timeout, and the other started at least that long after the stop. A
  // shorter pause leaves the session (and the owner node) alive, and an
  // overlap after it is two owners.
  bool stale_after_resume(const ownership_interval& resumed, const ownership_interval& other) const {
    if (!resumed.frozen_at_ns || other.start_ns < *resumed.frozen_at_ns) return false;
    if (other.member == resumed.member && other.run == resumed.run) return false;
    auto expiry_possible = *resumed.frozen_at_ns + options_.session_timeout_ns * 2 / 3;
    if (resumed.start_ns < expiry_possible || other.start_ns < expiry_possible) return false;
    auto let_go = resumed.stop_ns.value_or(resumed.end_ns);
    return let_go <= resumed.start_ns + options_.session_timeout_ns;
  }

  // A forced expiry (a twin handle closes the session) ends the session at
  // once: the owner learns of it only when the server drops its connection,
  // a few milliseconds before a successor can start. An overlap that begins
  // within the session timeout after such an expiry of the earlier owner's
  // session, and that the earlier owner ended within the session timeout,
  // is that, not two owners (election_history has the same rule).
  bool explained_by_forced_expiry(const ownership_interval& earlier, const ownership_interval& later) const {
    for (auto& f : faults_) {
      if (f.kind != fault_kind::expire || f.member != earlier.member) continue;
      if (f.at_ns > later.start_ns || later.start_ns - f.at_ns > options_.session_timeout_ns) continue;
      if (earlier.end_ns <= f.at_ns + options_.session_timeout_ns) return true;
    }
    return false;
  }

  void check_keys() {
    std::map<std::string, std::vector<const ownership_interval*>> by_key;
    for (auto& h : report_.intervals) by_key[h.key].push_back(&h);
    std::set<std::string> expected(options_.expected_keys.begin(), options_.expected_keys.end());
    if (expected.empty()) expected = keys_;
    for (auto& k : expected) keys_.insert(k);
    report_.keys = keys_.size();

    std::optional<std::int64_t> last_fault;
    if (options_.end_ns > 0)
      for (auto& f : faults_)
        if (f.at_ns <= options_.end_ns) last_fault = f.at_ns;
    report_.last_fault_ns = last_fault;

    for (auto& key : keys_) {
      auto& intervals = by_key[key];  // sorted by start, as report_.intervals
      const ownership_interval* longest = nullptr;  // the earlier interval that ends last
      const ownership_interval* previous = nullptr;
      // When the key was last owned again after a vacancy that reaches past
      // the last fault (for liveness).
      std::optional<std::int64_t> owned_again;
      if (!intervals.empty() && last_fault && intervals.front()->start_ns > *last_fault)
        owned_again = intervals.front()->start_ns;
      for (auto* h : intervals) {
        if (longest && h->start_ns < longest->end_ns) {
          auto overlap = std::min(longest->end_ns, h->end_ns) - h->start_ns;
          bool within_margin = overlap <= options_.clock_margin_ns;
          bool stale = stale_after_resume(*longest, *h) || stale_after_resume(*h, *longest);
          bool expiry = !within_margin && !stale && explained_by_forced_expiry(*longest, *h);
          add_violation(within_margin || stale || expiry ? "tolerated:overlap" : "overlap",
                        std::string(within_margin ? "within the clock margin: "
                                    : stale       ? "stale work of a resumed process: "
                                    : expiry      ? "after a forced expiry of the first one's session: "
                                                  : "") +
                            "two members worked on '" + key + "' at once: " + describe(*longest) + " and " +
                            describe(*h) + " overlap by " + history_ms(overlap),
                        key, {longest->member, h->member}, std::min(longest->start_ns, h->start_ns),
                        std::min(longest->end_ns, std::max(h->end_ns, h->start_ns)));
        } else if (longest) {
          unowned_gap gap{key, longest->end_ns, h->start_ns, describe(*longest), describe(*h)};
          if (!report_.longest_gap || gap.length_ns() > report_.longest_gap->length_ns()) report_.longest_gap = gap;
          if (longest->end_cause == "kill" &&
              (!report_.longest_gap_after_kill || gap.length_ns() > report_.longest_gap_after_kill->length_ns()))
            report_.longest_gap_after_kill = gap;
          // Only a vacancy the last fault may have caused (one that began
          // before it); later ones are check_takeover's.
          if (last_fault && h->start_ns > *last_fault && gap.from_ns <= *last_fault) owned_again = h->start_ns;
          check_takeover(gap, *longest, *h);
        }
        // The work after a resume carries on the interval before the stop:
        // it started nothing, so its token is no new start's.
        if (previous && !h->frozen_at_ns) {
          bool backwards = h->token < previous->token;
          bool reused = h->token == previous->token && (h->member != previous->member || h->run != previous->run);
          if (backwards || reused)
            add_violation("token_order",
                          "tokens of '" + key + "' must grow: " + describe(*previous) + " then " + describe(*h), key,
                          {previous->member, h->member}, previous->start_ns, h->start_ns);
        }
        if (!longest || h->end_ns > longest->end_ns) longest = h;
        if (!h->frozen_at_ns) previous = h;
      }

      if (options_.end_ns <= 0 || !expected.count(key)) continue;
      bool owned_at_end = std::any_of(intervals.begin(), intervals.end(), [&](const ownership_interval* h) {
        return h->start_ns <= options_.end_ns && h->end_ns > options_.end_ns;
      });
      if (!owned_at_end) {
        std::string last = intervals.empty() ? std::string("it was never started") : "its last owner: " +
                                                                                          describe(*longest);
        add_violation("unowned_at_end", "nobody worked on '" + key + "' at the end " + rel(options_.end_ns) + "; " + last,
                      key, {}, intervals.empty() ? options_.end_ns : longest->start_ns, options_.end_ns);
        continue;
      }
      if (!last_fault) continue;
      auto again = owned_again.value_or(*last_fault);
      if (!report_.all_owned_ns || again > *report_.all_owned_ns) report_.all_owned_ns = again;
      auto limit = *last_fault + options_.session_timeout_ns + options_.liveness_margin_ns;
      if (again > limit)
        add_violation("slow_reown",
                      "'" + key + "' was owned again only at " + rel(again) + ", " + history_ms(again - *last_fault) +
                          " after the last fault (" + rel(*last_fault) + "); the limit is " +
                          history_ms(options_.session_timeout_ns + options_.liveness_margin_ns),
                      key, {}, *last_fault, again);
    }
  }

  // A key whose owner let go (or died) goes to the next member at once, or,
  // when that member was killed and the server still lists it, once its
  // session has expired. So a gap ends within the session timeout (plus
  // margin) of its own start or of the last kill before its end, whichever
  // is later: that allows chains of killed members, and nothing stuck.
  // With gap_deadline_after_any_fault, the faults that may hold a key
  // between two owners: any fault of those two; a process of any member
  // gone, frozen, cut off or expired (the server lists it, so the key may
  // be assigned to it, until its session ends); a ZooKeeper server killed
  // or back (a new leader gives every session a fresh timeout). Not the
  // recoveries of third parties (resume, heal, restart: a graceful join)
  // nor changes that only move work.
  static bool delays_takeover(const fault& f, const ownership_interval& before, const ownership_interval& after) {
    if (!can_stall_ownership(f.kind)) return false;
    if (f.member == before.member || f.member == after.member) return true;
    switch (f.kind) {
      case fault_kind::kill:
      case fault_kind::stop:
      case fault_kind::expire:
      case fault_kind::partition:
      case fault_kind::slow_link:
      case fault_kind::server_kill:
      case fault_kind::server_restart: return true;
      default: return false;
    }
  }

  void check_takeover(const unowned_gap& gap, const ownership_interval& before, const ownership_interval& after) {
    auto from = gap.from_ns;
    const fault* cause = nullptr;
    for (auto& f : faults_) {
      bool counts = f.kind == fault_kind::kill || (options_.gap_deadline_after_any_fault && delays_takeover(f, before, after));
      if (counts && f.at_ns <= gap.to_ns && f.at_ns > from) {
        from = f.at_ns;
        cause = &f;
      }
    }
    auto limit = from + options_.session_timeout_ns + options_.liveness_margin_ns;
    if (gap.to_ns <= limit) return;
    std::string base = "the gap began";
    if (cause && cause->kind == fault_kind::kill && !options_.gap_deadline_after_any_fault)
      base = "the last kill (" + rel(from) + ")";
    else if (cause)
      base = "the last fault (" + to_string(cause->kind) + " " + cause->member + " at " + rel(from) + ")";
    add_violation("slow_takeover",
                  "nobody worked on '" + gap.key + "' for " + history_ms(gap.length_ns()) + ", until " + rel(gap.to_ns) +
                      ": more than " + history_ms(options_.session_timeout_ns + options_.liveness_margin_ns) + " after " +
                      base + "; before: " + gap.before + "; after: " + gap.after,
                  gap.key, {before.member, after.member}, gap.from_ns, gap.to_ns);
  }

  std::optional<fault> first_fault(fault_kind kind, const std::string& member, std::int64_t from,
                                   std::int64_t to) const {
    return testing::first_fault(faults_, kind, member, from, to);
  }

  std::string rel(std::int64_t ns) const { return relative_time(ns, origin_ns_); }

  std::string describe(const ownership_interval& h) const {
    std::string s = h.member + " (run " + std::to_string(h.run) + ", token " + std::to_string(h.token) + ") [" +
                    rel(h.start_ns) + ", " + rel(h.end_ns) + "] ended by " + h.end_cause;
    if (h.stop_ns && h.end_cause.rfind("confirm", 0) != 0) s += ", stop at " + rel(*h.stop_ns);
    if (h.resumed_ns) s += ", resumed at " + rel(*h.resumed_ns);
    if (h.frozen_at_ns) s += ", after a SIGSTOP at " + rel(*h.frozen_at_ns);
    return s;
  }

  void add_violation(std::string kind, std::string description, const std::string& key,
                     const std::set<std::string>& members, std::int64_t from, std::int64_t to) {
    divider_violation v;
    bool tolerated = kind.rfind("tolerated:", 0) == 0;
    v.kind = tolerated ? kind.substr(10) : std::move(kind);
    v.description = std::move(description);
    v.context = context(key, members, from, to);
    (tolerated ? report_.tolerated : report_.violations).push_back(std::move(v));
  }

  // The key's events, the involved members' other events (runs, session
  // changes, leaving), and the faults near [from, to].
  std::string context(const std::string& key, const std::set<std::string>& members, std::int64_t from,
                      std::int64_t to) const {
    if (to == forever) to = last_ns_;
    auto lo = from - options_.context_window_ns;
    auto hi = to + options_.context_window_ns;
    std::vector<std::pair<std::int64_t, std::string>> lines;
    for (auto& e : events_) {
      if (e.at_ns < lo || e.at_ns > hi) continue;
      bool about_key = !e.key.empty() && e.key == key;
      bool about_member = e.key.empty() && members.count(e.member);
      if (!about_key && !about_member) continue;
      lines.emplace_back(e.at_ns, rel(e.at_ns) + "  " + e.line + "  (" + e.origin + ")");
    }
    return render_context(std::move(lines), faults_, lo, hi, from, to, options_.max_context_lines,
                          [this](std::int64_t ns) { return rel(ns); });
  }

  std::vector<divider_event> events_;
  std::vector<fault> faults_;
  divider_check_options options_;
  std::int64_t origin_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::set<std::string> keys_;
  divider_report report_;
};

}  // namespace

divider_report check_divider_histories(std::vector<divider_event> events, const std::vector<fault>& faults,
                                       const divider_check_options& options) {
  return divider_checker(std::move(events), faults, options).run();
}

divider_report check_divider_files(const std::vector<std::filesystem::path>& files, const std::vector<fault>& faults,
                                   const divider_check_options& options) {
  std::vector<divider_event> events;
  std::vector<std::string> problems;
  for (auto& f : files) {
    auto parsed = parse_divider_file(f);
    events.insert(events.end(), parsed.events.begin(), parsed.events.end());
    problems.insert(problems.end(), parsed.problems.begin(), parsed.problems.end());
  }
  auto report = check_divider_histories(std::move(events), faults, options);
  report.problems.insert(report.problems.end(), problems.begin(), problems.end());
  return report;
}

std::string divider_report::summary() const {
  std::ostringstream out;
  auto rel = [&](std::int64_t ns) { return "+" + history_ms(ns - origin_ns); };
  out << "divider history: events " << events << ", runs " << runs << ", keys " << keys << ", starts " << starts
      << ", stops " << stops << " (";
  bool first = true;
  for (auto& [reason, n] : stops_by_reason) {
    out << (first ? "" : " ") << reason << "=" << n;
    first = false;
  }
  out << "), confirms " << confirms << ", intervals " << intervals.size() << ", violations " << violations.size()
      << ", tolerated " << tolerated.size() << "\n  faults:";
  for (auto& [kind, n] : faults) out << " " << kind << "=" << n;
  out << "; exits without a completed flush " << unflushed_exits << "; callbacks logged after exiting "
      << notes_after_exit << "\n";
  if (longest_gap_after_kill)
    out << "  longest unowned gap after a kill: " << history_ms(longest_gap_after_kill->length_ns()) << " ('"
        << longest_gap_after_kill->key << "' after " << longest_gap_after_kill->before << ")\n";
  else
    out << "  longest unowned gap after a kill: none (no key was held by a killed member and owned again)\n";
  if (longest_gap)
    out << "  longest unowned gap: " << history_ms(longest_gap->length_ns()) << " ('" << longest_gap->key << "' after "
        << longest_gap->before << ")\n";
  if (last_fault_ns) {
    out << "  last fault at " << rel(*last_fault_ns) << "; every key owned again by "
        << (all_owned_ns ? rel(*all_owned_ns) + " (" + history_ms(*all_owned_ns - *last_fault_ns) + " after it)"
                         : std::string("never"))
        << "\n";
  }
  for (auto& p : problems) out << "  PROBLEM " << p << "\n";
  std::size_t shown = 0;
  for (auto& v : violations) {
    if (++shown > 20) {
      out << "  ... " << violations.size() - 20 << " more violations\n";
      break;
    }
    out << "  VIOLATION [" << v.kind << "] " << v.description << "\n" << v.context;
  }
  shown = 0;
  for (auto& v : tolerated) {
    if (++shown > 5) {
      out << "  ... " << tolerated.size() - 5 << " more tolerated\n";
      break;
    }
    out << "  TOLERATED [" << v.kind << "] " << v.description << "\n" << v.context;
  }
  return out.str();
}

std::string divider_report::timeline(const std::string& key) const {
  std::ostringstream out;
  for (auto& h : intervals) {
    if (h.key != key) continue;
    out << "  " << h.key << "  " << h.member << " run " << h.run << " token " << h.token << "  ["
        << history_ms(h.start_ns - origin_ns) << ", "
        << (h.end_ns == forever ? std::string("+inf") : history_ms(h.end_ns - origin_ns)) << "]  " << h.end_cause << "\n";
  }
  return out.str();
}

}  // namespace nominee::testing
