// nominee-divider-member: one process that is one member of a divider,
// writing down every key it starts and stops, for the multi-process divider
// churn test (kill -9 needs a real process).
//
//   nominee-divider-member --hosts H --root R --prefix P --member ID --affinity N
//                          --history FILE --session-timeout-ms N
//                          [--seed-keys N] [--leave-timeout-ms N] [--reconcile-ms N]
//
// History lines (divider_history.hpp reads them), appended with one write(2)
// each: "<steady ns> <member> <verb> ...": started pid=<pid>,
// start <key> <token>, stop <key> <reason>, confirm <key>, joined,
// seeded <n>, leaving, exiting flush=<outcome>, and notes (session <state>
// <id>, join_failed, affinity). <steady ns> is CLOCK_MONOTONIC: lines of
// different processes on one machine compare, and an NTP step cannot
// reorder them (CLOCK_REALTIME could).
//
// on_stop writes `stop`, then `confirm`, and only then calls confirm_stop:
// the key's owner node goes after the `confirm` line is on disk, so a
// member's hold of a key is [start, confirm] and the next owner's `start`
// must come after it.
//
// --seed-keys N adds key-000 .. key-<N-1> once joined (idempotent; one
// process of the test does it). A start that fails (the member id is still
// taken by this member's previous, killed process, whose session the server
// has not expired yet) is retried every 250 ms.
//
// SIGTERM or SIGINT: async_flush_and_cancel (bounded by --leave-timeout-ms),
// `exiting`, then the divider and the session go; exit 0. SIGUSR1 cycles the
// affinity 1 -> 3 -> 0 -> 1 (an affinity change moves keys). It dies with
// SIGKILL when the process that started it dies.
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
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <nominee/divider.hpp>
#include <nominee/log.hpp>
#include <nominee/session.hpp>

#include "child_main.hpp"
#include "history_file.hpp"

namespace {

using namespace std::chrono_literals;

struct arguments {
  std::string hosts;
  std::string root;
  std::string prefix;
  std::string member;
  std::int64_t affinity = 1;
  std::string history;
  int session_timeout_ms = 0;
  int seed_keys = 0;
  int leave_timeout_ms = 30000;
  int reconcile_ms = 0;  // 0: the divider's default
};

const char* const usage =
    "usage: nominee-divider-member --hosts H --root R --prefix P --member ID --affinity N\n"
    "                              --history FILE --session-timeout-ms N\n"
    "                              [--seed-keys N] [--leave-timeout-ms N] [--reconcile-ms N]\n";

arguments parse_arguments(int argc, char** argv) {
  nominee::testing::flag_values flags(argc, argv);
  arguments a;
  a.hosts = flags.take("hosts", true);
  a.root = flags.take("root", true);
  a.prefix = flags.take("prefix", true);
  a.member = flags.take("member", true);
  a.affinity = flags.number("affinity", true, 0, 1);
  a.history = flags.take("history", true);
  a.session_timeout_ms = static_cast<int>(flags.number("session-timeout-ms", true, 1, 0));
  a.seed_keys = static_cast<int>(flags.number("seed-keys", false, 0, 0));
  a.leave_timeout_ms = static_cast<int>(flags.number("leave-timeout-ms", false, 1, a.leave_timeout_ms));
  a.reconcile_ms = static_cast<int>(flags.number("reconcile-ms", false, 1, 0));
  flags.finish();
  nominee::testing::check_member_id(a.member);
  return a;
}

using nominee::testing::hex;
using nominee::testing::stop_signal;

using nominee::testing::history_word;

// The error of a finished void future, as one word ("ok" for none).
std::string outcome_of(std::future<void>& f) {
  try {
    f.get();
    return "ok";
  } catch (const std::system_error& e) {
    return history_word(e.code().message());
  } catch (const std::exception& e) {
    return history_word(e.what());
  }
}

int run(const arguments& args) {
  nominee::testing::history_writer history(args.history, args.member, "nominee-divider-member");
  history.write("started pid=" + std::to_string(::getpid()) + " affinity=" + std::to_string(args.affinity));

  nominee::session_options options;
  options.hosts = args.hosts;
  options.session_timeout = std::chrono::milliseconds(args.session_timeout_ms);
  auto s = std::make_unique<nominee::session>(options);
  s->add_listener([&history](const nominee::session_event& e) {
    history.write("session " + std::string(nominee::to_string(e.state)) + " " +
                  hex(static_cast<std::uint64_t>(e.session_id)) +
                  " timeout_ms=" + std::to_string(e.negotiated_timeout.count()));
  });

  nominee::divider_options d_options;
  d_options.root = args.root;
  d_options.prefix = args.prefix;
  d_options.member_id = args.member;
  d_options.affinity = args.affinity;
  d_options.endpoint = "pid:" + std::to_string(::getpid());
  if (args.reconcile_ms > 0) d_options.reconcile_interval = std::chrono::milliseconds(args.reconcile_ms);

  // on_stop confirms from inside the callback, through the divider it
  // belongs to; the pointer is set before async_start and cleared (under the
  // mutex) before the divider goes.
  struct confirmer {
    std::mutex mutex;
    nominee::divider* target = nullptr;
  };
  auto confirm = std::make_shared<confirmer>();
  nominee::divider::callbacks callbacks;
  callbacks.on_start = [&history](const nominee::key_lease& lease) {
    history.write("start " + history_word(lease.key) + " " + std::to_string(lease.token));
  };
  callbacks.on_stop = [&history, confirm](const std::string& key, nominee::stop_reason reason) {
    history.write("stop " + history_word(key) + " " + std::string(nominee::to_string(reason)));
    // The work on key has stopped (there is none): say so, then let go.
    history.write("confirm " + history_word(key));
    std::lock_guard lock(confirm->mutex);
    if (!confirm->target) return;
    if (auto ec = confirm->target->confirm_stop(key))
      history.write("confirm_failed " + history_word(key) + " " + history_word(ec.message()));
  };
  auto d = std::make_unique<nominee::divider>(*s, d_options, callbacks);
  {
    std::lock_guard lock(confirm->mutex);
    confirm->target = d.get();
  }

  stop_signal stop;
  // Joins (retrying while our id is still taken by a killed predecessor's
  // session), then seeds the keys if asked.
  std::thread starter([&] {
    while (true) {
      auto started = d->async_start(boost::asio::use_future);
      while (started.wait_for(100ms) != std::future_status::ready)
        if (stop.stopping()) return;
      auto outcome = outcome_of(started);
      if (outcome == "ok") break;
      history.write("join_failed " + outcome);
      if (!stop.sleep_for(250ms)) return;
    }
    history.write("joined");
    if (args.seed_keys > 0) {
      auto added = d->async_add_work(nominee::testing::numbered_keys(args.seed_keys), boost::asio::use_future);
      while (added.wait_for(100ms) != std::future_status::ready)
        if (stop.stopping()) return;
      auto outcome = outcome_of(added);
      history.write(outcome == "ok" ? "seeded " + std::to_string(args.seed_keys) : "seed_failed " + outcome);
    }
  });

  // SIGTERM, SIGINT and SIGUSR1 are blocked in every thread (main blocked
  // them before any was started): they arrive here.
  auto signals = nominee::testing::signal_set({SIGTERM, SIGINT, SIGUSR1});
  const std::int64_t cycle[] = {1, 3, 0};
  std::size_t next_affinity = 0;
  int received = 0;
  while (received <= 0) {
    timespec wait{0, 100'000'000};
    received = sigtimedwait(&signals, nullptr, &wait);
    if (received == SIGUSR1) {
      auto affinity = cycle[++next_affinity % 3];
      history.write("affinity_request " + std::to_string(affinity));
      d->async_set_affinity(affinity, [&history, affinity](std::error_code ec) {
        history.write("affinity " + std::to_string(affinity) + " " + (ec ? history_word(ec.message()) : std::string("ok")));
      });
      received = 0;
    }
  }

  stop.set();
  starter.join();
  history.write("leaving signal=" + std::to_string(received));
  auto left = d->async_flush_and_cancel(boost::asio::use_future);
  std::string outcome = left.wait_for(std::chrono::milliseconds(args.leave_timeout_ms)) == std::future_status::ready
                            ? outcome_of(left)
                            : "timeout";
  // From here on this process does no work, whatever the divider still says.
  history.write("exiting flush=" + outcome);
  {
    std::lock_guard lock(confirm->mutex);
    confirm->target = nullptr;
  }
  d.reset();  // no callback after this; deletes whatever nodes are left
  s.reset();  // closes the session
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Dies with the test that started it. SIGTERM, SIGINT and SIGUSR1 are
  // blocked before any thread exists: only sigtimedwait in run() sees them.
  return nominee::testing::child_main(argc, argv, "nominee-divider-member", usage, {SIGTERM, SIGINT, SIGUSR1},
                                      parse_arguments, [](const arguments& args) {
                                        nominee::set_log_level(nominee::log_level::warn);
                                        return run(args);
                                      });
}
