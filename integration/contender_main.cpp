// nominee-contender: one process standing for one role, writing down what
// happened to it, for the multi-process election tests and the takeover
// benchmark (kill -9 and SIGSTOP need a real process).
//
//   nominee-contender --hosts H --root R --role ROLE --member ID
//                     --history FILE --session-file FILE --session-timeout-ms N
//                     [--resign-every-ms N --seed S] [--act-every-ms N] [--duration-ms N]
//
// History lines (election_history.hpp reads them), appended with one write
// each: "<steady ns> <member> <verb> ...": started, elected <token>,
// revoked <reason>, act <token> tick|resumed (with --act-every-ms: the
// process checked is_holder() and would act now; every N ms, and at once
// after a SIGCONT), session <state> <id>, resign, stand, exiting. <steady ns> is CLOCK_MONOTONIC, so lines of different processes
// on one machine compare.
//
// --session-file gets "<session id hex> <password hex>" whenever a new
// session connects (tmp file + rename), so a test can end that session from
// outside with a twin handle.
//
// SIGTERM or SIGINT (or --duration-ms passing) ends it cleanly with exit 0:
// it stops acting, logs `exiting`, destroys the candidate, then the session.
// It dies with SIGKILL when the process that started it dies.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <nominee/election.hpp>
#include <nominee/log.hpp>
#include <nominee/session.hpp>

#include "child_main.hpp"
#include "history_file.hpp"
#include "session_file.hpp"

namespace {

using namespace std::chrono_literals;

struct arguments {
  std::string hosts;
  std::string root;
  std::string role;
  std::string member;
  std::string history;
  std::string session_file;
  int session_timeout_ms = 0;
  int resign_every_ms = 0;  // 0: never resigns by itself
  std::uint64_t seed = 1;
  int act_every_ms = 0;     // 0: no `act` lines
  int duration_ms = 0;      // 0: until SIGTERM
};

const char* const usage =
    "usage: nominee-contender --hosts H --root R --role ROLE --member ID --history FILE\n"
    "                         --session-file FILE --session-timeout-ms N\n"
    "                         [--resign-every-ms N --seed S] [--act-every-ms N] [--duration-ms N]\n";

arguments parse_arguments(int argc, char** argv) {
  nominee::testing::flag_values flags(argc, argv);
  arguments a;
  a.hosts = flags.take("hosts", true);
  a.root = flags.take("root", true);
  a.role = flags.take("role", true);
  a.member = flags.take("member", true);
  a.history = flags.take("history", true);
  a.session_file = flags.take("session-file", true);
  a.session_timeout_ms = static_cast<int>(flags.number("session-timeout-ms", true, 1));
  a.resign_every_ms = static_cast<int>(flags.number("resign-every-ms", false, 1));
  a.seed = static_cast<std::uint64_t>(flags.number("seed", false, 0));
  a.act_every_ms = static_cast<int>(flags.number("act-every-ms", false, 1));
  a.duration_ms = static_cast<int>(flags.number("duration-ms", false, 1));
  flags.finish();
  nominee::testing::check_member_id(a.member);
  return a;
}

using nominee::testing::hex;
using nominee::testing::steady_now_ns;
using nominee::testing::stop_signal;

int run(const arguments& args) {
  nominee::testing::history_writer history(args.history, args.member, "nominee-contender");
  history.write("started pid=" + std::to_string(::getpid()));

  nominee::session_options options;
  options.hosts = args.hosts;
  options.session_timeout = std::chrono::milliseconds(args.session_timeout_ms);
  auto s = std::make_unique<nominee::session>(options);
  s->add_listener([&history, &args, raw = s.get()](const nominee::session_event& e) {
    history.write("session " + std::string(nominee::to_string(e.state)) + " " + hex(static_cast<std::uint64_t>(e.session_id)) +
                  " timeout_ms=" + std::to_string(e.negotiated_timeout.count()));
    // The listener runs on the session's executor, after the state changed:
    // the id and password read here belong to e's session unless a newer
    // one replaced it already (then its own event writes the file again).
    if (e.state == nominee::session_state::connected && raw->session_id() == e.session_id)
      nominee::testing::write_session_file(args.session_file, e.session_id, raw->session_password(), "nominee-contender");
  });

  nominee::election_options election;
  election.root = args.root;
  election.role = args.role;
  election.member_id = args.member;
  election.endpoint = "pid:" + std::to_string(::getpid());
  nominee::candidate::callbacks callbacks;
  callbacks.on_elected = [&history](const nominee::term& t) { history.write("elected " + std::to_string(t.token)); };
  callbacks.on_revoked = [&history](nominee::revoke_reason r) {
    history.write("revoked " + std::string(nominee::to_string(r)));
  };
  auto candidate = std::make_unique<nominee::candidate>(*s, election, callbacks);

  stop_signal stop;
  std::thread resigner;
  if (args.resign_every_ms > 0) {
    resigner = std::thread([&] {
      std::mt19937_64 random(args.seed);
      std::uniform_int_distribution<int> period(args.resign_every_ms / 2, args.resign_every_ms * 3 / 2);
      std::uniform_int_distribution<int> pause(20, 300);
      std::bernoulli_distribution shuffle(0.25);
      while (stop.sleep_for(std::chrono::milliseconds(period(random)))) {
        // Mostly the holder resigns (a handoff); now and then a waiting
        // candidate leaves the queue and rejoins it at the back.
        if (!candidate->is_holder() && !shuffle(random)) continue;
        history.write("resign");
        candidate->resign();
        if (!stop.sleep_for(std::chrono::milliseconds(pause(random)))) break;
        history.write("stand");
        candidate->stand();
      }
    });
  }
  // What a holder's worker does before each piece of holder work. The time
  // is taken before the check: if is_holder() said yes, the process held the
  // role at that time or later, before its revoke.
  auto act = [&](const char* why) {
    auto at = steady_now_ns();
    if (candidate->is_holder()) {
      auto t = candidate->current_term();
      history.write_at(at, "act " + std::to_string(t ? t->token : -1) + " " + why);
    }
  };
  std::thread actor;
  if (args.act_every_ms > 0) {
    actor = std::thread([&] {
      auto next = std::chrono::steady_clock::now();
      while (stop.sleep_until(next)) {
        next += std::chrono::milliseconds(args.act_every_ms);
        act("tick");
        auto now = std::chrono::steady_clock::now();
        if (next < now) next = now;
      }
    });
  }

  // SIGTERM, SIGINT and SIGCONT are blocked in every thread (main blocked
  // them before any was started); wait for them here, or for the duration to
  // pass. SIGCONT still resumes a stopped process; here it also makes the
  // process act at once, the way a worker that was frozen mid-loop would.
  auto signals = nominee::testing::signal_set({SIGTERM, SIGINT, SIGCONT});
  auto deadline = args.duration_ms > 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(args.duration_ms)
                                       : std::chrono::steady_clock::time_point::max();
  int received = 0;
  while (received <= 0 && std::chrono::steady_clock::now() < deadline) {
    timespec wait{0, 100'000'000};
    received = sigtimedwait(&signals, nullptr, &wait);
    if (received == SIGCONT) {
      if (args.act_every_ms > 0) act("resumed");
      received = 0;
    }
  }

  stop.set();
  if (resigner.joinable()) resigner.join();
  if (actor.joinable()) actor.join();
  history.write(received > 0 ? "exiting signal=" + std::to_string(received) : std::string("exiting duration"));
  candidate.reset();  // deletes the node; no callback after this
  s.reset();          // closes the session
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Dies with the test or benchmark that started it. SIGTERM, SIGINT and
  // SIGCONT are blocked before any thread exists: only sigtimedwait in run()
  // sees them.
  return nominee::testing::child_main(argc, argv, "nominee-contender", usage, {SIGTERM, SIGINT, SIGCONT},
                                      parse_arguments, [](const arguments& args) {
                                        nominee::set_log_level(nominee::log_level::warn);
                                        return run(args);
                                      });
}
