#include "commands.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/use_future.hpp>

#include "text.hpp"

namespace nominee::cli {

namespace {

using boost::asio::use_future;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string in_quotes(std::string_view value) { return "'" + printable(value) + "'"; }

std::int64_t parse_count(const std::string& what, const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    throw usage_error(what + " must be a whole number, not " + in_quotes(text));
  return value;
}

void require_member(const std::string& member) {
  if (divider_admin::check_member(member))
    throw usage_error("member id " + in_quotes(member) +
                      " cannot be a member (empty, '/', '.', '..', control characters, or over 255 bytes)");
}

// set-affinity and drain of a member that is not there: say which, and where.
[[noreturn]] void member_failed(const environment& env, const std::string& member, const error& e) {
  if (is_no_node(e.code()))
    throw operation_failed("member " + in_quotes(member) + " is not a member of prefix " +
                           in_quotes(env.options.prefix) +
                           " (" + e.what() + ")");
  throw;
}

std::string state_of(const key_assignment& k) {
  if (!k.owned()) return "unowned";
  return k.moving() ? "moving" : "ok";
}

json prefix_header(const environment& env, const std::string& path) {
  json doc;
  doc["root"] = env.options.root;
  doc["prefix"] = env.options.prefix;
  doc["path"] = path;
  return doc;
}

// --- members -------------------------------------------------------------------

action members_action() {
  return [](environment& env) {
    auto result = env.admin.async_members(use_future).get();
    if (env.options.json) {
      auto doc = prefix_header(env, env.admin.path());
      doc["members"] = json::array();
      for (auto& [id, m] : result.members) doc["members"].push_back(to_json(m));
      env.out << dump(doc) << '\n';
      return 0;
    }
    if (result.members.empty()) {
      env.out << "no members in prefix " << in_quotes(env.options.prefix) << " (" << result.path << ")\n";
      return 0;
    }
    table t({"MEMBER", "AFFINITY", "ENDPOINT", "META"});
    for (auto& [id, m] : result.members)
      t.add({printable(id), std::to_string(m.affinity), m.endpoint.empty() ? "-" : m.endpoint, m.meta});
    t.print(env.out);
    return 0;
  };
}

// --- roles -----------------------------------------------------------------------

action roles_action() {
  return [](environment& env) {
    auto result = env.admin.async_roles(use_future).get();
    if (env.options.json) {
      json doc;
      doc["root"] = env.options.root;
      doc["path"] = result.path;
      doc["roles"] = json::array();
      for (auto& [role, state] : result.roles) {
        json r;
        r["role"] = role;
        r["holder"] = to_json(state.holder);
        r["candidates"] = state.candidates;
        doc["roles"].push_back(r);
      }
      env.out << dump(doc) << '\n';
      return 0;
    }
    if (result.roles.empty()) {
      env.out << "no roles under " << result.path << '\n';
      return 0;
    }
    table t({"ROLE", "HOLDER", "ENDPOINT", "TOKEN", "CANDIDATES"});
    for (auto& [role, state] : result.roles) {
      auto& h = state.holder;
      t.add({printable(role), h ? printable(h->member_id) : "-", h && !h->endpoint.empty() ? h->endpoint : "-",
             h ? std::to_string(h->token) : "-", std::to_string(state.candidates)});
    }
    t.print(env.out);
    return 0;
  };
}

// --- assignment --------------------------------------------------------------------

action assignment_action(bool summary_only) {
  return [summary_only](environment& env) {
    auto result = env.admin.async_assignment(use_future).get();
    auto loads = result.per_member();
    auto owned = result.keys.size() - result.unowned();
    if (env.options.json) {
      auto doc = prefix_header(env, result.path);
      doc["members"] = json::array();
      for (auto& [id, m] : result.members) doc["members"].push_back(to_json(m));
      doc["keys"] = json::array();
      for (auto& k : result.keys) {
        json entry;
        put_key(entry, k.key);
        entry["owner"] = k.owner ? json(*k.owner) : json(nullptr);
        entry["token"] = k.token;
        entry["target"] = k.target ? json(*k.target) : json(nullptr);
        entry["state"] = state_of(k);
        if (!k.excluded.empty()) entry["excluded"] = k.excluded;
        doc["keys"].push_back(entry);
      }
      json per_member = json::object();
      for (auto& [id, load] : loads) {
        json m;
        auto it = result.members.find(id);
        m["is_member"] = it != result.members.end();
        m["affinity"] = it != result.members.end() ? json(it->second.affinity) : json(nullptr);
        m["owned"] = load.owned;
        m["target"] = load.target;
        per_member[id] = m;
      }
      doc["summary"] = {{"keys", result.keys.size()},
                        {"owned", owned},
                        {"unowned", result.unowned()},
                        {"moving", result.moving()},
                        {"members", per_member}};
      env.out << dump(doc) << '\n';
      return 0;
    }
    if (!summary_only && !result.keys.empty()) {
      table keys({"KEY", "OWNER", "TARGET", "STATE"});
      for (auto& k : result.keys) keys.add({printable(k.key), or_dash(k.owner), or_dash(k.target), state_of(k)});
      keys.print(env.out);
      env.out << '\n';
    }
    if (!loads.empty()) {
      table members({"MEMBER", "AFFINITY", "OWNED", "TARGET"});
      for (auto& [id, load] : loads) {
        auto it = result.members.find(id);
        members.add({printable(id), it != result.members.end() ? std::to_string(it->second.affinity) : "(gone)",
                     std::to_string(load.owned), std::to_string(load.target)});
      }
      members.print(env.out);
    }
    env.out << result.keys.size() << " keys: " << owned << " owned, " << result.unowned() << " unowned, "
            << result.moving() << " moving; " << result.members.size() << " members in prefix "
            << in_quotes(env.options.prefix) << '\n';
    return 0;
  };
}

// --- add-work, remove-work ----------------------------------------------------------

std::vector<std::string> read_keys(std::istream& in, char separator) {
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line, separator)) {
    if (separator == '\n' && !line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) keys.push_back(std::move(line));
  }
  return keys;
}

action work_action(bool remove, const po::variables_map& vm, const std::vector<std::string>& args) {
  std::vector<std::string> keys;
  bool from_stdin = args.empty();
  for (auto& a : args) {
    if (a == "-")
      from_stdin = true;
    else
      keys.push_back(a);
  }
  // A terminal on stdin and no KEY: reading it is never what was meant.
  if (args.empty() && ::isatty(STDIN_FILENO))
    throw usage_error("no keys given: KEY..., or keys on stdin ('-' reads a terminal too)");
  if (from_stdin) {
    auto read = read_keys(std::cin, vm.count("null") && vm["null"].as<bool>() ? '\0' : '\n');
    keys.insert(keys.end(), std::make_move_iterator(read.begin()), std::make_move_iterator(read.end()));
  }
  for (auto& key : keys)
    if (divider_admin::check_key(key))
      throw usage_error("work key " + in_quotes(key) + " (" + std::to_string(key.size()) + " bytes): keys are 1 to " +
                        std::to_string(max_work_key_bytes) + " bytes");
  return [remove, keys = std::move(keys)](environment& env) mutable {
    const char* verb = remove ? "remove-work" : "add-work";
    auto f = remove ? env.admin.async_remove_work(std::move(keys), use_future)
                    : env.admin.async_add_work(std::move(keys), use_future);
    auto result = f.get();
    if (env.options.json) {
      auto doc = prefix_header(env, env.admin.path());
      doc["command"] = verb;
      doc["keys"] = result.keys;
      env.out << dump(doc) << '\n';
    } else {
      env.out << verb << ": " << result.keys << " keys " << (remove ? "no longer in" : "now in") << " prefix "
              << in_quotes(env.options.prefix) << '\n';
    }
    return 0;
  };
}

// --- set-affinity, drain --------------------------------------------------------------

action set_affinity_action(const std::vector<std::string>& args) {
  auto member = args.at(0);
  require_member(member);
  auto affinity = parse_count("affinity", args.at(1));
  if (divider_admin::check_affinity(affinity))
    throw usage_error("affinity must be 0 or more, not " + std::to_string(affinity));
  return [member, affinity](environment& env) {
    member_update update;
    try {
      update = env.admin.async_set_affinity(member, affinity, use_future).get();
    } catch (const error& e) {
      member_failed(env, member, e);
    }
    if (env.options.json) {
      auto doc = prefix_header(env, env.admin.path());
      doc["member"] = member;
      doc["before"] = update.before.affinity;
      doc["after"] = update.after.affinity;
      doc["version"] = update.after.version;
      env.out << dump(doc) << '\n';
    } else {
      env.out << "set-affinity: " << printable(member) << ' ' << update.before.affinity << " -> "
              << update.after.affinity << '\n';
    }
    return 0;
  };
}

action drain_action(const po::variables_map& vm, const std::vector<std::string>& args) {
  auto member = args.at(0);
  require_member(member);
  auto wait_ms = vm["wait-ms"].as<std::int64_t>();
  if (wait_ms <= 0) throw usage_error("--wait-ms must be more than 0, not " + std::to_string(wait_ms));
  bool wait = !vm["no-wait"].as<bool>();
  return [member, wait, wait_ms](environment& env) {
    auto began = steady::now();
    auto deadline = began + std::chrono::milliseconds(wait_ms);
    // Every key the member owned at any look: those are the keys that move.
    std::set<std::string> moved;
    auto note_owned = [&](const divider_assignment& a) {
      std::size_t still = 0;
      for (auto& k : a.keys)
        if (k.owner == member) {
          moved.insert(k.key);
          ++still;
        }
      return still;
    };
    note_owned(env.admin.async_assignment(use_future).get());
    member_update update;
    try {
      update = env.admin.async_drain(member, use_future).get();
    } catch (const error& e) {
      member_failed(env, member, e);
    }
    // Done when the member owns nothing and every key it let go, that some
    // member can take, has been taken (the divider's handoff is complete).
    divider_assignment now;
    while (true) {
      now = env.admin.async_assignment(use_future).get();
      auto still = note_owned(now);
      std::size_t in_transit = 0;
      for (auto& k : now.keys)
        if (moved.count(k.key) && !k.owned() && k.target) ++in_transit;
      if (!wait || (still == 0 && in_transit == 0)) break;
      if (steady::now() >= deadline)
        throw operation_failed("member " + in_quotes(member) + " still owns " + std::to_string(still) + " keys (" +
                               std::to_string(in_transit) + " more not yet taken over) after " +
                               std::to_string(wait_ms) + " ms; its affinity is 0, so its divider hands them "
                               "over once their stops are confirmed");
      std::this_thread::sleep_for(200ms);
    }
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - began).count();
    std::map<std::string, std::size_t> to;
    std::size_t unowned = 0, removed = 0, still = 0;
    std::set<std::string> present;
    for (auto& k : now.keys) {
      present.insert(k.key);
      if (!moved.count(k.key)) continue;
      if (!k.owner)
        ++unowned;
      else if (*k.owner == member)
        ++still;
      else
        ++to[*k.owner];
    }
    for (auto& key : moved) removed += !present.count(key);
    if (env.options.json) {
      auto doc = prefix_header(env, env.admin.path());
      doc["member"] = member;
      doc["before"] = update.before.affinity;
      doc["after"] = update.after.affinity;
      doc["waited"] = wait;
      doc["moved"] = moved.size() - still;
      doc["still_owned"] = still;
      doc["to"] = json::object();
      for (auto& [id, n] : to) doc["to"][id] = n;
      doc["unowned"] = unowned;
      doc["removed"] = removed;
      doc["elapsed_ms"] = elapsed;
      env.out << dump(doc) << '\n';
      return 0;
    }
    env.out << "drain: " << printable(member) << " affinity " << update.before.affinity << " -> 0; ";
    if (!wait) {
      env.out << "owns " << still << " keys (not waiting for them to move)\n";
      return 0;
    }
    env.out << moved.size() << " keys moved in " << elapsed << " ms";
    std::string sep = ": ";
    for (auto& [id, n] : to) {
      env.out << sep << printable(id) << ' ' << n;
      sep = ", ";
    }
    if (unowned) env.out << "; " << unowned << " unowned (no other member with affinity > 0)";
    if (removed) env.out << "; " << removed << " removed meanwhile";
    env.out << '\n';
    return 0;
  };
}

// --- watch ------------------------------------------------------------------------------

std::string describe_member(const member_info& m) {
  std::string out = printable(m.id) + " affinity=" + std::to_string(m.affinity);
  if (!m.endpoint.empty()) out += " endpoint=" + m.endpoint;
  if (m.meta != "{}") out += " meta=" + m.meta;
  return out;
}

std::string describe_holder(const std::optional<role_holder>& h) {
  if (!h) return "-";
  return printable(h->member_id) + (h->endpoint.empty() ? "" : " (" + h->endpoint + ")") +
         " token=" + std::to_string(h->token);
}

action watch_action(const po::variables_map& vm) {
  auto for_ms = vm["for-ms"].as<std::int64_t>();
  if (for_ms < 0) throw usage_error("--for-ms must be 0 (no limit) or more, not " + std::to_string(for_ms));
  return [for_ms](environment& env) {
    std::mutex mutex;  // the session's listener writes too
    // One line per change: text, or one JSON object.
    auto emit = [&](json event, const std::string& text) {
      auto now = utc_time(std::chrono::system_clock::now());
      std::lock_guard lock(mutex);
      if (env.options.json) {
        json line;
        line["time"] = now;
        line.update(event);
        env.out << dump(line, true) << std::endl;
      } else {
        env.out << now << ' ' << text << std::endl;
      }
    };
    divider_watch::callbacks cb;
    cb.on_ready = [&](const divider_watch_summary& s) {
      std::lock_guard lock(mutex);
      env.err << "watching prefix " << in_quotes(env.options.prefix) << " (" << env.admin.path()
              << ") and the roles under "
              << env.options.root << ": " << s.members << " members, " << s.keys << " keys (" << s.owned
              << " owned), " << s.roles << " roles; SIGINT or SIGTERM stops" << std::endl;
    };
    cb.on_join = [&](const member_info& m) {
      emit({{"event", "member_joined"}, {"member", to_json(m)}}, "member-joined " + describe_member(m));
    };
    cb.on_leave = [&](const member_info& m) {
      emit({{"event", "member_left"}, {"member", to_json(m)}}, "member-left " + printable(m.id));
    };
    cb.on_update = [&](const member_info& now, const member_info& before) {
      std::string text = "member-updated " + printable(now.id);
      if (now.affinity != before.affinity)
        text += " affinity=" + std::to_string(before.affinity) + "->" + std::to_string(now.affinity);
      if (now.endpoint != before.endpoint) text += " endpoint=" + before.endpoint + "->" + now.endpoint;
      if (now.meta != before.meta) text += " meta=" + now.meta;
      emit({{"event", "member_updated"}, {"member", to_json(now)}, {"before", to_json(before)}}, text);
    };
    cb.on_role = [&](const role_change& c) {
      emit({{"event", "role_changed"}, {"role", c.role}, {"holder", to_json(c.after)}, {"before", to_json(c.before)}},
           "role " + printable(c.role) + " holder=" + describe_holder(c.after) + " was=" + describe_holder(c.before));
    };
    cb.on_keys = [&](const std::vector<std::string>& added, const std::vector<std::string>& removed) {
      for (auto& key : added) {
        json e{{"event", "key_added"}};
        put_key(e, key);
        emit(e, "key-added " + printable(key));
      }
      for (auto& key : removed) {
        json e{{"event", "key_removed"}};
        put_key(e, key);
        emit(e, "key-removed " + printable(key));
      }
    };
    cb.on_owner = [&](const owner_change& c) {
      json e{{"event", "owner_changed"}};
      put_key(e, c.key);
      e["owner"] = c.after ? json(*c.after) : json(nullptr);
      e["before"] = c.before ? json(*c.before) : json(nullptr);
      e["token"] = c.token;
      emit(e, "owner " + printable(c.key) + ' ' + or_dash(c.before) + " -> " + or_dash(c.after) +
                  (c.after ? " token=" + std::to_string(c.token) : std::string()));
    };
    auto listener = env.zk.add_listener([&](const session_event& e) {
      std::lock_guard lock(mutex);
      env.err << "session " << to_string(e.state) << std::endl;
    });
    int result = 0;
    {
      divider_watch watch(env.zk, env.options.root, env.options.prefix, std::move(cb));
      // main blocked SIGINT and SIGTERM before any thread started: they
      // wait here for us.
      sigset_t stop;
      sigemptyset(&stop);
      sigaddset(&stop, SIGINT);
      sigaddset(&stop, SIGTERM);
      auto until = steady::now() + std::chrono::milliseconds(for_ms);
      while (true) {
        int sig;
        if (for_ms == 0) {
          sig = sigwaitinfo(&stop, nullptr);
        } else {
          auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - steady::now());
          if (left.count() <= 0) break;
          timespec ts{static_cast<std::time_t>(left.count() / 1000000000),
                      static_cast<long>(left.count() % 1000000000)};
          sig = sigtimedwait(&stop, nullptr, &ts);
        }
        if (sig > 0) {
          std::lock_guard lock(mutex);
          env.err << "stopped by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << std::endl;
          break;
        }
        if (errno != EINTR && errno != EAGAIN) {
          result = 1;
          break;
        }
      }
    }
    env.zk.remove_listener(listener);
    return result;
  };
}

std::vector<command> make_commands() {
  std::vector<command> all;
  auto none = [](po::options_description&) {};
  auto exactly = [](const std::vector<std::string>& args, std::size_t n, const char* what) {
    if (args.size() != n) throw usage_error(std::string("expects ") + what);
  };

  all.push_back({"members", "", "the prefix's members: affinity, endpoint, meta",
                 "Lists the members of the divider prefix (its members nodes), sorted by id.", none,
                 [exactly](const po::variables_map&, const std::vector<std::string>& args) {
                   exactly(args, 0, "no arguments");
                   return members_action();
                 }});
  all.push_back({"roles", "", "every role under ROOT/roles and who holds it",
                 "Lists every role under ROOT/roles: its holder (the lowest candidate: member id, endpoint,\n"
                 "fencing token = the candidate node's czxid) and how many candidates stand.",
                 none,
                 [exactly](const po::variables_map&, const std::vector<std::string>& args) {
                   exactly(args, 0, "no arguments");
                   return roles_action();
                 }});
  all.push_back({"assignment", "", "who owns which key, whom the assignment gives it; keys per member",
                 "Every work key with its owner now (from its owner node), its target (the member the\n"
                 "assignment gives it: weighted rendezvous, releases honoured) and its state: ok, moving\n"
                 "(owned, not by its target) or unowned; then keys owned and targeted per member.",
                 [](po::options_description& o) {
                   o.add_options()("summary", po::bool_switch(), "only the keys per member and the totals");
                 },
                 [exactly](const po::variables_map& vm, const std::vector<std::string>& args) {
                   exactly(args, 0, "no arguments");
                   return assignment_action(vm["summary"].as<bool>());
                 }});
  auto work_options = [](po::options_description& o) {
    o.add_options()("null,0", po::bool_switch(), "keys on stdin end with NUL, not newline (any bytes but NUL)");
  };
  all.push_back({"add-work", "[KEY...|-]", "add work keys (stdin, one per line, with none or '-')",
                 "Adds work keys to the prefix, in multis of at most 100; keys already there stay.\n"
                 "With no KEY, or '-', reads keys from stdin, one per line (empty lines skipped).\n"
                 "Keys are 1 to 512 bytes; a key that starts with '-' goes after '--'.",
                 work_options,
                 [](const po::variables_map& vm, const std::vector<std::string>& args) {
                   return work_action(false, vm, args);
                 }});
  all.push_back({"remove-work", "[KEY...|-]", "remove work keys (the same)",
                 "Removes work keys from the prefix, in multis of at most 100; absent keys are fine.\n"
                 "Keys come as for add-work. Their owners stop them (reason: removed).",
                 work_options,
                 [](const po::variables_map& vm, const std::vector<std::string>& args) {
                   return work_action(true, vm, args);
                 }});
  all.push_back({"set-affinity", "MEMBER N", "set a member's affinity (N >= 0)",
                 "Sets MEMBER's affinity to N (compare-and-set on its node; endpoint and meta kept).\n"
                 "Its keys follow: the members move exactly the keys whose owner changes.",
                 none,
                 [exactly](const po::variables_map&, const std::vector<std::string>& args) {
                   exactly(args, 2, "MEMBER N");
                   return set_affinity_action(args);
                 }});
  all.push_back({"drain", "MEMBER", "affinity 0, then wait until the member owns no keys",
                 "Sets MEMBER's affinity to 0, then waits until it owns no keys and the others have\n"
                 "taken them over (its divider stops each key, waits for the confirm, hands it over),\n"
                 "and says how many moved where. Exit status 1 if that takes longer than --wait-ms.",
                 [](po::options_description& o) {
                   o.add_options()("wait-ms", po::value<std::int64_t>()->default_value(60000),
                                   "how long to wait for the keys to move")(
                       "no-wait", po::bool_switch(), "set the affinity and return");
                 },
                 [exactly](const po::variables_map& vm, const std::vector<std::string>& args) {
                   exactly(args, 1, "MEMBER");
                   return drain_action(vm, args);
                 }});
  all.push_back({"watch", "", "print changes as they happen until SIGINT/SIGTERM",
                 "Prints one line per change (one JSON object per line with --json): members joining,\n"
                 "leaving or changing affinity, role holders, keys added or removed, key owners.\n"
                 "Starts once the current picture is read (a 'watching' line on stderr); stops on\n"
                 "SIGINT or SIGTERM, or after --for-ms.",
                 [](po::options_description& o) {
                   o.add_options()("for-ms", po::value<std::int64_t>()->default_value(0),
                                   "stop after this long (0: only on a signal)");
                 },
                 [exactly](const po::variables_map& vm, const std::vector<std::string>& args) {
                   exactly(args, 0, "no arguments");
                   return watch_action(vm);
                 },
                 true});
  return all;
}

}  // namespace

const std::vector<command>& commands() {
  static const std::vector<command> all = make_commands();
  return all;
}

}  // namespace nominee::cli
