// nominee-zookeeper: runs a throwaway ZooKeeper standalone server or
// ensemble on loopback until SIGINT/SIGTERM, for the demo and for poking at
// the recipes by hand. Prints `connect=<connect string>` once all serve.
#include "zookeeper_launcher.hpp"

#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace {

constexpr std::string_view usage =
    "usage: nominee-zookeeper [--servers N] [--tick-ms T] [--connect-file PATH] [--no-fsync]\n"
    "                         [--start-timeout-ms MS]\n"
    "Starts N (odd, default 1) ZooKeeper servers on 127.0.0.1, prints `connect=...`\n"
    "and runs until SIGINT or SIGTERM, then stops them and removes their data\n"
    "(set NOMINEE_KEEP_ZK_DATA=1 to keep it).\n";

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct command_line {
  nominee::testing::zookeeper_options options;
  std::string connect_file;
};

// Returns nullopt after printing what is wrong.
std::optional<command_line> parse(int argc, char** argv) {
  command_line parsed;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (flag == "--no-fsync") {
      parsed.options.fsync = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "nominee-zookeeper: " << flag << " needs a value (or is unknown)\n" << usage;
      return std::nullopt;
    }
    std::string_view value = argv[++i];
    if (flag == "--connect-file") {
      parsed.connect_file = value;
      continue;
    }
    auto number = parse_int(value);
    if (!number || *number <= 0) {
      std::cerr << "nominee-zookeeper: " << flag << " wants a positive integer, not '" << value << "'\n";
      return std::nullopt;
    }
    if (flag == "--servers") {
      parsed.options.servers = *number;
    } else if (flag == "--tick-ms") {
      parsed.options.tick_ms = *number;
    } else if (flag == "--start-timeout-ms") {
      parsed.options.start_timeout = std::chrono::milliseconds(*number);
    } else {
      std::cerr << "nominee-zookeeper: unknown option " << flag << "\n" << usage;
      return std::nullopt;
    }
  }
  if (parsed.options.servers % 2 == 0) {
    std::cerr << "nominee-zookeeper: --servers must be odd (a quorum of an even ensemble buys nothing)\n";
    return std::nullopt;
  }
  return parsed;
}

// Written beside and renamed into place, so a script polling for the file
// never reads half a connect string.
void write_connect_file(const std::filesystem::path& path, const std::string& connect) {
  auto temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << connect << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) return 2;

  // Block the stop signals before any server exists: one that arrives
  // during startup then waits for sigwait below instead of killing us
  // before cleanup. A background job of a non-interactive shell starts
  // with SIGINT ignored; restore the default so it is delivered at all.
  sigset_t stop_signals;
  ::sigemptyset(&stop_signals);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    ::signal(signal_number, SIG_DFL);
    ::sigaddset(&stop_signals, signal_number);
  }
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A reader that goes away must not kill us before we clean up.
  ::signal(SIGPIPE, SIG_IGN);

  int exit_code = 0;
  try {
    const auto started = std::chrono::steady_clock::now();
    nominee::testing::zookeeper_cluster cluster(parsed->options);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const auto connect = cluster.connect_string();
    std::cout << "connect=" << connect << std::endl;
    std::cerr << "nominee-zookeeper: " << cluster.size() << " server(s) serving after " << took.count()
              << " ms; data and logs in " << cluster.directory().string() << "\n";
    if (!parsed->connect_file.empty()) write_connect_file(parsed->connect_file, connect);

    int received = 0;
    ::sigwait(&stop_signals, &received);
    std::cerr << "nominee-zookeeper: " << ::strsignal(received) << ", stopping\n";
    if (!parsed->connect_file.empty()) {
      std::error_code ignored;
      std::filesystem::remove(parsed->connect_file, ignored);
    }
  } catch (const std::exception& error) {
    std::cerr << "nominee-zookeeper: " << error.what() << "\n";
    exit_code = 1;
  }
  return exit_code;
}
