#include "worker_options.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <boost/program_options.hpp>

namespace nominee::worker {

namespace po = boost::program_options;

namespace {

std::string default_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "worker");
  return std::string(host) + "-" + std::to_string(::getpid());
}

// "address:port", port 0 = any free port, "off" = none.
void parse_status(const std::string& text, worker_options& o) {
  if (text == "off") {
    o.status_port = -1;
    return;
  }
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("--status '" + text + "' must be ADDRESS:PORT (port 0: any free port) or 'off'");
  o.status_address = text.substr(0, colon);
  auto port = text.substr(colon + 1);
  char* end = nullptr;
  long v = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || v < 0 || v > 65535)
    throw std::invalid_argument("--status '" + text + "': the port must be 0..65535");
  o.status_port = static_cast<int>(v);
}

// Environment variables map to the long flag names.
std::string env_to_flag(const std::string& variable) {
  static const std::pair<const char*, const char*> known[] = {
      {"NOMINEE_HOSTS", "hosts"},
      {"NOMINEE_ROOT", "root"},
      {"NOMINEE_PREFIX", "prefix"},
      {"NOMINEE_NAME", "name"},
      {"NOMINEE_AFFINITY", "affinity"},
      {"NOMINEE_SESSION_TIMEOUT_MS", "session-timeout-ms"},
      {"NOMINEE_STATUS", "status"},
      {"NOMINEE_DIGEST", "digest"},
      {"NOMINEE_TICK_MS", "tick-ms"},
  };
  for (auto& [env, flag] : known)
    if (variable == env) return flag;
  return {};
}

}  // namespace

worker_options parse_worker_options(int argc, char** argv) {
  worker_options o;
  std::int64_t session_timeout_ms = o.session_timeout.count();
  std::int64_t tick_ms = o.tick.count();
  std::int64_t draw_interval_ms = o.draw_interval.count();
  std::string status = "127.0.0.1:0";
  po::options_description flags("nominee-worker: one member of the sample worker fleet\n\noptions");
  flags.add_options()
      ("help,h", "print this help")
      ("hosts", po::value(&o.hosts)->default_value(o.hosts), "ZooKeeper connect string (NOMINEE_HOSTS)")
      ("root", po::value(&o.root)->default_value(o.root), "nominee's root znode (NOMINEE_ROOT)")
      ("prefix", po::value(&o.prefix)->default_value(o.prefix), "the divider prefix whose keys we work on (NOMINEE_PREFIX)")
      ("name", po::value(&o.name), "member name, unique in the fleet; default <hostname>-<pid> (NOMINEE_NAME)")
      ("affinity", po::value(&o.affinity)->default_value(o.affinity), "share of the work, >= 0 (NOMINEE_AFFINITY)")
      ("session-timeout-ms", po::value(&session_timeout_ms)->default_value(session_timeout_ms),
       "ZooKeeper session timeout (NOMINEE_SESSION_TIMEOUT_MS)")
      ("status", po::value(&status)->default_value(status),
       "status endpoint ADDRESS:PORT, port 0 = any free port, or 'off' (NOMINEE_STATUS)")
      ("digest", po::value(&o.digest), "digest credentials user:password (NOMINEE_DIGEST)")
      ("tick-ms", po::value(&tick_ms)->default_value(tick_ms), "how often each key's record is written (NOMINEE_TICK_MS)")
      ("history", po::value(&o.history), "append every start/stop/write to this file (tests)")
      ("quiet", po::bool_switch(&o.quiet), "do not print the key list every second")
      ("range-space", po::value(&o.range_space), "draw values from this range space and stand for its coordinator")
      ("draw-interval-ms", po::value(&draw_interval_ms)->default_value(draw_interval_ms),
       "how often a value is drawn from --range-space")
      ("session-file", po::value(&o.session_file), "publish the session id and password here (tests)")
      ("die-with-parent", po::bool_switch(&o.die_with_parent), "exit (SIGKILL) when the parent process dies (tests)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::store(po::parse_environment(flags, env_to_flag), vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << flags;
      throw help_requested(text.str());
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }
  if (o.name.empty()) o.name = default_name();
  if (o.name.find_first_of(" \t\r\n/") != std::string::npos)
    throw std::invalid_argument("--name '" + o.name + "' must not contain white space or '/'");
  if (o.affinity < 0) throw std::invalid_argument("--affinity " + std::to_string(o.affinity) + " must be >= 0");
  if (session_timeout_ms < 1000 || session_timeout_ms > 600000)
    throw std::invalid_argument("--session-timeout-ms " + std::to_string(session_timeout_ms) + " must be 1000..600000");
  if (tick_ms < 10 || tick_ms > 3600000)
    throw std::invalid_argument("--tick-ms " + std::to_string(tick_ms) + " must be 10..3600000");
  if (!o.digest.empty() && o.digest.find(':') == std::string::npos)
    throw std::invalid_argument("--digest must be user:password");
  o.session_timeout = std::chrono::milliseconds(session_timeout_ms);
  if (draw_interval_ms < 1 || draw_interval_ms > 3600000)
    throw std::invalid_argument("--draw-interval-ms " + std::to_string(draw_interval_ms) + " must be 1..3600000");
  if (!o.range_space.empty() && o.range_space.find_first_of(" \t\r\n/") != std::string::npos)
    throw std::invalid_argument("--range-space '" + o.range_space + "' must not contain white space or '/'");
  o.tick = std::chrono::milliseconds(tick_ms);
  o.draw_interval = std::chrono::milliseconds(draw_interval_ms);
  parse_status(status, o);
  return o;
}

}  // namespace nominee::worker
