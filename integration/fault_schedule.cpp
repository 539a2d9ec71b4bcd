#include "fault_schedule.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace nominee::testing {

using std::chrono::milliseconds;

std::string to_string(step_kind kind) {
  switch (kind) {
    case step_kind::kill_worker: return "kill_worker";
    case step_kind::restart_worker: return "restart_worker";
    case step_kind::pause_worker: return "pause_worker";
    case step_kind::resume_worker: return "resume_worker";
    case step_kind::terminate_worker: return "terminate_worker";
    case step_kind::expire_session: return "expire_session";
    case step_kind::kill_leader: return "kill_leader";
    case step_kind::kill_follower: return "kill_follower";
    case step_kind::restart_server: return "restart_server";
    case step_kind::partition: return "partition";
    case step_kind::slow_link: return "slow_link";
    case step_kind::heal: return "heal";
    case step_kind::set_affinity: return "set_affinity";
    case step_kind::add_keys: return "add_keys";
    case step_kind::remove_keys: return "remove_keys";
  }
  return "unknown";
}

std::string describe(const fault_step& step) {
  char at[32];
  std::snprintf(at, sizeof at, "%.3fs", static_cast<double>(step.at.count()) / 1000.0);
  std::string out = std::string(at) + " " + to_string(step.kind);
  if (step.worker >= 0) out += " w" + std::to_string(step.worker);
  switch (step.kind) {
    case step_kind::pause_worker:
    case step_kind::partition: out += step.value ? " (past the session timeout)" : " (short of it)"; break;
    case step_kind::slow_link: out += " " + std::to_string(step.value) + " ms"; break;
    case step_kind::set_affinity: out += " to " + std::to_string(step.value); break;
    default: break;
  }
  for (auto& k : step.keys) out += " " + k;
  return out;
}

namespace {

// splitmix64: a few lines, the same numbers on every platform and standard
// library (std::uniform_int_distribution's are not specified), so a seed
// replays anywhere.
class seeded_random {
 public:
  explicit seeded_random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (the modulo bias is negligible for these ranges).
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  milliseconds between(milliseconds lo, milliseconds hi) { return milliseconds(between(lo.count(), hi.count())); }
  // A fraction of `base`, in per mille.
  milliseconds scaled(milliseconds base, std::int64_t lo_per_mille, std::int64_t hi_per_mille) {
    return milliseconds(base.count() * between(lo_per_mille, hi_per_mille) / 1000);
  }

 private:
  std::uint64_t state_;
};

std::string key_name(int n) {
  char name[32];
  std::snprintf(name, sizeof name, "key-%03d", n);
  return name;
}

// What the generator knows of the fleet while it plans.
struct fleet_plan {
  std::vector<milliseconds> impaired_until;  // per worker: busy with a fault (and a cooldown) until then
  std::vector<std::int64_t> affinity;
  milliseconds servers_busy_until{0};
  std::vector<std::string> keys;  // sorted
  int next_key = 0;
};

enum class choice {
  kill,
  pause_long,
  pause_short,
  terminate,
  expire,
  kill_leader,
  kill_follower,
  partition_long,
  partition_short,
  slow_link,
  affinity,
  add_keys,
  remove_keys
};

struct weighted {
  choice what;
  int weight;
};

void check(const schedule_options& o) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("fault schedule: " + what); };
  if (o.workers < 3) bad("workers " + std::to_string(o.workers) + " must be >= 3");
  if (o.partitionable < 0 || o.partitionable > o.workers)
    bad("partitionable " + std::to_string(o.partitionable) + " must be 0.." + std::to_string(o.workers));
  if (o.max_impaired < 1 || o.max_impaired >= o.workers)
    bad("max_impaired " + std::to_string(o.max_impaired) + " must be 1.." + std::to_string(o.workers - 1));
  if (o.session_timeout < milliseconds(1000))
    bad("session timeout " + std::to_string(o.session_timeout.count()) + " ms must be >= 1000");
  if (o.duration <= o.warm_up)
    bad("duration " + std::to_string(o.duration.count()) + " ms must exceed the warm-up of " +
        std::to_string(o.warm_up.count()) + " ms");
  if (o.initial_keys < 1 || o.initial_keys > 900)
    bad("initial keys " + std::to_string(o.initial_keys) + " must be 1..900");
}

}  // namespace

std::vector<std::string> initial_keys(const schedule_options& options) {
  std::vector<std::string> keys;
  for (int i = 0; i < options.initial_keys; ++i) keys.push_back(key_name(i));
  return keys;
}

std::vector<fault_step> make_schedule(const schedule_options& o) {
  check(o);
  seeded_random random(o.seed);
  fleet_plan plan;
  plan.impaired_until.assign(static_cast<std::size_t>(o.workers), milliseconds(0));
  plan.affinity.assign(static_cast<std::size_t>(o.workers), 1);
  plan.keys = initial_keys(o);
  plan.next_key = o.initial_keys;
  const auto timeout = o.session_timeout;
  // After a worker's fault ends, its restart or reconnect settles before
  // it is picked again.
  const milliseconds cooldown = timeout / 2;
  const std::size_t min_keys = static_cast<std::size_t>(std::max(1, o.initial_keys / 2));

  std::vector<fault_step> steps;
  auto emit = [&steps](milliseconds at, step_kind kind, int worker, std::int64_t value = 0,
                       std::vector<std::string> keys = {}) {
    steps.push_back(fault_step{at, kind, worker, value, std::move(keys)});
  };

  for (milliseconds t = o.warm_up; t < o.duration; t += random.between(milliseconds(700), milliseconds(2200))) {
    std::vector<int> free_workers, free_linked;
    int impaired = 0;
    for (int w = 0; w < o.workers; ++w) {
      if (plan.impaired_until[static_cast<std::size_t>(w)] > t) {
        ++impaired;
        continue;
      }
      free_workers.push_back(w);
      if (w < o.partitionable) free_linked.push_back(w);
    }
    const bool may_impair = impaired < o.max_impaired && !free_workers.empty();
    const bool may_partition = impaired < o.max_impaired && !free_linked.empty();
    std::vector<weighted> menu;
    if (may_impair) {
      menu.insert(menu.end(), {{choice::kill, 3},
                               {choice::pause_long, 2},
                               {choice::pause_short, 2},
                               {choice::terminate, 1},
                               {choice::expire, 2}});
    }
    if (may_partition) menu.insert(menu.end(), {{choice::partition_long, 2}, {choice::partition_short, 1}, {choice::slow_link, 1}});
    if (plan.servers_busy_until <= t) menu.insert(menu.end(), {{choice::kill_leader, 1}, {choice::kill_follower, 1}});
    if (!free_workers.empty()) menu.push_back({choice::affinity, 2});
    menu.push_back({choice::add_keys, 1});
    if (plan.keys.size() > min_keys) menu.push_back({choice::remove_keys, 1});

    int total = 0;
    for (auto& m : menu) total += m.weight;
    auto pick = random.between(0, total - 1);
    choice what = menu.front().what;
    for (auto& m : menu) {
      if (pick < m.weight) {
        what = m.what;
        break;
      }
      pick -= m.weight;
    }

    auto any_of = [&random](const std::vector<int>& from) {
      return from[static_cast<std::size_t>(random.between(0, static_cast<std::int64_t>(from.size()) - 1))];
    };
    auto impair = [&](int w, milliseconds until) { plan.impaired_until[static_cast<std::size_t>(w)] = until + cooldown; };
    auto restarted = [&](int w) { plan.affinity[static_cast<std::size_t>(w)] = 1; };  // its --affinity again
    // A pause or partition past the session timeout (1.3-2x: the server
    // expires the session, and the worker stays impaired while a successor
    // takes over) or short of it (0.2-0.5x: short of the server's view too,
    // since the client's last ping may be a third of the timeout old when
    // it goes silent), then its end.
    auto past_or_short_of_timeout = [&](const std::vector<int>& from, step_kind begin, step_kind end, bool past) {
      int w = any_of(from);
      auto back = t + (past ? random.scaled(timeout, 1300, 2000) : random.scaled(timeout, 200, 500));
      emit(t, begin, w, past ? 1 : 0);
      emit(back, end, w);
      impair(w, back + (past ? timeout : milliseconds(0)));
    };

    switch (what) {
      case choice::kill: {
        int w = any_of(free_workers);
        auto back = t + random.between(milliseconds(500), milliseconds(2500));
        emit(t, step_kind::kill_worker, w);
        emit(back, step_kind::restart_worker, w);
        impair(w, back + timeout);  // the successor waits for the old session to expire
        restarted(w);
        break;
      }
      case choice::terminate: {
        int w = any_of(free_workers);
        auto back = t + timeout + random.between(milliseconds(500), milliseconds(2000));
        emit(t, step_kind::terminate_worker, w);
        emit(back, step_kind::restart_worker, w);
        impair(w, back);
        restarted(w);
        break;
      }
      case choice::pause_long:
      case choice::pause_short:
        past_or_short_of_timeout(free_workers, step_kind::pause_worker, step_kind::resume_worker,
                                 what == choice::pause_long);
        break;
      case choice::expire: {
        int w = any_of(free_workers);
        emit(t, step_kind::expire_session, w);
        impair(w, t + timeout);
        break;
      }
      case choice::partition_long:
      case choice::partition_short:
        past_or_short_of_timeout(free_linked, step_kind::partition, step_kind::heal, what == choice::partition_long);
        break;
      case choice::slow_link: {
        int w = any_of(free_linked);
        auto back = t + random.between(milliseconds(2000), milliseconds(5000));
        emit(t, step_kind::slow_link, w, random.between(50, 400));
        emit(back, step_kind::heal, w);
        impair(w, back);
        break;
      }
      case choice::kill_leader:
      case choice::kill_follower: {
        auto back = t + random.between(milliseconds(1000), milliseconds(4000));
        emit(t, what == choice::kill_leader ? step_kind::kill_leader : step_kind::kill_follower, -1);
        emit(back, step_kind::restart_server, -1);
        // A JVM takes seconds to start and sync on two busy cores; one
        // server down at a time keeps a quorum.
        plan.servers_busy_until = back + milliseconds(6000);
        break;
      }
      case choice::affinity: {
        int w = any_of(free_workers);
        std::int64_t a = random.between(0, 3);
        // Never strand the keys on too few members: at least three others
        // unimpaired now with affinity > 0.
        int others_working = 0;
        for (int v = 0; v < o.workers; ++v) {
          auto i = static_cast<std::size_t>(v);
          if (v != w && plan.affinity[i] > 0 && plan.impaired_until[i] <= t) ++others_working;
        }
        if (a == 0 && others_working < 3) a = 1;
        plan.affinity[static_cast<std::size_t>(w)] = a;
        emit(t, step_kind::set_affinity, w, a);
        break;
      }
      case choice::add_keys: {
        std::vector<std::string> added;
        for (auto n = random.between(1, 4); n > 0; --n) added.push_back(key_name(plan.next_key++));
        plan.keys.insert(plan.keys.end(), added.begin(), added.end());
        std::sort(plan.keys.begin(), plan.keys.end());
        emit(t, step_kind::add_keys, -1, 0, std::move(added));
        break;
      }
      case choice::remove_keys: {
        std::vector<std::string> removed;
        for (auto n = random.between(1, 3); n > 0 && plan.keys.size() > min_keys; --n) {
          auto i = static_cast<std::size_t>(random.between(0, static_cast<std::int64_t>(plan.keys.size()) - 1));
          removed.push_back(plan.keys[i]);
          plan.keys.erase(plan.keys.begin() + static_cast<std::ptrdiff_t>(i));
        }
        emit(t, step_kind::remove_keys, -1, 0, std::move(removed));
        break;
      }
    }
  }
  std::stable_sort(steps.begin(), steps.end(), [](const fault_step& a, const fault_step& b) { return a.at < b.at; });
  return steps;
}

std::vector<std::string> final_keys(const schedule_options& options, const std::vector<fault_step>& steps) {
  std::set<std::string> keys;
  for (auto& k : initial_keys(options)) keys.insert(k);
  for (auto& s : steps) {
    if (s.kind == step_kind::add_keys) keys.insert(s.keys.begin(), s.keys.end());
    if (s.kind == step_kind::remove_keys)
      for (auto& k : s.keys) keys.erase(k);
  }
  return {keys.begin(), keys.end()};
}

std::map<std::string, int> count_steps(const std::vector<fault_step>& steps) {
  std::map<std::string, int> counts;
  for (auto& s : steps) {
    auto name = to_string(s.kind);
    if (s.kind == step_kind::pause_worker || s.kind == step_kind::partition) name += s.value ? "_long" : "_short";
    ++counts[name];
  }
  return counts;
}

}  // namespace nominee::testing
