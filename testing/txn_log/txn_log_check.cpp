#include "txn_log_check.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace nominee::testing {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string errno_text(int error) { return std::system_category().message(error); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// "key=value" from a violation line; the path is last and may hold spaces.
std::string field(const std::string& line, const std::string& key, bool rest_of_line = false) {
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return {};
  auto begin = at + key.size() + 2;
  auto end = rest_of_line ? std::string::npos : line.find(' ', begin);
  return line.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The summary is one flat JSON object the checker writes itself: numbers
// and a few strings, no nesting, no escapes in the names.
void parse_counts(const std::string& json, std::map<std::string, std::int64_t>& counts) {
  std::size_t at = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    auto open = json.find('"', at);
    if (open == std::string::npos) return;
    auto close = json.find('"', open + 1);
    if (close == std::string::npos) return;
    auto name = json.substr(open + 1, close - open - 1);
    auto colon = json.find_first_not_of(" ", close + 1);
    if (colon == std::string::npos || json[colon] != ':') {
      at = close + 1;  // a string value, not a name
      continue;
    }
    auto value = json.find_first_not_of(" ", colon + 1);
    if (value == std::string::npos) return;
    if (json[value] == '"') {
      at = json.find('"', value + 1);  // skip the string value
      if (at == std::string::npos) return;
      ++at;
      continue;
    }
    std::size_t used = 0;
    try {
      counts[name] = std::stoll(json.substr(value), &used);
    } catch (const std::exception&) {
      used = 1;
    }
    at = value + used;
  }
}

}  // namespace

std::string default_txn_log_checker() { return NOMINEE_TXNLOG_CHECK_PATH; }

std::int64_t txn_log_check_result::count(const std::string& name) const {
  auto it = counts.find(name);
  return it == counts.end() ? 0 : it->second;
}

std::string txn_log_check_result::describe() const {
  std::ostringstream out;
  out << "nominee-txnlog-check " << (timed_out ? "timed out" : "exited with " + std::to_string(exit_code)) << "\n";
  if (!summary.empty()) out << summary << "\n";
  for (const auto& v : violations) out << v.line << "\n";
  if (!errors.empty()) out << "stderr:\n" << errors;
  return out.str();
}

void parse_txn_log_check_output(const std::string& output, txn_log_check_result& result) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("violation ", 0) == 0) {
      txn_log_violation v;
      v.zxid = field(line, "zxid");
      v.kind = field(line, "kind");
      v.session = field(line, "session");
      v.owner = field(line, "owner");
      v.path = field(line, "path", true);
      v.line = line;
      result.violations.push_back(std::move(v));
    } else if (line.rfind("note ", 0) == 0) {
      result.notes.push_back(line.substr(5));
    } else if (line.rfind("{", 0) == 0) {
      result.summary = line;
      parse_counts(line, result.counts);
    }
  }
}

txn_log_check_result run_txn_log_check(const txn_log_check_options& options) {
  if (options.data_dirs.empty()) throw std::invalid_argument("run_txn_log_check: no data directory");
  std::vector<std::string> args = {options.checker};
  args.insert(args.end(), options.flags.begin(), options.flags.end());
  for (const auto& dir : options.data_dirs) args.push_back(dir.string());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2() failed: " + errno_text(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("pipe2() failed: " + errno_text(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw std::runtime_error("fork() failed: " + errno_text(error));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. The checker dies
    // with us: a test that crashes leaves no JVM behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(127);
    ::execve(argv[0], argv.data(), environ);
    static const char message[] = "nominee-txnlog-check: cannot execute the checker\n";
    [[maybe_unused]] auto written = ::write(2, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  int fds[2] = {out[0], err[0]};
  std::string text[2];

  txn_log_check_result result;
  const auto deadline = steady::now() + options.timeout;
  // Read both pipes to their ends (the checker's exit closes them), so a
  // chatty checker never blocks on a full pipe.
  for (int round = 0; (fds[0] >= 0 || fds[1] >= 0) && round < 10'000'000; ++round) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd wanted[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    int ready = ::poll(wanted, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(wanted[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      ssize_t got = ::read(fds[i], buffer, sizeof buffer);
      if (got > 0)
        text[i].append(buffer, static_cast<std::size_t>(got));
      else if (got == 0 || errno != EINTR)
        close_fd(fds[i]);
    }
  }
  close_fd(fds[0]);
  close_fd(fds[1]);
  if (result.timed_out) ::kill(pid, SIGKILL);

  // Its pipes are closed, so it has exited or is about to; after SIGKILL
  // only a process stuck in the kernel takes long.
  int status = 0;
  const auto reap_deadline = steady::now() + (result.timed_out ? 10s : std::chrono::seconds(30));
  bool reaped = false;
  for (int round = 0; round < 1'000'000 && !reaped; ++round) {
    pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid || (got < 0 && errno != EINTR)) {
      reaped = got == pid;
      break;
    }
    if (steady::now() > reap_deadline) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      if (::waitpid(pid, &status, 0) == pid) reaped = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (reaped && WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  result.output = std::move(text[0]);
  result.errors = std::move(text[1]);
  parse_txn_log_check_output(result.output, result);
  return result;
}

}  // namespace nominee::testing
