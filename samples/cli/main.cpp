// nominee: the admin command line for one divider prefix (and the roles
// under its root), over nominee::divider_admin and divider_watch.
//
//   nominee [OPTIONS] COMMAND [ARGS...]     nominee --help, nominee COMMAND --help
//
// Exit status: 0 ok, 1 the operation failed (the message names what), 2 the
// command line was wrong (the message, then the usage).
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>

#include <nominee/log.hpp>

#include "commands.hpp"
#include "text.hpp"

namespace {

using namespace nominee;
using namespace nominee::cli;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

// Global options that take a value: they may come before the command, so
// finding the command means skipping their values.
const char* const valued_globals[] = {"--hosts", "--root", "--prefix", "--timeout"};

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

po::options_description global_options(globals& g) {
  po::options_description o("Options (before or after the command)");
  o.add_options()("hosts", po::value<std::string>(&g.hosts)->default_value(env_or("NOMINEE_HOSTS", "127.0.0.1:2181")),
                  "ZooKeeper, host:port[,host:port...][/chroot]; env NOMINEE_HOSTS")(
      "root", po::value<std::string>(&g.root)->default_value(env_or("NOMINEE_ROOT", "/nominee")),
      "nominee's root node; env NOMINEE_ROOT")(
      "prefix", po::value<std::string>(&g.prefix)->default_value(env_or("NOMINEE_PREFIX", "demo")),
      "the divider prefix; env NOMINEE_PREFIX")(
      "timeout", po::value<std::int64_t>()->default_value(10000),
      "deadline of the connect and of each ZooKeeper request, ms")(
      "json", po::bool_switch(&g.json), "machine-readable output (JSON; one object per line for watch)")(
      "verbose,v", po::bool_switch(&g.verbose), "the library's warnings on stderr")(
      "help,h", po::bool_switch(), "this help; 'nominee COMMAND --help' for a command's");
  return o;
}

void print_usage(std::ostream& out, const po::options_description& globals_description) {
  out << "usage: nominee [OPTIONS] COMMAND [ARGS...]\n\n"
         "Administers one divider prefix (ROOT/work/PREFIX in ZooKeeper) without joining it,\n"
         "and shows the roles under ROOT/roles.\n\nCommands:\n";
  table t({"", "", ""});
  for (auto& c : commands()) t.add({" ", c.name + (c.arguments.empty() ? "" : " " + c.arguments), c.summary});
  std::ostringstream rows;
  t.print(rows);
  // Without the empty header line.
  out << rows.str().substr(rows.str().find('\n') + 1) << '\n' << globals_description << '\n'
      << "Exit status: 0 ok, 1 the operation failed, 2 usage error.\n";
}

void print_command_usage(std::ostream& out, const command& c, const po::options_description& own,
                         const po::options_description& globals_description) {
  out << "usage: nominee [OPTIONS] " << c.name << (c.arguments.empty() ? "" : " " + c.arguments) << "\n\n"
      << c.details << "\n\n";
  if (!own.options().empty()) out << own << '\n';
  out << globals_description;
}

const command* find_command(const std::string& name) {
  for (auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

// argv without the command name, and the command's position (if any).
std::optional<std::size_t> command_position(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--") return i + 1 < args.size() ? std::optional(i + 1) : std::nullopt;
    if (a.size() > 1 && a[0] == '-') {
      for (auto* v : valued_globals)
        if (a == v) ++i;  // its value follows
      continue;
    }
    return i;
  }
  return std::nullopt;
}

bool is_connection_trouble(const std::error_code& ec) {
  return is_retriable(ec) || ec == errc::deadline_exceeded || is_connection_loss(ec) || is_session_expired(ec);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  globals g;
  auto globals_description = global_options(g);

  auto position = command_position(args);
  const command* cmd = nullptr;
  std::string name;
  if (position) {
    name = args[*position];
    cmd = find_command(name);
    auto at = args.begin() + static_cast<std::ptrdiff_t>(*position);
    if (at != args.begin() && *(at - 1) == "--") --at;  // "nominee -- COMMAND": both go
    args.erase(at, args.begin() + static_cast<std::ptrdiff_t>(*position) + 1);
  }

  po::options_description own(cmd ? "Options of " + cmd->name : std::string("Options"));
  if (cmd) cmd->add_options(own);
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>()->default_value({}, ""), "");
  po::options_description all;
  all.add(globals_description).add(own).add(hidden);
  po::positional_options_description positional;
  positional.add("args", -1);

  std::string who = cmd ? "nominee " + cmd->name : "nominee";
  auto usage_failure = [&](const std::string& message) {
    std::cerr << who << ": " << message << "\n\n";
    if (cmd)
      print_command_usage(std::cerr, *cmd, own, globals_description);
    else
      print_usage(std::cerr, globals_description);
    return exit_usage;
  };

  po::variables_map vm;
  try {
    namespace style = po::command_line_style;
    po::store(po::command_line_parser(args)
                  .options(all)
                  .positional(positional)
                  .style(style::default_style & ~style::allow_guessing)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    if (std::regex_match(e.get_option_name(), std::regex("-[0-9]+")))
      return usage_failure("'" + e.get_option_name() + "': negative numbers are not accepted");
    return usage_failure(e.what());
  } catch (const po::error& e) {
    return usage_failure(e.what());
  }

  if (vm["help"].as<bool>()) {
    if (cmd)
      print_command_usage(std::cout, *cmd, own, globals_description);
    else
      print_usage(std::cout, globals_description);
    return exit_ok;
  }
  if (!position) return usage_failure("no command given");
  if (!cmd) return usage_failure("unknown command '" + name + "'");

  auto timeout = vm["timeout"].as<std::int64_t>();
  if (timeout <= 0) return usage_failure("--timeout must be more than 0 ms, not " + std::to_string(timeout));
  g.timeout = std::chrono::milliseconds(timeout);
  set_log_level(g.verbose ? log_level::warn : log_level::off);

  action run;
  try {
    run = cmd->prepare(vm, vm["args"].as<std::vector<std::string>>());
  } catch (const usage_error& e) {
    return usage_failure(e.what());
  }

  if (cmd->waits_for_signals) {
    // Before any thread starts, so that every thread inherits the mask and
    // the command alone receives them (sigwait).
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  }

  std::unique_ptr<session> zk;
  std::unique_ptr<divider_admin> admin;
  try {
    session_options options;
    options.hosts = g.hosts;
    options.operation_timeout = g.timeout;
    zk = std::make_unique<session>(options);
    admin = std::make_unique<divider_admin>(*zk, g.root, g.prefix);
  } catch (const error& e) {
    return usage_failure(e.what());  // a malformed --hosts, --root or --prefix
  }

  int status = exit_ok;
  try {
    zk->wait_connected(g.timeout);
    environment env{g, *zk, *admin, std::cout, std::cerr};
    status = run(env);
    std::cout.flush();
  } catch (const error& e) {
    std::cerr << who << ": " << e.what();
    if (is_connection_trouble(e.code()) && std::string(e.what()).find(g.hosts) == std::string::npos)
      std::cerr << " (ZooKeeper at '" << g.hosts << "')";
    std::cerr << '\n';
    status = is_invalid_argument(e.code()) ? exit_usage : exit_failed;
  } catch (const usage_error& e) {
    status = usage_failure(e.what());
  } catch (const std::exception& e) {
    std::cerr << who << ": " << e.what() << '\n';
    status = exit_failed;
  }
  admin.reset();
  zk.reset();
  return status;
}
