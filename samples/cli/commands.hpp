#pragma once
// The CLI's commands. Each one checks its arguments first (usage_error,
// exit 2, before anything connects), then runs against a connected session
// (a failure is a nominee::error or an operation_failed, exit 1).

#include <chrono>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include <nominee/divider_admin.hpp>
#include <nominee/session.hpp>

namespace nominee::cli {

namespace po = boost::program_options;

struct globals {
  std::string hosts;
  std::string root;
  std::string prefix;
  std::chrono::milliseconds timeout{10000};
  bool json = false;
  bool verbose = false;
};

// Bad command line: the message, then the command's usage; exit 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The operation ran and did not succeed (a drain past its deadline); exit 1.
struct operation_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a command runs against, once connected.
struct environment {
  const globals& options;
  session& zk;
  divider_admin& admin;
  std::ostream& out;
  std::ostream& err;
};

using action = std::function<int(environment&)>;

struct command {
  std::string name;
  std::string arguments;  // e.g. "MEMBER N"
  std::string summary;    // one line, for the overall usage
  std::string details;    // for 'nominee CMD --help'
  std::function<void(po::options_description&)> add_options;
  // Checks the arguments (throws usage_error) and returns what to run.
  std::function<action(const po::variables_map&, const std::vector<std::string>& args)> prepare;
  // Runs until SIGINT/SIGTERM: main blocks them before any thread starts,
  // and the command waits for them.
  bool waits_for_signals = false;
};

const std::vector<command>& commands();

}  // namespace nominee::cli
