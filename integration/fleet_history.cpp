#include "fleet_history.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

namespace nominee::testing {

namespace {

constexpr std::int64_t forever = forever_ns;

// One parsed line, with what its verb carries.
struct fleet_event {
  std::int64_t at_ns = 0;
  std::string member;
  std::string verb;
  std::vector<std::string> args;
  std::string line;
  std::string origin;
  std::int64_t token = 0;   // elected, write, refused
  std::int64_t value = 0;   // write
  std::int64_t newer = 0;   // refused
  std::uint64_t drawn = 0;  // drew
  std::optional<divider_event> divider;  // every line but `drew`
};

// Lines that say what a worker did with a key, a record or a range; the
// rest (runs, session changes, joins) are what a member's context shows.
bool is_member_note(const fleet_event& e) {
  static const std::set<std::string> busy = {"start", "stop",    "confirm", "write",
                                             "refused", "drew", "elected", "revoked"};
  return !busy.count(e.verb);
}

bool parse_unsigned(const std::string& text, std::uint64_t& out) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  try {
    out = std::stoull(text);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// A member holding a role, or working on a key, for the liveness rules.
struct span {
  std::string subject;
  std::string member;
  std::int64_t from = 0;
  std::int64_t to = 0;
  std::optional<std::int64_t> frozen_at;  // the hold after a SIGSTOP's resume: when it was stopped
};

class fleet_checker {
 public:
  fleet_checker(const std::vector<history_line>& lines, std::vector<std::string> problems,
                const std::vector<fault>& faults, const fleet_check_options& options)
      : faults_(faults), options_(options) {
    // Bad lines first, then what the files said (torn, missing), as
    // parse_history_lines orders them.
    for (auto& l : lines) parse(l);
    report_.problems.insert(report_.problems.end(), problems.begin(), problems.end());
    std::stable_sort(events_.begin(), events_.end(),
                     [](const fleet_event& a, const fleet_event& b) { return a.at_ns < b.at_ns; });
    std::sort(faults_.begin(), faults_.end(), [](const fault& a, const fault& b) { return a.at_ns < b.at_ns; });
    // As frame_history: the first line or fault.
    origin_ns_ = std::numeric_limits<std::int64_t>::max();
    if (!events_.empty()) origin_ns_ = events_.front().at_ns;
    if (!faults_.empty()) origin_ns_ = std::min(origin_ns_, faults_.front().at_ns);
    if (origin_ns_ == std::numeric_limits<std::int64_t>::max()) origin_ns_ = 0;
    if (options_.end_ns > 0)
      for (auto& f : faults_)
        if (f.at_ns <= options_.end_ns) last_fault_ = f.at_ns;
  }

  fleet_report run() {
    report_.events = events_.size();
    report_.origin_ns = origin_ns_;
    report_.last_fault_ns = last_fault_;
    for (auto& f : faults_) report_.faults[to_string(f.kind)]++;
    std::set<std::string> members;
    for (auto& e : events_) members.insert(e.member);
    report_.members = members.size();
    check_roles();
    check_keys();
    check_ranges();
    check_records();
    if (last_fault_) {
      std::optional<std::int64_t> recovered = report_.keys_owned_again_ns;
      for (auto& [role, at] : report_.roles_held_again_ns) recovered = std::max(recovered.value_or(at), at);
      report_.recovered_ns = recovered;
    }
    return std::move(report_);
  }

 private:
  void parse(const history_line& l) {
    std::string problem;
    auto fields = split_history_line(l.text, &problem);
    if (!fields) {
      report_.problems.push_back(l.origin + ": " + problem);
      return;
    }
    fleet_event e;
    e.at_ns = fields->at_ns;
    e.member = std::move(fields->member);
    e.verb = std::move(fields->verb);
    e.args = std::move(fields->args);
    e.line = l.text;
    e.origin = l.origin;
    auto bad = [&](const std::string& why) {
      report_.problems.push_back(l.origin + ": " + why + ": '" + l.text + "'");
    };
    auto& args = e.args;
    if (e.verb == "elected") {
      if (args.size() < 2 || !parse_history_int(args[1], e.token)) return bad("'elected' needs <role> <numeric token>");
    } else if (e.verb == "revoked") {
      if (args.size() < 2) return bad("'revoked' needs <role> <reason>");
    } else if (e.verb == "write") {
      if (args.size() < 3 || !parse_history_int(args[1], e.value) || !parse_history_int(args[2], e.token))
        return bad("'write' needs <key> <numeric value> <numeric token>");
    } else if (e.verb == "refused") {
      if (args.size() < 3 || !parse_history_int(args[1], e.token) || !parse_history_int(args[2], e.newer))
        return bad("'refused' needs <key> <numeric token> <numeric newer token>");
    } else if (e.verb == "drew") {
      if (args.size() < 2 || !parse_unsigned(args[1], e.drawn)) return bad("'drew' needs <space> <unsigned value>");
    }
    if (e.verb != "drew") {
      e.divider = parse_divider_line(l.text, &problem);
      if (!e.divider) {
        report_.problems.push_back(l.origin + ": " + problem);
        return;
      }
      e.divider->origin = l.origin;
      // A record line is about its key: the key's context shows it.
      if (e.verb == "write" || e.verb == "refused") e.divider->key = args[0];
    }
    events_.push_back(std::move(e));
  }

  // ---- roles

  void check_roles() {
    std::vector<history_event> role_events;
    for (auto& e : events_) {
      history_event h;
      h.at_ns = e.at_ns;
      h.member = e.member;
      h.origin = e.origin;
      h.line = e.line;
      if (e.verb == "started") {
        h.verb = history_verb::started;
      } else if (e.verb == "exiting") {
        h.verb = history_verb::exiting;
      } else if (e.verb == "elected") {
        h.verb = history_verb::acquired;
        h.subject = e.args[0];
        h.token = e.token;
      } else if (e.verb == "revoked") {
        h.verb = history_verb::released;
        h.subject = e.args[0];
        h.detail = e.args[1];
      } else if (is_member_note(e) || &e == &events_.front()) {
        // The first line goes in whatever it is: the role report's times
        // then count from the same origin as everything else's.
        h.verb = history_verb::note;
        h.detail = e.verb;
      } else {
        continue;
      }
      role_events.push_back(std::move(h));
    }
    history_check_options o;
    o.context_window_ns = options_.context_window_ns;
    o.max_context_lines = options_.max_context_lines;
    o.forced_expiry_grace_ns = options_.session_timeout_ns;
    o.clock_margin_ns = options_.clock_margin_ns;
    // A member's last run may still hold its roles (the process is alive);
    // an earlier run that ends holding is checked below.
    o.open_hold_is_violation = false;
    report_.roles = check_histories(std::move(role_events), faults_, o);
    report_.elections = report_.roles.elections;
    report_.revocations = report_.roles.revocations;
    for (auto& v : report_.roles.violations) report_.violations.push_back({"roles", v.kind, v.description, v.context});
    for (auto& v : report_.roles.tolerated) report_.tolerated.push_back({"roles", v.kind, v.description, v.context});
    auto spans = cut_at_stops(role_spans());
    check_stale_holds(spans);
    check_role_liveness(spans);
    find_vacancies(spans);
  }

  // The longest time each role had no holder, from the spans (which, unlike
  // the election checker's holds, carry on a holder's hold after a short
  // SIGSTOP that its session survived).
  void find_vacancies(std::vector<span> spans) {
    for (auto& h : spans)
      if (h.frozen_at && h.from - *h.frozen_at < options_.session_timeout_ns * 2 / 3) h.from = *h.frozen_at;
    std::sort(spans.begin(), spans.end(),
              [](const span& a, const span& b) { return std::tie(a.subject, a.from) < std::tie(b.subject, b.from); });
    std::map<std::string, const span*> latest;  // per role: the span before that ends last
    for (auto& h : spans) {
      auto& before = latest[h.subject];
      if (before && h.from > before->to) {
        auto& gap = report_.role_vacancies[h.subject];
        if (h.from - before->to > gap.length_ns())
          gap = vacancy{before->to, h.from, before->member + " until " + rel(before->to),
                        h.member + " from " + rel(h.from)};
      }
      if (!before || h.to > before->to) before = &h;
    }
  }

  // Each member's holds of each role, from its runs: a hold ends at its
  // revoke, at the run's exit, at the kill recorded during the run, or
  // (for the member's last run) never.
  std::vector<span> role_spans() {
    std::vector<const fleet_event*> mine;
    for (auto& e : events_)
      if (e.verb == "started" || e.verb == "exiting" || e.verb == "elected" || e.verb == "revoked") mine.push_back(&e);
    std::stable_sort(mine.begin(), mine.end(), [](const fleet_event* a, const fleet_event* b) {
      return std::tie(a->member, a->at_ns) < std::tie(b->member, b->at_ns);
    });
    std::vector<span> spans;
    std::size_t i = 0;
    while (i < mine.size()) {
      const std::string& member = mine[i]->member;
      std::map<std::string, std::int64_t> open;  // role -> since
      std::int64_t run_start = mine[i]->at_ns;
      int run = -1;
      bool exited = false;
      auto finish_run = [&](std::int64_t next_run_start) {
        auto kill = first_fault(fault_kind::kill, member, run_start, next_run_start);
        for (auto& [role, since] : open) {
          std::int64_t end = next_run_start;
          if (kill) {
            end = std::max(kill->at_ns, since);
          } else if (next_run_start != forever) {
            add_violation("roles", "open_hold",
                          member + " (run " + std::to_string(std::max(run, 0)) + ") ended holding '" + role +
                              "' (since " + rel(since) + ") without exiting, and no kill was recorded for it",
                          since, next_run_start, role_context(role, {member}), {});
          }
          spans.push_back({role, member, since, end, std::nullopt});
        }
        open.clear();
      };
      for (; i < mine.size() && mine[i]->member == member; ++i) {
        const auto& e = *mine[i];
        if (e.verb == "started") {
          if (run >= 0) finish_run(e.at_ns);
          ++run;
          exited = false;
          run_start = e.at_ns;
        } else if (exited) {
          continue;  // callbacks after `exiting`: the process no longer acts
        } else if (e.verb == "exiting") {
          for (auto& [role, since] : open) spans.push_back({role, member, since, e.at_ns, std::nullopt});
          open.clear();
          exited = true;
        } else if (e.verb == "elected") {
          open.emplace(e.args[0], e.at_ns);  // a second one is the role checker's acquired_twice
        } else if (auto it = open.find(e.args[0]); it != open.end()) {  // revoked
          spans.push_back({it->first, member, it->second, e.at_ns, std::nullopt});
          open.erase(it);
        }
      }
      finish_run(forever);
    }
    return spans;
  }

  // A SIGSTOPped holder does not count as holding from the stop until its
  // resume (as the role and key checkers cut holds at a stop).
  std::vector<span> cut_at_stops(std::vector<span> pending) const {
    constexpr std::int64_t recording_slack_ns = 100'000'000;
    std::vector<span> out;
    while (!pending.empty()) {
      auto s = std::move(pending.back());
      pending.pop_back();
      auto frozen = freeze_within(faults_, s.member, s.from, s.to, recording_slack_ns);
      if (!frozen) {
        out.push_back(std::move(s));
        continue;
      }
      auto cut = std::max(frozen->stop.at_ns, s.from);
      if (frozen->resume)
        pending.push_back({s.subject, s.member, std::max(frozen->resume->at_ns, cut), s.to, frozen->stop.at_ns});
      s.to = cut;
      out.push_back(std::move(s));
    }
    return out;
  }

  // The role checker ends a hold at a SIGSTOP; the process, resumed, still
  // believes it holds until it learns that its session expired meanwhile.
  // Once another member was elected after the stop, that must not take
  // longer than the session timeout after the resume.
  void check_stale_holds(const std::vector<span>& spans) {
    // Stale (and tolerated) only when the session could have expired: the
    // pause lasted 2/3 of the session timeout (the last ping may be a third
    // old), the other was elected after that, and the resumed process let
    // go within a session timeout. After a shorter pause the session and
    // the candidate node lived on: an overlap is two holders.
    const auto expiry_delay = options_.session_timeout_ns * 2 / 3;
    for (auto& stale : spans) {
      if (!stale.frozen_at) continue;
      bool could_have_expired = stale.from - *stale.frozen_at >= expiry_delay;
      for (auto& other : spans) {
        if (other.subject != stale.subject || other.member == stale.member || other.from < *stale.frozen_at) continue;
        if (other.from >= stale.to || other.to <= stale.from) continue;
        bool let_go_in_time = stale.to != forever && stale.to - stale.from <= options_.session_timeout_ns;
        if (could_have_expired && other.from >= *stale.frozen_at + expiry_delay && let_go_in_time) continue;
        add_violation("roles", "held_after_resume",
                      stale.member + " still held '" + stale.subject + "' " +
                          (stale.to == forever ? std::string("at the end") : "until " + rel(stale.to)) +
                          " after its resume at " + rel(stale.from) + " (stopped at " + rel(*stale.frozen_at) +
                          "), while " + other.member + " held it since " + rel(other.from),
                      other.from, stale.to == forever ? other.from : stale.to,
                      role_context(stale.subject, {stale.member, other.member}), {});
        break;
      }
    }
  }

  // Every expected role is held at end_ns, and has been without a break
  // since at most session timeout + liveness margin after the last fault.
  void check_role_liveness(const std::vector<span>& spans) {
    if (options_.end_ns <= 0) return;
    auto end = options_.end_ns;
    for (auto& role : options_.expected_roles) {
      std::vector<span> held;
      for (auto& s : spans)
        if (s.subject == role && s.to > s.from) held.push_back(s);
      std::sort(held.begin(), held.end(), [](const span& a, const span& b) { return a.from < b.from; });
      // The unbroken stretch of holds (one holder after another, without a
      // vacancy) that covers end_ns, if any.
      std::optional<std::int64_t> covering_from;
      std::optional<std::int64_t> from, to;
      auto consider = [&] {
        if (from && *from <= end && end < *to) covering_from = from;
      };
      for (auto& s : held) {
        if (!from || s.from > *to) {
          consider();
          from = s.from;
          to = s.to;
        } else {
          to = std::max(*to, s.to);
        }
      }
      consider();
      if (!covering_from) {
        std::string last = "it was never held";
        for (auto& s : held)
          if (s.from <= end) last = "its last holder: " + s.member + " [" + rel(s.from) + ", " + rel(s.to) + "]";
        add_violation("roles", "unheld_at_end", "nobody held '" + role + "' at the end " + rel(end) + "; " + last,
                      end, end, role_context(role, {}), {});
        continue;
      }
      if (!last_fault_) continue;
      auto again = std::max(*covering_from, *last_fault_);
      report_.roles_held_again_ns[role] = again;
      auto limit = options_.session_timeout_ns + options_.liveness_margin_ns;
      if (again - *last_fault_ > limit)
        add_violation("roles", "slow_reelection",
                      "'" + role + "' was held again only at " + rel(again) + ", " + history_ms(again - *last_fault_) +
                          " after the last fault (" + rel(*last_fault_) + "); the limit is " + history_ms(limit),
                      *last_fault_, again, role_context(role, {}), {});
    }
  }

  std::function<bool(const fleet_event&)> role_context(const std::string& role, std::set<std::string> members) const {
    return [role, members = std::move(members)](const fleet_event& e) {
      if ((e.verb == "elected" || e.verb == "revoked") && e.args[0] == role) return true;
      if (e.verb == "started" || e.verb == "exiting") return true;
      return members.count(e.member) > 0 && is_member_note(e);
    };
  }

  // ---- keys

  void check_keys() {
    std::vector<divider_event> divider_events;
    for (auto& e : events_) {
      if (e.divider) {
        divider_events.push_back(*e.divider);
      } else if (&e == &events_.front()) {  // the same origin as the rest
        auto note = parse_divider_line(e.line);
        if (note) {
          note->key.clear();
          note->origin = e.origin;
          divider_events.push_back(std::move(*note));
        }
      }
    }
    divider_check_options o;
    o.clock_margin_ns = options_.clock_margin_ns;
    o.session_timeout_ns = options_.session_timeout_ns;
    o.liveness_margin_ns = options_.liveness_margin_ns;
    o.gap_deadline_after_any_fault = true;
    o.end_ns = options_.end_ns;
    o.expected_keys = options_.expected_keys;
    o.context_window_ns = options_.context_window_ns;
    o.max_context_lines = options_.max_context_lines;
    report_.keys = check_divider_histories(std::move(divider_events), faults_, o);
    auto& k = report_.keys;
    report_.runs = k.runs;
    report_.starts = k.starts;
    report_.stops = k.stops;
    report_.confirms = k.confirms;
    report_.longest_unowned = k.longest_gap;
    if (last_fault_) report_.keys_owned_again_ns = k.all_owned_ns;
    for (auto& v : k.violations) report_.violations.push_back({"keys", v.kind, v.description, v.context});
    for (auto& v : k.tolerated) report_.tolerated.push_back({"keys", v.kind, v.description, v.context});
    find_longest_gap_after_fault();
  }

  // The gaps between a key's intervals (as the divider checker sees them),
  // each with the latest fault that may have caused it: one before its end
  // and at most session timeout + liveness margin before its start.
  void find_longest_gap_after_fault() {
    auto reach = options_.session_timeout_ns + options_.liveness_margin_ns;
    std::map<std::string, std::vector<const ownership_interval*>> by_key;
    for (auto& h : report_.keys.intervals) by_key[h.key].push_back(&h);  // sorted by start
    for (auto& [key, intervals] : by_key) {
      const ownership_interval* longest = nullptr;  // the earlier interval that ends last
      for (auto* h : intervals) {
        if (longest && h->start_ns >= longest->end_ns) {
          auto after = std::upper_bound(faults_.begin(), faults_.end(), h->start_ns,
                                        [](std::int64_t at, const fault& f) { return at < f.at_ns; });
          // The latest fault before the new owner started that could have
          // held the key up (not an affinity change or a key added).
          while (after != faults_.begin() && !can_stall_ownership(std::prev(after)->kind)) --after;
          if (after != faults_.begin()) {
            const fault& cause = *std::prev(after);
            unowned_gap gap{key, longest->end_ns, h->start_ns, describe(*longest), describe(*h)};
            auto& best = report_.longest_unowned_after_fault;
            if (cause.at_ns >= gap.from_ns - reach && (!best || gap.length_ns() > best->gap.length_ns()))
              best = gap_after_fault{gap, cause};
          }
        }
        if (!longest || h->end_ns > longest->end_ns) longest = h;
      }
    }
  }

  std::string describe(const ownership_interval& h) const {
    return h.member + " (run " + std::to_string(h.run) + ", token " + std::to_string(h.token) + ") [" +
           rel(h.start_ns) + ", " + rel(h.end_ns) + "] ended by " + h.end_cause;
  }

  // ---- ranges

  void check_ranges() {
    std::map<std::string, std::unordered_map<std::uint64_t, const fleet_event*>> drawn;  // space -> value -> line
    for (auto& e : events_) {
      if (e.verb != "drew") continue;
      const auto& space = e.args[0];
      ++report_.values_drawn;
      report_.values_by_space[space]++;
      auto [it, fresh] = drawn[space].emplace(e.drawn, &e);
      if (fresh) continue;
      const auto& first = *it->second;
      add_violation("ranges", "value_drawn_twice",
                    "value " + std::to_string(e.drawn) + " of space '" + space + "' was handed out twice: by " +
                        first.member + " at " + rel(first.at_ns) + " ('" + first.line + "', " + first.origin +
                        ") and by " + e.member + " at " + rel(e.at_ns) + " ('" + e.line + "', " + e.origin + ")",
                    first.at_ns, e.at_ns,
                    [space](const fleet_event& x) { return x.verb == "drew" && x.args[0] == space; }, {&first, &e});
    }
  }

  // ---- records

  void check_records() {
    std::map<std::string, std::vector<const fleet_event*>> writes;  // by key
    for (auto& e : events_) {
      if (e.verb == "write") {
        ++report_.writes_accepted;
        auto& r = report_.records[e.args[0]];
        ++r.accepted;
        r.highest_value = std::max(r.highest_value, e.value);
        writes[e.args[0]].push_back(&e);
      } else if (e.verb == "refused") {
        ++report_.writes_refused;
        report_.records[e.args[0]].refused++;
        if (e.newer <= e.token)
          add_violation("records", "refused_without_newer_token",
                        e.member + " refused its write of '" + e.args[0] + "' at " + rel(e.at_ns) + " with token " +
                            std::to_string(e.token) + ", but the record's token " + std::to_string(e.newer) +
                            " is not newer",
                        e.at_ns, e.at_ns, about_record(e.args[0]), {&e});
      }
    }
    for (auto& [key, list] : writes) {
      std::stable_sort(list.begin(), list.end(),
                       [](const fleet_event* a, const fleet_event* b) { return a->value < b->value; });
      const fleet_event* newest = nullptr;  // the write with the largest token so far, in Value order
      for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& w = *list[i];
        if (i > 0 && list[i - 1]->value == w.value) {
          const auto& other = *list[i - 1];
          add_violation("records", "record_value_twice",
                        "'" + key + "' was set to Value " + std::to_string(w.value) + " twice: " + write_text(other) +
                            " and " + write_text(w),
                        std::min(other.at_ns, w.at_ns), std::max(other.at_ns, w.at_ns), about_record(key),
                        {&other, &w});
        }
        if (newest && w.token < newest->token)
          add_violation("records", "stale_write_accepted",
                        "'" + key + "': a write under an older token was accepted after a newer one: " +
                            write_text(*newest) + ", then " + write_text(w),
                        std::min(newest->at_ns, w.at_ns), std::max(newest->at_ns, w.at_ns), about_record(key),
                        {newest, &w});
        if (!newest || w.token > newest->token) newest = &w;
      }
    }
  }

  std::string write_text(const fleet_event& w) const {
    return w.member + " wrote Value " + std::to_string(w.value) + " with token " + std::to_string(w.token) + " at " +
           rel(w.at_ns) + " (" + w.origin + ")";
  }

  static std::function<bool(const fleet_event&)> about_record(const std::string& key) {
    return [key](const fleet_event& e) { return e.divider && e.divider->key == key && !is_member_note(e); };
  }

  // ---- reports

  std::optional<fault> first_fault(fault_kind kind, const std::string& member, std::int64_t from,
                                   std::int64_t to) const {
    return testing::first_fault(faults_, kind, member, from, to);
  }

  std::string rel(std::int64_t ns) const { return relative_time(ns, origin_ns_); }

  // The lines `about` picks, the `highlight`ed ones, the other lines of
  // the members involved that say what their process was doing (runs,
  // sessions, joins), and the faults, near [from, to].
  void add_violation(std::string area, std::string kind, std::string description, std::int64_t from, std::int64_t to,
                     const std::function<bool(const fleet_event&)>& about, std::set<const fleet_event*> highlight) {
    std::set<std::string> members;
    for (auto* e : highlight) members.insert(e->member);
    auto lo = from - options_.context_window_ns;
    auto hi = (to == forever ? from : to) + options_.context_window_ns;
    std::vector<std::pair<std::int64_t, std::string>> lines;
    auto first = std::lower_bound(events_.begin(), events_.end(), lo,
                                  [](const fleet_event& e, std::int64_t at) { return e.at_ns < at; });
    for (auto it = first; it != events_.end() && it->at_ns <= hi; ++it) {
      const auto& e = *it;
      bool marked = highlight.count(&e) > 0;
      if (!marked && !about(e) && !(members.count(e.member) && is_member_note(e))) continue;
      lines.emplace_back(e.at_ns,
                         rel(e.at_ns) + "  " + e.line + "  (" + e.origin + ")" + (marked ? "  <== here" : ""));
    }
    auto context = render_context(std::move(lines), faults_, lo, hi, from, to, options_.max_context_lines,
                                  [this](std::int64_t ns) { return rel(ns); });
    report_.violations.push_back({std::move(area), std::move(kind), std::move(description), std::move(context)});
  }

  std::vector<fleet_event> events_;  // by time
  std::vector<fault> faults_;        // by time
  fleet_check_options options_;
  std::int64_t origin_ns_ = 0;
  std::optional<std::int64_t> last_fault_;  // before end_ns
  fleet_report report_;
};

std::string ms_text(std::int64_t ns) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

template <class Number>
std::string json_counts(const std::map<std::string, Number>& counts) {
  std::string out = "{";
  for (auto& [name, n] : counts) out += (out.size() > 1 ? "," : "") + json_string(name) + ":" + std::to_string(n);
  return out + "}";
}

}  // namespace

fleet_report check_fleet_lines(const std::vector<history_line>& lines, const std::vector<fault>& faults,
                               const fleet_check_options& options) {
  return fleet_checker(lines, {}, faults, options).run();
}

fleet_report check_fleet_files(const std::vector<std::filesystem::path>& files, const std::vector<fault>& faults,
                               const fleet_check_options& options) {
  std::vector<history_line> lines;
  std::vector<std::string> problems;
  for (auto& path : files) {
    auto file = read_history_lines(path);
    lines.insert(lines.end(), std::make_move_iterator(file.lines.begin()), std::make_move_iterator(file.lines.end()));
    problems.insert(problems.end(), file.problems.begin(), file.problems.end());
  }
  return fleet_checker(lines, std::move(problems), faults, options).run();
}

std::string fleet_report::summary() const {
  std::ostringstream out;
  auto rel = [&](std::int64_t ns) { return "+" + history_ms(ns - origin_ns); };
  out << "fleet history: " << members << " members, " << runs << " runs, " << events << " lines, " << problems.size()
      << " problems, " << violations.size() << " violations, " << tolerated.size() << " tolerated\n  faults:";
  if (faults.empty()) out << " none";
  for (auto& [kind, n] : faults) out << " " << kind << "=" << n;
  out << "\n  roles: elections " << elections << ", revocations " << revocations;
  for (auto& [reason, n] : roles.revoke_reasons) out << " " << reason << "=" << n;
  for (auto& [role, gap] : role_vacancies)
    out << "; longest vacancy of '" << role << "' " << history_ms(gap.length_ns()) << " (after " << gap.before
        << "; until " << gap.after << ")";
  out << "\n  keys: " << keys.keys << " keys, starts " << starts << ", stops " << stops << " (";
  bool first = true;
  for (auto& [reason, n] : keys.stops_by_reason) {
    out << (first ? "" : " ") << reason << "=" << n;
    first = false;
  }
  out << "), confirms " << confirms << ", exits without a completed flush " << keys.unflushed_exits
      << "\n  records: writes accepted " << writes_accepted << ", refused " << writes_refused << " (on "
      << records.size() << " keys)\n  ranges: values drawn " << values_drawn;
  for (auto& [space, n] : values_by_space) out << " " << space << "=" << n;
  out << "\n";
  if (longest_unowned)
    out << "  longest unowned: " << history_ms(longest_unowned->length_ns()) << " ('" << longest_unowned->key
        << "' from " << rel(longest_unowned->from_ns) << " after " << longest_unowned->before << ")\n";
  if (longest_unowned_after_fault) {
    auto& g = longest_unowned_after_fault->gap;
    auto& f = longest_unowned_after_fault->cause;
    out << "  longest unowned after a fault: " << history_ms(g.length_ns()) << " ('" << g.key << "' from "
        << rel(g.from_ns) << " to " << rel(g.to_ns) << "; fault " << to_string(f.kind) << " " << f.member << " at "
        << rel(f.at_ns) << (f.detail.empty() ? "" : " (" + f.detail + ")") << ")\n";
  }
  if (last_fault_ns) {
    out << "  last fault at " << rel(*last_fault_ns) << "; every key owned again "
        << (keys_owned_again_ns ? "by " + rel(*keys_owned_again_ns) + " (" +
                                      history_ms(*keys_owned_again_ns - *last_fault_ns) + " after it)"
                                : std::string("never"));
    for (auto& [role, at] : roles_held_again_ns)
      out << "; '" << role << "' held again by " << rel(at) << " (" << history_ms(at - *last_fault_ns) << " after it)";
    out << "\n";
    if (recovered_ns) out << "  recovered " << history_ms(*recovered_ns - *last_fault_ns) << " after the last fault\n";
  }
  std::size_t shown = 0;
  for (auto& p : problems) {
    if (++shown > 20) {
      out << "  ... " << problems.size() - 20 << " more problems\n";
      break;
    }
    out << "  PROBLEM " << p << "\n";
  }
  shown = 0;
  for (auto& v : violations) {
    if (++shown > 20) {
      out << "  ... " << violations.size() - 20 << " more violations\n";
      break;
    }
    out << "  VIOLATION [" << v.area << "/" << v.kind << "] " << v.description << "\n" << v.context;
  }
  shown = 0;
  for (auto& v : tolerated) {
    if (++shown > 5) {
      out << "  ... " << tolerated.size() - 5 << " more tolerated\n";
      break;
    }
    out << "  TOLERATED [" << v.area << "/" << v.kind << "] " << v.description << "\n" << v.context;
  }
  return out.str();
}

std::string fleet_report::json() const {
  std::map<std::string, std::size_t> kinds;
  for (auto& v : violations) kinds[v.area + "/" + v.kind]++;
  auto optional_ms = [](const std::optional<std::int64_t>& ns) { return ns ? ms_text(*ns) : std::string("null"); };
  std::optional<std::int64_t> longest, after_fault, recovered;
  if (longest_unowned) longest = longest_unowned->length_ns();
  if (longest_unowned_after_fault) after_fault = longest_unowned_after_fault->gap.length_ns();
  if (recovered_ns && last_fault_ns) recovered = *recovered_ns - *last_fault_ns;
  std::ostringstream out;
  out << "{\"ok\":" << (ok() ? "true" : "false") << ",\"members\":" << members << ",\"runs\":" << runs
      << ",\"events\":" << events << ",\"faults\":" << json_counts(faults) << ",\"violations\":" << violations.size()
      << ",\"violation_kinds\":" << json_counts(kinds) << ",\"tolerated\":" << tolerated.size()
      << ",\"problems\":" << problems.size() << ",\"elections\":" << elections << ",\"revocations\":" << revocations
      << ",\"keys\":" << keys.keys << ",\"starts\":" << starts << ",\"stops\":" << stops
      << ",\"confirms\":" << confirms << ",\"writes_accepted\":" << writes_accepted
      << ",\"writes_refused\":" << writes_refused << ",\"values_drawn\":" << values_drawn
      << ",\"values_by_space\":" << json_counts(values_by_space) << ",\"longest_unowned_ms\":" << optional_ms(longest)
      << ",\"longest_unowned_key\":"
      << (longest_unowned ? json_string(longest_unowned->key) : std::string("null"))
      << ",\"longest_unowned_after_fault_ms\":" << optional_ms(after_fault);
  if (longest_unowned_after_fault) {
    auto& f = longest_unowned_after_fault->cause;
    out << ",\"longest_unowned_after_fault_key\":" << json_string(longest_unowned_after_fault->gap.key)
        << ",\"longest_unowned_after_fault_cause\":{\"kind\":" << json_string(to_string(f.kind))
        << ",\"member\":" << json_string(f.member) << ",\"at_ms\":" << ms_text(f.at_ns - origin_ns) << "}";
  }
  out << ",\"last_fault_ms\":"
      << (last_fault_ns ? ms_text(*last_fault_ns - origin_ns) : std::string("null"))
      << ",\"recovered_after_last_fault_ms\":" << optional_ms(recovered) << "}";
  return out.str();
}

}  // namespace nominee::testing
