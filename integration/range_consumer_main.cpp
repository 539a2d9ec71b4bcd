// nominee-range-consumer: one range consumer (and, with --coordinator 1, a
// candidate for space-manager:<space>) in a process of its own, for the
// multi-process churn test (kill -9 needs a real process).
//
//   nominee-range-consumer --hosts H --root R --space S --id ID --values FILE --status FILE
//                          --session-timeout-ms N --lo N --hi N --min-block N --max-block N
//                          --target-ms N [--coordinator 0|1] [--burst N] [--period-ms N]
//
// It draws --burst values every --period-ms and appends them to --values as
// 8-byte little-endian records, one write(2) per burst: a kill -9 leaves at
// most a torn last record, which the checker ignores. --status gets
// history lines (history_file.hpp): started pid=<pid>, coordinator 0|1 on
// every change, stall <ms> when next() waited, exhausted, exiting values=<n>.
// SIGTERM or SIGINT: stop drawing, write the last burst, exit 0. Dies with
// SIGKILL when the process that started it dies.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nominee/error.hpp>
#include <nominee/ranges.hpp>
#include <nominee/session.hpp>

#include "child_main.hpp"
#include "history_file.hpp"

namespace {

using namespace std::chrono_literals;

struct arguments {
  std::string hosts, root, space, id, values, status;
  int session_timeout_ms = 0;
  nominee::range_space_config config;
  bool coordinator = false;
  long long burst = 100;
  long long period_ms = 5;
};

const char* const usage =
    "usage: nominee-range-consumer --hosts H --root R --space S --id ID --values FILE --status FILE\n"
    "                              --session-timeout-ms N --lo N --hi N --min-block N --max-block N\n"
    "                              --target-ms N [--coordinator 0|1] [--burst N] [--period-ms N]\n";

arguments parse_arguments(int argc, char** argv) {
  nominee::testing::flag_values flags(argc, argv);
  arguments a;
  a.hosts = flags.take("hosts", true);
  a.root = flags.take("root", true);
  a.space = flags.take("space", true);
  a.id = flags.take("id", true);
  a.values = flags.take("values", true);
  a.status = flags.take("status", true);
  a.session_timeout_ms = static_cast<int>(flags.number("session-timeout-ms", true, 1));
  a.config.lo = static_cast<std::uint64_t>(flags.number("lo", true, 0));
  a.config.hi = static_cast<std::uint64_t>(flags.number("hi", true, 0));
  a.config.min_block = static_cast<std::uint64_t>(flags.number("min-block", true, 1));
  a.config.max_block = static_cast<std::uint64_t>(flags.number("max-block", true, 1));
  a.config.target_lease = std::chrono::milliseconds(flags.number("target-ms", true, 1));
  a.coordinator = flags.number("coordinator", false, 0, 0) != 0;
  a.burst = flags.number("burst", false, 1, a.burst);
  a.period_ms = flags.number("period-ms", false, 0, a.period_ms);
  flags.finish();
  nominee::testing::check_member_id(a.id);
  return a;
}

void append_all(int fd, const std::vector<std::uint64_t>& values) {
  std::vector<unsigned char> bytes(values.size() * 8);
  for (std::size_t i = 0; i < values.size(); ++i)
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<unsigned char>(values[i] >> (8 * b));
  const unsigned char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("values write failed: ") + std::strerror(errno));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

int run(const arguments& a) {
  nominee::testing::history_writer status(a.status, a.id, "nominee-range-consumer");
  status.write("started pid=" + std::to_string(::getpid()));
  int fd = ::open(a.values.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + a.values + ": " + std::strerror(errno));

  nominee::session_options options;
  options.hosts = a.hosts;
  options.session_timeout = std::chrono::milliseconds(a.session_timeout_ms);
  auto s = std::make_unique<nominee::session>(options);
  s->wait_connected(30s);

  nominee::range_consumer_options o;
  o.root = a.root;
  o.space = a.space;
  o.consumer_id = a.id;
  o.config = a.config;
  o.stand_for_coordinator = a.coordinator;
  o.wait_timeout = 500ms;
  auto consumer = std::make_unique<nominee::range_consumer>(*s, o);

  auto signals = nominee::testing::signal_set({SIGTERM, SIGINT});
  std::vector<std::uint64_t> batch;
  std::uint64_t total = 0;
  bool coordinating = false;
  int exit_code = 0;
  for (;;) {
    batch.clear();
    for (long long i = 0; i < a.burst; ++i) {
      try {
        batch.push_back(consumer->next());
      } catch (const nominee::error& e) {
        if (e.code() == nominee::errc::deadline_exceeded) {
          status.write("stall 500");
          break;  // look at the signals, then try again
        }
        if (e.code() == nominee::errc::space_exhausted) {
          status.write("exhausted");
          exit_code = 3;
        } else {
          status.write("error " + nominee::testing::history_word(e.what()));
          exit_code = 1;
        }
        break;
      }
    }
    append_all(fd, batch);
    total += batch.size();
    if (consumer->is_coordinator() != coordinating) {
      coordinating = !coordinating;
      status.write(std::string("coordinator ") + (coordinating ? "1" : "0"));
    }
    if (exit_code != 0) break;
    timespec wait{a.period_ms / 1000, (a.period_ms % 1000) * 1'000'000};
    if (::sigtimedwait(&signals, nullptr, &wait) > 0) break;
  }
  auto stats = consumer->statistics();
  status.write("exiting values=" + std::to_string(total) + " leases=" + std::to_string(stats.leases) +
               " block=" + std::to_string(stats.block_size) + " returned=" + std::to_string(stats.returned_values) +
               " writes=" + std::to_string(stats.zookeeper_writes) + " waits=" + std::to_string(stats.waits));
  consumer.reset();
  s.reset();
  ::close(fd);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  return nominee::testing::child_main(argc, argv, "nominee-range-consumer", usage, {SIGTERM, SIGINT},
                                      parse_arguments, run);
}
