#include "election_history.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

namespace nominee::testing {

std::optional<history_event> parse_history_line(const std::string& line, const std::string& subject,
                                                std::string* problem) {
  auto fail = [&](const std::string& why) -> std::optional<history_event> {
    if (problem) *problem = why + ": '" + line + "'";
    return std::nullopt;
  };
  auto fields = split_history_line(line, problem);
  if (!fields) return std::nullopt;
  const auto& verb = fields->verb;
  auto& args = fields->args;
  history_event e;
  e.at_ns = fields->at_ns;
  e.member = fields->member;
  e.subject = subject;
  e.line = line;

  auto token_at = [&](std::size_t i) { return i < args.size() && parse_history_int(args[i], e.token); };
  if (verb == "started") {
    e.verb = history_verb::started;
  } else if (verb == "exiting") {
    e.verb = history_verb::exiting;
  } else if (verb == "elected" || verb == "act") {
    e.verb = verb == "elected" ? history_verb::acquired : history_verb::acted;
    if (!token_at(0)) return fail("'" + verb + "' without a numeric token");
  } else if (verb == "revoked") {
    e.verb = history_verb::released;
    if (args.empty()) return fail("'revoked' without a reason");
    e.detail = args[0];
  } else if (verb == "acquired" || verb == "acted") {
    e.verb = verb == "acquired" ? history_verb::acquired : history_verb::acted;
    if (args.empty() || !token_at(1)) return fail("'" + verb + "' needs <subject> <token>");
    e.subject = args[0];
  } else if (verb == "released") {
    e.verb = history_verb::released;
    if (args.size() < 2) return fail("'released' needs <subject> <reason>");
    e.subject = args[0];
    e.detail = args[1];
  } else {
    e.verb = history_verb::note;
    e.detail = verb;
    for (auto& a : args) e.detail += " " + a;
  }
  return e;
}

parsed_history parse_history_file(const std::filesystem::path& path, const std::string& subject) {
  return parse_history_lines<parsed_history>(
      path, [&](const std::string& line, std::string* problem) { return parse_history_line(line, subject, problem); });
}

std::string render_context(std::vector<std::pair<std::int64_t, std::string>> lines, const std::vector<fault>& faults,
                           std::int64_t lo, std::int64_t hi, std::int64_t from, std::int64_t to, std::size_t max_lines,
                           const std::function<std::string(std::int64_t)>& rel) {
  for (auto& f : faults) {
    if (f.at_ns < lo || f.at_ns > hi) continue;
    lines.emplace_back(f.at_ns, rel(f.at_ns) + "  FAULT " + to_string(f.kind) + " " + f.member +
                                    (f.detail.empty() ? "" : " (" + f.detail + ")"));
  }
  std::stable_sort(lines.begin(), lines.end(), [](auto& a, auto& b) { return a.first < b.first; });
  // Too many: keep the ones nearest the violation.
  auto centre = from / 2 + to / 2;
  while (lines.size() > max_lines) {
    if (centre - lines.front().first > lines.back().first - centre)
      lines.erase(lines.begin());
    else
      lines.pop_back();
  }
  std::string out;
  for (auto& [at, text] : lines) out += "    " + text + "\n";
  return out;
}

std::string to_string(fault_kind kind) {
  switch (kind) {
    case fault_kind::kill: return "kill";
    case fault_kind::stop: return "stop";
    case fault_kind::resume: return "resume";
    case fault_kind::expire: return "expire";
    case fault_kind::restart: return "restart";
    case fault_kind::terminate: return "terminate";
    case fault_kind::partition: return "partition";
    case fault_kind::slow_link: return "slow_link";
    case fault_kind::heal: return "heal";
    case fault_kind::affinity: return "affinity";
    case fault_kind::add_keys: return "add_keys";
    case fault_kind::remove_keys: return "remove_keys";
    case fault_kind::server_kill: return "server_kill";
    case fault_kind::server_restart: return "server_restart";
  }
  return "?";
}

std::optional<fault> first_fault(const std::vector<fault>& faults, fault_kind kind, const std::string& member,
                                 std::int64_t from, std::int64_t to) {
  for (auto& f : faults)
    if (f.kind == kind && f.member == member && f.at_ns >= from && f.at_ns <= to) return f;
  return std::nullopt;
}

std::optional<freeze> freeze_within(const std::vector<fault>& faults, const std::string& member, std::int64_t from,
                                    std::int64_t to, std::int64_t slack_ns) {
  for (auto& f : faults) {
    if (f.kind != fault_kind::stop || f.member != member) continue;
    if (f.at_ns >= to || f.at_ns < from - slack_ns) continue;
    if (f.at_ns < from && first_fault(faults, fault_kind::resume, member, f.at_ns, from)) continue;
    auto resume = first_fault(faults, fault_kind::resume, member, f.at_ns, to);
    if (resume && resume->at_ns >= to) resume.reset();
    return freeze{f, resume};
  }
  return std::nullopt;
}

std::string relative_time(std::int64_t ns, std::int64_t origin_ns) {
  if (ns == forever_ns) return "+inf";
  return "+" + history_ms(ns - origin_ns);
}

bool can_stall_ownership(fault_kind kind) {
  return kind != fault_kind::affinity && kind != fault_kind::add_keys && kind != fault_kind::remove_keys;
}

std::int64_t fault_log::record(fault_kind kind, std::string member, std::string detail) {
  fault f{steady_now_ns(), kind, std::move(member), std::move(detail)};
  auto at = f.at_ns;
  add(std::move(f));
  return at;
}

void fault_log::add(fault f) {
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(f));
}

std::vector<fault> fault_log::faults() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

int fault_log::count(fault_kind kind) const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(std::count_if(faults_.begin(), faults_.end(), [&](const fault& f) { return f.kind == kind; }));
}

namespace {

constexpr std::int64_t forever = forever_ns;

struct act_record {
  const history_event* event;
  int run;
};

class checker {
 public:
  checker(std::vector<history_event> events, const std::vector<fault>& faults, const history_check_options& options)
      : events_(std::move(events)), faults_(faults), options_(options) {
    frame_history(events_, faults_, origin_ns_, last_ns_);
  }

  history_report run() {
    report_.events = events_.size();
    report_.origin_ns = origin_ns_;
    for (auto& f : faults_) report_.faults[to_string(f.kind)]++;
    for_each_member_run(events_, [this](std::size_t first, std::size_t end) { replay_member(first, end); });
    cut_at_stops();
    std::sort(report_.holds.begin(), report_.holds.end(),
              [](const hold_interval& a, const hold_interval& b) { return a.start_ns < b.start_ns; });
    check_overlaps_and_tokens();
    check_acts();
    return std::move(report_);
  }

 private:
  // Replays one member's events [begin, end): its runs and holds.
  void replay_member(std::size_t begin, std::size_t end) {
    const std::string& member = events_[begin].member;
    int run = -1;
    bool exiting = false;
    std::int64_t run_start = events_[begin].at_ns;
    std::map<std::string, hold_interval> open;  // by subject

    auto finish_run = [&](std::int64_t next_run_start) {
      for (auto& [subject, hold] : open) {
        // A process that ends holding must have been killed: by the kill
        // recorded during its run. (The kill is recorded just before it is
        // sent, so the process may still have been elected in between.)
        auto kill = first_fault(fault_kind::kill, member, run_start, next_run_start);
        if (kill) {
          hold.end_ns = std::max(kill->at_ns, hold.start_ns);
          hold.end_cause = "kill";
        } else {
          hold.end_ns = next_run_start == forever ? last_ns_ : next_run_start;
          hold.end_cause = "open";
          if (options_.open_hold_is_violation)
            add_violation("open_hold",
                          member + " (run " + std::to_string(hold.run) + ") ended holding '" + subject +
                              "' (token " + std::to_string(hold.token) + ", since " + rel(hold.start_ns) +
                              ") without exiting, and no kill was recorded for it",
                          hold.start_ns, hold.end_ns);
        }
        report_.holds.push_back(hold);
      }
      open.clear();
    };

    for (std::size_t k = begin; k < end; ++k) {
      const auto& e = events_[k];
      switch (e.verb) {
        case history_verb::started:
          if (run >= 0) finish_run(e.at_ns);
          ++run;
          ++report_.runs;
          exiting = false;
          run_start = e.at_ns;
          break;
        case history_verb::exiting:
          for (auto& [subject, hold] : open) {
            hold.end_ns = e.at_ns;
            hold.end_cause = "exiting";
            hold.released_ns = e.at_ns;
            report_.holds.push_back(hold);
          }
          open.clear();
          exiting = true;
          break;
        case history_verb::acquired: {
          if (exiting) break;  // it no longer acts: the run is shutting down
          if (run < 0) {  // a file without `started`: count it as one run
            run = 0;
            ++report_.runs;
          }
          if (open.count(e.subject)) {
            add_violation("acquired_twice",
                          member + " was elected for '" + e.subject + "' at " + rel(e.at_ns) +
                              " while it already held it (no revoke in between)",
                          e.at_ns, e.at_ns);
            break;
          }
          hold_interval h;
          h.subject = e.subject;
          h.member = member;
          h.run = run;
          h.token = e.token;
          h.start_ns = e.at_ns;
          h.end_ns = forever;
          h.origin = e.origin;
          open.emplace(e.subject, std::move(h));
          ++report_.elections;
          report_.elections_by_member[member]++;
          break;
        }
        case history_verb::released: {
          if (exiting) break;
          ++report_.revocations;
          report_.revoke_reasons[e.detail]++;
          auto it = open.find(e.subject);
          if (it == open.end()) {
            add_violation("revoke_without_hold",
                          member + " reported revoked(" + e.detail + ") for '" + e.subject + "' at " +
                              rel(e.at_ns) + " without holding it",
                          e.at_ns, e.at_ns);
            break;
          }
          it->second.end_ns = e.at_ns;
          it->second.end_cause = "revoked:" + e.detail;
          it->second.released_ns = e.at_ns;
          report_.holds.push_back(it->second);
          open.erase(it);
          break;
        }
        case history_verb::acted:
          ++report_.acts;
          acts_.push_back({&e, std::max(run, 0)});
          break;
        case history_verb::note:
          break;
      }
    }
    finish_run(forever);
  }

  // A stopped process cannot act: a hold during which it was stopped ends
  // at the stop (its acts after the resume are still checked). The stop is
  // recorded just before it is sent, so a hold that began in between counts
  // too, unless a resume came before the hold began.
  void cut_at_stops() {
    constexpr std::int64_t recording_slack_ns = 100'000'000;
    for (auto& h : report_.holds) {
      std::optional<fault> stop;
      for (auto& f : faults_) {
        if (f.kind != fault_kind::stop || f.member != h.member) continue;
        if (f.at_ns > h.end_ns || f.at_ns < h.start_ns - recording_slack_ns) continue;
        if (f.at_ns < h.start_ns && first_fault(fault_kind::resume, h.member, f.at_ns, h.start_ns)) continue;
        stop = f;
        break;
      }
      if (!stop) continue;
      auto resume = first_fault(fault_kind::resume, h.member, stop->at_ns, forever);
      if (resume) h.resumed_ns = resume->at_ns;
      if (!h.released_ns) h.released_ns = h.end_ns;
      h.end_ns = std::max(stop->at_ns, h.start_ns);
      h.end_cause = "stop";
    }
  }

  void check_overlaps_and_tokens() {
    std::map<std::string, std::vector<const hold_interval*>> by_subject;
    for (auto& h : report_.holds) by_subject[h.subject].push_back(&h);
    for (auto& [subject, holds] : by_subject) {
      const hold_interval* longest = nullptr;  // the earlier hold that ends last
      const hold_interval* previous = nullptr;
      for (auto* h : holds) {
        if (longest && h->start_ns < longest->end_ns) {
          auto overlap = std::min(longest->end_ns, h->end_ns) - h->start_ns;
          bool expiry = explained_by_expiry(*longest, h->start_ns, longest->released_ns.value_or(longest->end_ns)) ||
                        reclaimed_after_forced_expiry(*h);
          bool within_margin = options_.clock_margin_ns > 0 && overlap <= options_.clock_margin_ns;
          add_violation(expiry || within_margin ? "tolerated:overlap" : "overlap",
                        std::string(expiry ? "" : within_margin ? "within the clock margin: " : "") +
                            "two holders of '" + subject + "': " + describe(*longest) + " and " + describe(*h) +
                            " overlap by " + history_ms(overlap),
                        std::min(longest->start_ns, h->start_ns), std::max(longest->end_ns, h->start_ns));
        }
        if (longest && h->start_ns >= longest->end_ns) {
          auto& gap = report_.longest_vacancy[subject];
          if (h->start_ns - longest->end_ns >= gap.length_ns())
            gap = vacancy{longest->end_ns, h->start_ns, describe(*longest), describe(*h)};
        }
        if (previous) {
          bool backwards = h->token < previous->token;
          bool reused = h->token == previous->token && h->member != previous->member;
          if (backwards || reused)
            add_violation(reclaimed_after_forced_expiry(*h) ? "tolerated:token_order" : "token_order",
                          "tokens must only grow: " + describe(*previous) + " then " + describe(*h),
                          previous->start_ns, h->start_ns);
        }
        if (!longest || h->end_ns > longest->end_ns) longest = h;
        previous = h;
      }
    }
  }

  void check_acts() {
    for (auto& a : acts_) {
      const auto& e = *a.event;
      for (auto& h : report_.holds) {
        if (h.subject != e.subject) continue;
        if (h.member == e.member && h.run == a.run) continue;
        if (h.start_ns < e.at_ns && e.at_ns < h.end_ns) {
          auto own = std::find_if(report_.holds.begin(), report_.holds.end(), [&](const hold_interval& o) {
            return o.member == e.member && o.run == a.run && o.subject == e.subject && o.start_ns <= e.at_ns &&
                   e.at_ns <= o.released_ns.value_or(o.end_ns);
          });
          // Tolerated when one of the two holds is the stale side of a forced
          // expiry: the actor's own (it acted after losing its session), or
          // the other's (it held on after its session was closed by the twin,
          // and the actor is its rightful successor).
          bool explained =
              own != report_.holds.end() &&
              (explained_by_expiry(*own, h.start_ns, e.at_ns) ||
               (h.start_ns <= own->start_ns && explained_by_expiry(h, own->start_ns, h.released_ns.value_or(h.end_ns))));
          add_violation(explained ? "tolerated:acted_while_other_held" : "acted_while_other_held",
                        e.member + " (run " + std::to_string(a.run) + ") acted as holder of '" + e.subject +
                            "' with token " + std::to_string(e.token) + " at " + rel(e.at_ns) + " while " +
                            describe(h),
                        std::min(h.start_ns, e.at_ns), e.at_ns, &e);
          break;
        }
      }
    }
  }

  // An earlier hold that overlaps a later one (which began at `later_start`)
  // is explained by a forced expiry of its session if one was injected
  // before the later one began, and the holder let go (or acted: `until`)
  // within the grace time after it. The hold may have begun after the
  // fault: the owner's client can take its session back from the twin for
  // a moment and confirm its node, just before the twin closes the session.
  // The other order: the force-expired holder's client took the session
  // back from the twin for a moment and confirmed its node again, after the
  // successor was elected and just before the twin closed the session; the
  // hold ends when it hears of that, within the grace.
  bool reclaimed_after_forced_expiry(const hold_interval& h) const {
    for (auto& f : faults_) {
      if (f.kind != fault_kind::expire || f.member != h.member) continue;
      if (f.at_ns > h.start_ns || h.start_ns - f.at_ns > options_.forced_expiry_grace_ns) continue;
      if (h.released_ns.value_or(h.end_ns) <= f.at_ns + options_.forced_expiry_grace_ns) return true;
    }
    return false;
  }

  bool explained_by_expiry(const hold_interval& earlier, std::int64_t later_start, std::int64_t until) const {
    for (auto& f : faults_) {
      if (f.kind != fault_kind::expire || f.member != earlier.member) continue;
      if (f.at_ns + options_.forced_expiry_grace_ns < earlier.start_ns || f.at_ns > later_start) continue;
      if (until <= f.at_ns + options_.forced_expiry_grace_ns) return true;
    }
    return false;
  }

  std::optional<fault> first_fault(fault_kind kind, const std::string& member, std::int64_t from,
                                   std::int64_t to) const {
    return testing::first_fault(faults_, kind, member, from, to);
  }

  std::string rel(std::int64_t ns) const { return relative_time(ns, origin_ns_); }

  std::string describe(const hold_interval& h) const {
    std::string s = h.member + " (run " + std::to_string(h.run) + ", token " + std::to_string(h.token) + ") held [" +
                    rel(h.start_ns) + ", " + rel(h.end_ns) + "] ended by " + h.end_cause;
    if (h.released_ns && *h.released_ns != h.end_ns) s += ", let go at " + rel(*h.released_ns);
    if (h.resumed_ns) s += ", resumed at " + rel(*h.resumed_ns);
    return s;
  }

  void add_violation(std::string kind, std::string description, std::int64_t from, std::int64_t to,
                     const history_event* highlight = nullptr) {
    violation v;
    bool tolerated = kind.rfind("tolerated:", 0) == 0;
    v.kind = tolerated ? kind.substr(10) : std::move(kind);
    v.description = std::move(description);
    v.context = context(from, to, highlight);
    (tolerated ? report_.tolerated : report_.violations).push_back(std::move(v));
  }

  // Events (without `act` lines, but for `highlight`) and faults near [from, to].
  std::string context(std::int64_t from, std::int64_t to, const history_event* highlight) const {
    if (to == forever) to = last_ns_;
    auto lo = from - options_.context_window_ns;
    auto hi = to + options_.context_window_ns;
    std::vector<std::pair<std::int64_t, std::string>> lines;
    for (auto& e : events_) {
      if (e.at_ns < lo || e.at_ns > hi) continue;
      if (e.verb == history_verb::acted && &e != highlight) continue;
      lines.emplace_back(e.at_ns, rel(e.at_ns) + "  " + e.line + "  (" + e.origin + ")" +
                                       (&e == highlight ? "  <== here" : ""));
    }
    return render_context(std::move(lines), faults_, lo, hi, from, to, options_.max_context_lines,
                          [this](std::int64_t ns) { return rel(ns); });
  }

  std::vector<history_event> events_;
  std::vector<fault> faults_;
  history_check_options options_;
  std::int64_t origin_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::vector<act_record> acts_;
  history_report report_;
};

}  // namespace

history_report check_histories(std::vector<history_event> events, const std::vector<fault>& faults,
                               const history_check_options& options) {
  return checker(std::move(events), faults, options).run();
}

history_report check_history_files(const std::vector<std::filesystem::path>& files, const std::string& subject,
                                   const std::vector<fault>& faults, const history_check_options& options) {
  std::vector<history_event> events;
  std::vector<std::string> problems;
  for (auto& f : files) {
    auto parsed = parse_history_file(f, subject);
    events.insert(events.end(), parsed.events.begin(), parsed.events.end());
    problems.insert(problems.end(), parsed.problems.begin(), parsed.problems.end());
  }
  auto report = check_histories(std::move(events), faults, options);
  report.problems.insert(report.problems.end(), problems.begin(), problems.end());
  return report;
}

std::string history_report::summary() const {
  std::ostringstream out;
  out << "events " << events << ", runs " << runs << ", elections " << elections << ", revocations " << revocations
      << ", acts " << acts << ", holds " << holds.size() << ", violations " << violations.size()
      << ", tolerated " << tolerated.size() << "\n  revoke reasons:";
  for (auto& [reason, n] : revoke_reasons) out << " " << reason << "=" << n;
  out << "\n  elections by member:";
  for (auto& [member, n] : elections_by_member) out << " " << member << "=" << n;
  out << "\n  faults:";
  for (auto& [kind, n] : faults) out << " " << kind << "=" << n;
  for (auto& [subject, gap] : longest_vacancy)
    out << "\n  longest vacancy of '" << subject << "': " << history_ms(gap.length_ns()) << " after " << gap.before;
  out << "\n";
  for (auto& p : problems) out << "  PROBLEM " << p << "\n";
  for (auto& v : violations) out << "  VIOLATION [" << v.kind << "] " << v.description << "\n" << v.context;
  for (auto& v : tolerated)
    out << "  TOLERATED (forced expiry or clock margin) [" << v.kind << "] " << v.description << "\n" << v.context;
  return out.str();
}

std::string history_report::timeline() const {
  std::int64_t origin = origin_ns;
  std::ostringstream out;
  for (auto& h : holds) {
    out << "  " << h.subject << "  " << h.member << " run " << h.run << " token " << h.token << "  ["
        << history_ms(h.start_ns - origin) << ", " << (h.end_ns == forever ? std::string("+inf") : history_ms(h.end_ns - origin))
        << "]  " << h.end_cause << "\n";
  }
  return out.str();
}

}  // namespace nominee::testing
