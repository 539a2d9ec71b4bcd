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
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad argument '" + flag + "'");
    values[flag.substr(2)] = argv[++i];
  }
  arguments a;
  auto take = [&](const char* name, bool required) {
    auto it = values.find(name);
    if (it == values.end()) {
      if (required) throw std::invalid_argument(std::string("--") + name + " is required");
      return std::string();
    }
    auto v = it->second;
    values.erase(it);
    return v;
  };
  auto number = [&](const char* name, bool required, long long min) -> long long {
    auto text = take(name, required);
    if (text.empty()) return 0;
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || v < min)
      throw std::invalid_argument(std::string("--") + name + " '" + text + "' must be an integer >= " +
                                  std::to_string(min));
    return v;
  };
  a.hosts = take("hosts", true);
  a.root = take("root", true);
  a.role = take("role", true);
  a.member = take("member", true);
  a.history = take("history", true);
  a.session_file = take("session-file", true);
  a.session_timeout_ms = static_cast<int>(number("session-timeout-ms", true, 1));
  a.resign_every_ms = static_cast<int>(number("resign-every-ms", false, 1));
  a.seed = static_cast<std::uint64_t>(number("seed", false, 0));
  a.act_every_ms = static_cast<int>(number("act-every-ms", false, 1));
  a.duration_ms = static_cast<int>(number("duration-ms", false, 1));
  if (!values.empty()) throw std::invalid_argument("unknown option --" + values.begin()->first);
  if (a.member.find_first_of(" \t\n") != std::string::npos)
    throw std::invalid_argument("--member must not contain white space");
  return a;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Appends whole lines with one write(2) each: a kill -9 leaves no torn line,
// and lines of a process that was killed are on disk already.
class history_file {
 public:
  history_file(const std::string& path, std::string member) : member_(std::move(member)) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open history file " + path + ": " + std::strerror(errno));
  }
  ~history_file() { ::close(fd_); }
  history_file(const history_file&) = delete;
  history_file& operator=(const history_file&) = delete;

  void write(const std::string& words) { write_at(steady_ns(), words); }
  void write_at(std::int64_t at_ns, const std::string& words) {
    auto line = std::to_string(at_ns) + " " + member_ + " " + words + "\n";
    std::lock_guard lock(mutex_);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      auto n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::cerr << "nominee-contender: history write failed: " << std::strerror(errno) << "\n";
        return;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

 private:
  std::string member_;
  int fd_ = -1;
  std::mutex mutex_;
};

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

void write_session_file(const std::string& path, std::int64_t id, const std::string& password) {
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << "nominee-contender: cannot write " << tmp << ": " << std::strerror(errno) << "\n";
    return;
  }
  auto text = hex(static_cast<std::uint64_t>(id)) + " " + hex(password) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    std::cerr << "nominee-contender: cannot publish " << path << ": " << std::strerror(errno) << "\n";
}

// Sleeps until `until` or until stop is set; returns false when stopping.
class stop_signal {
 public:
  void set() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
  }
  bool sleep_until(std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_until(lock, until, [&] { return stopping_; });
  }
  bool sleep_for(std::chrono::milliseconds d) { return sleep_until(std::chrono::steady_clock::now() + d); }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
};

int run(const arguments& args) {
  history_file history(args.history, args.member);
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
      write_session_file(args.session_file, e.session_id, raw->session_password());
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
    auto at = steady_ns();
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
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCONT);
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
  // A test or benchmark that dies (a timeout, a crash) takes its contenders
  // along instead of leaving them standing. (The parent may be gone already.)
  auto parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 1;

  // Before any thread exists, so that every thread inherits the mask and
  // only sigtimedwait in run() sees these signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCONT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  arguments args;
  try {
    args = parse_arguments(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "nominee-contender: " << e.what() << "\n" << usage;
    return 2;
  }
  try {
    nominee::set_log_level(nominee::log_level::warn);
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "nominee-contender: " << e.what() << "\n";
    return 1;
  }
}
