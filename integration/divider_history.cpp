#include "divider_history.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <tuple>

namespace nominee::testing {

namespace {

constexpr std::int64_t forever = std::numeric_limits<std::int64_t>::max();

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
          close(it->second, e.at_ns, "confirm:" + it->second.reason);
          open.erase(it);
          break;
        }
        case divider_verb::note:
          // The divider refused a confirm of a key it had just stopped.
          if (e.detail.rfind("confirm_failed", 0) == 0)
            add_violation("confirm_failed", member + ": " + e.detail + " at " + rel(e.at_ns), e.key, {member}, e.at_ns,
                          e.at_ns);
          break;
      }
    }
    finish_run(forever);
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
          add_violation(within_margin ? "tolerated:overlap" : "overlap",
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
          if (last_fault && h->start_ns > *last_fault) owned_again = h->start_ns;
          check_takeover(gap, *longest, *h);
        }
        if (previous) {
          bool backwards = h->token < previous->token;
          bool reused = h->token == previous->token && (h->member != previous->member || h->run != previous->run);
          if (backwards || reused)
            add_violation("token_order",
                          "tokens of '" + key + "' must grow: " + describe(*previous) + " then " + describe(*h), key,
                          {previous->member, h->member}, previous->start_ns, h->start_ns);
        }
        if (!longest || h->end_ns > longest->end_ns) longest = h;
        previous = h;
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
  void check_takeover(const unowned_gap& gap, const ownership_interval& before, const ownership_interval& after) {
    auto from = gap.from_ns;
    for (auto& f : faults_)
      if (f.kind == fault_kind::kill && f.at_ns <= gap.to_ns) from = std::max(from, f.at_ns);
    auto limit = from + options_.session_timeout_ns + options_.liveness_margin_ns;
    if (gap.to_ns <= limit) return;
    add_violation("slow_takeover",
                  "nobody worked on '" + gap.key + "' for " + history_ms(gap.length_ns()) + ", until " + rel(gap.to_ns) +
                      ": more than " + history_ms(options_.session_timeout_ns + options_.liveness_margin_ns) + " after " +
                      (from == gap.from_ns ? std::string("the gap began") : "the last kill (" + rel(from) + ")") +
                      "; before: " + gap.before + "; after: " + gap.after,
                  gap.key, {before.member, after.member}, gap.from_ns, gap.to_ns);
  }

  std::optional<fault> first_fault(fault_kind kind, const std::string& member, std::int64_t from,
                                   std::int64_t to) const {
    for (auto& f : faults_)
      if (f.kind == kind && f.member == member && f.at_ns >= from && f.at_ns <= to) return f;
    return std::nullopt;
  }

  std::string rel(std::int64_t ns) const {
    if (ns == forever) return "+inf";
    return "+" + history_ms(ns - origin_ns_);
  }

  std::string describe(const ownership_interval& h) const {
    std::string s = h.member + " (run " + std::to_string(h.run) + ", token " + std::to_string(h.token) + ") [" +
                    rel(h.start_ns) + ", " + rel(h.end_ns) + "] ended by " + h.end_cause;
    if (h.stop_ns && h.end_cause.rfind("confirm", 0) != 0) s += ", stop at " + rel(*h.stop_ns);
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
    out << "  TOLERATED (within the clock margin) [" << v.kind << "] " << v.description << "\n" << v.context;
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
