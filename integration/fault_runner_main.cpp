// nominee-fault-runner: plays a seeded schedule of faults against a fleet of
// nominee-worker processes on a 3-node ZooKeeper ensemble, then checks every
// history (fault_runner.hpp). Prints the checker's summary, then one JSON
// line; exits 0 when the run had no violation, 1 when it had one, 2 on a
// bad flag or when it could not start.
//
//   nominee-fault-runner [--seed N|random] [--duration-s S] [--workers W]
//                        [--partitionable P] [--keys K] [--session-timeout-ms T]
//                        [--worker PATH] [--dir DIR] [--keep] [--json FILE]
//                        [--print-schedule] [--quiet]
//
// A failing run prints its seed: the same flags with that seed replay the
// same faults.
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>

#include "fault_runner.hpp"

namespace {

using nominee::testing::fault_run_options;

const char* const usage =
    "usage: nominee-fault-runner [--seed N|random] [--duration-s S] [--workers W] [--partitionable P]\n"
    "                            [--keys K] [--session-timeout-ms T] [--worker PATH] [--dir DIR] [--keep]\n"
    "                            [--json FILE] [--print-schedule] [--quiet]\n";

std::int64_t whole_number(const std::string& flag, const std::string& text, std::int64_t lo, std::int64_t hi) {
  std::size_t used = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < lo || value > hi)
    throw std::invalid_argument(flag + " '" + text + "' must be a whole number in " + std::to_string(lo) + ".." +
                                std::to_string(hi));
  return value;
}

struct command_line {
  fault_run_options run;
  std::string json_file;
  bool print_schedule = false;
};

command_line parse(int argc, char** argv) {
  command_line c;
  c.run.worker_path = NOMINEE_WORKER_PATH;
  c.run.schedule.duration = std::chrono::seconds(120);
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--seed") {
      auto v = value();
      c.run.schedule.seed = v == "random" ? std::random_device{}() : static_cast<std::uint64_t>(whole_number(flag, v, 0, INT64_MAX));
    } else if (flag == "--duration-s") {
      c.run.schedule.duration = std::chrono::seconds(whole_number(flag, value(), 5, 7 * 24 * 3600));
    } else if (flag == "--workers") {
      c.run.schedule.workers = static_cast<int>(whole_number(flag, value(), 3, 50));
    } else if (flag == "--partitionable") {
      c.run.schedule.partitionable = static_cast<int>(whole_number(flag, value(), 0, 50));
    } else if (flag == "--keys") {
      c.run.schedule.initial_keys = static_cast<int>(whole_number(flag, value(), 1, 900));
    } else if (flag == "--session-timeout-ms") {
      c.run.schedule.session_timeout = std::chrono::milliseconds(whole_number(flag, value(), 1000, 60000));
    } else if (flag == "--worker") {
      c.run.worker_path = value();
    } else if (flag == "--dir") {
      c.run.directory = value();
    } else if (flag == "--keep") {
      c.run.keep_files = true;
    } else if (flag == "--json") {
      c.json_file = value();
    } else if (flag == "--print-schedule") {
      c.print_schedule = true;
    } else if (flag == "--quiet") {
      c.run.verbose = false;
    } else if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown flag '" + flag + "'");
    }
  }
  if (c.run.schedule.partitionable > c.run.schedule.workers)
    throw std::invalid_argument("--partitionable " + std::to_string(c.run.schedule.partitionable) +
                                " exceeds --workers " + std::to_string(c.run.schedule.workers));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nominee::testing;
  command_line c;
  try {
    c = parse(argc, argv);
    if (c.print_schedule) {
      for (auto& step : make_schedule(c.run.schedule)) std::cout << describe(step) << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "nominee-fault-runner: " << e.what() << "\n" << usage;
    return 2;
  }
  try {
    auto result = run_faults(c.run);
    std::cout << result.summary;
    if (!result.ok || c.run.keep_files) std::cout << "histories and logs: " << result.directory.string() << "\n";
    std::cout << result.json << std::endl;
    if (!c.json_file.empty()) std::ofstream(c.json_file) << result.json << "\n";
    return result.ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "nominee-fault-runner: " << e.what() << "\n";
    return 2;
  }
}
