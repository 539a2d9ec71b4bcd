#include "zookeeper_launcher.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A JVM flushes and exits on SIGTERM in well under a second; the bound is
// for a server wedged in I/O.
constexpr auto stop_grace = 10s;
// After SIGKILL only a process stuck in the kernel (D state) takes long.
constexpr auto reap_timeout = 10s;
constexpr auto signal_ack_timeout = 5s;
constexpr auto poll_interval = 20ms;
// One "srvr" probe: loopback answers in a millisecond, but three JVMs
// starting on two cores (or a sanitizer build) can stall a few hundred.
// While waiting for startup, probes begin shorter and back off to this.
constexpr auto probe_timeout = 1000ms;
constexpr auto first_probe_timeout = 200ms;
// Attempts with fresh ports when a server could not bind its ports.
constexpr int port_attempts = 3;
constexpr std::string_view bind_failure = "Address already in use";
constexpr std::string_view not_serving_answer = "This ZooKeeper instance is not currently serving requests\n";

std::string install_hint(std::string_view package) {
  return "install it with `sudo apt-get install " + std::string(package) + "` (or run scripts/install-deps.sh)";
}

class unique_fd {
 public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string errno_text(int error) { return std::system_category().message(error); }

// Waits for events on fd until deadline; true when poll reports anything
// (errors included, so the next read or write sees them).
bool wait_for(int fd, short events, steady::time_point deadline) {
  for (int round = 0; round < 1000; ++round) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Ports from outside the kernel's ephemeral range: an outgoing connection
// (a client, a peer, our own "srvr" probe) can then never be holding a
// server's port when the server binds it, which matters most on restart,
// where the ports cannot change. Collisions with other test processes are
// left to the bind check here and the retry in the constructor.
std::vector<int> choose_free_ports(int count) {
  int ephemeral_low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeral_low;
  const int low = 10000;
  const int high = std::min(ephemeral_low, 65536);  // exclusive

  static std::mutex random_mutex;
  static std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(::getpid()));

  std::vector<unique_fd> held;  // keeps the chosen ports distinct
  std::vector<int> ports;
  for (int attempt = 0; attempt < 2000 && static_cast<int>(ports.size()) < count; ++attempt) {
    int port = 0;  // 0: let the kernel pick (no room below the ephemeral range)
    if (high - low >= 1000 && attempt < 1000) {
      std::lock_guard lock(random_mutex);
      port = std::uniform_int_distribution<int>(low, high - 1)(random);
    }
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw std::runtime_error("socket() failed: " + errno_text(errno));
    auto address = loopback(port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) continue;
    socklen_t length = sizeof address;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    ports.push_back(ntohs(address.sin_port));
    held.push_back(std::move(fd));
  }
  if (static_cast<int>(ports.size()) < count) throw std::runtime_error("could not find free ports on 127.0.0.1");
  return ports;
}

std::string read_file_from(const std::filesystem::path& path, std::uintmax_t offset, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::uintmax_t>(std::max<std::streamoff>(in.tellg(), 0));
  if (offset > size) offset = 0;  // the file was replaced
  if (size - offset > limit) offset = size - limit;
  in.seekg(static_cast<std::streamoff>(offset));
  std::string text(static_cast<std::size_t>(size - offset), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return text;
}

std::uintmax_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

bool executable_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// Paths handed to the server are absolute: it runs in its own directory.
std::string find_java(const std::string& configured) {
  const std::string hint = install_hint("default-jre-headless");
  if (!configured.empty()) {
    if (executable_file(configured)) return std::filesystem::absolute(configured).string();
    throw std::runtime_error("Java runtime not found at " + configured + ": " + hint);
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    for (int entry = 0; entry < 1000 && !rest.empty(); ++entry) {
      auto colon = rest.find(':');
      auto dir = rest.substr(0, colon);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (dir.empty()) continue;  // "" means the working directory: never trust it for this
      auto candidate = std::filesystem::path(dir) / "java";
      if (executable_file(candidate)) return std::filesystem::absolute(candidate).string();
    }
  }
  if (executable_file("/usr/bin/java")) return "/usr/bin/java";
  throw std::runtime_error("Java runtime (java) not found on PATH or at /usr/bin/java: " + hint);
}

std::string find_class_path(const std::filesystem::path& configured_dir) {
  const auto jar_dir = std::filesystem::absolute(configured_dir);
  auto require = [&](const char* jar, std::string_view why) {
    auto path = jar_dir / jar;
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
      throw std::runtime_error(std::string(why) + " not found at " + path.string() + ": " +
                               install_hint("zookeeper"));
    return path.string();
  };
  // zookeeper.jar's manifest names its other dependencies by absolute
  // /usr/share/java paths; jute and slf4j-api are listed too so that a
  // jar_dir holding copies works. slf4j-simple is not in the manifest and
  // without it the server logs nothing, which would leave our error
  // messages without the server's reason.
  std::string class_path = require("zookeeper.jar", "ZooKeeper server jar");
  for (const char* optional : {"zookeeper-jute.jar", "slf4j-api.jar"}) {
    std::error_code error;
    if (std::filesystem::is_regular_file(jar_dir / optional, error)) class_path += ":" + (jar_dir / optional).string();
  }
  class_path += ":" + require("slf4j-simple.jar", "SLF4J logging binding (part of libslf4j-java)");
  return class_path;
}

std::filesystem::path make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/nominee-zk-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cannot create a temp dir like " + pattern + ": " + errno_text(errno));
  return std::filesystem::absolute(pattern);
}

bool keep_data() {
  const char* keep = std::getenv("NOMINEE_KEEP_ZK_DATA");
  return keep != nullptr && std::string_view(keep) == "1";
}

std::string last_lines(const std::string& text, int lines) {
  std::size_t begin = text.size();
  // A trailing newline ends the last line; it does not start a new one.
  if (begin > 0 && text[begin - 1] == '\n') --begin;
  for (int found = 0; begin > 0; --begin) {
    if (text[begin - 1] == '\n' && ++found == lines) break;
  }
  return text.substr(begin);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + ::strsignal(WTERMSIG(status));
  return "ended";
}

std::string parse_mode(const std::string& srvr) {
  auto at = srvr.find("Mode: ");
  if (at == std::string::npos) return {};
  auto begin = at + 6;
  auto end = srvr.find_first_of("\r\n", begin);
  auto mode = srvr.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  if (mode == "standalone" || mode == "leader" || mode == "follower") return mode;
  return {};  // e.g. "observer" or "read-only": not what our tests call serving
}

// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the
// process. Forking from one thread that lives as long as the process keeps
// a server started from a short-lived thread (a test's worker, a benchmark
// setup thread) from being killed the moment that thread returns.
class spawner {
 public:
  static spawner& instance() {
    // Never destroyed: clusters may be torn down by static destructors.
    static spawner* const the_spawner = new spawner();
    return *the_spawner;
  }

  pid_t run(std::function<pid_t()> task) {
    std::packaged_task<pid_t()> work(std::move(task));
    auto result = work.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(work));
    }
    wake_.notify_one();
    return result.get();
  }

 private:
  spawner() { std::thread([this] { serve(); }).detach(); }

  // Runs for the life of the process, by design (see above).
  void serve() {
    // Process-directed signals (the CLI's SIGTERM, a test's SIGCHLD) must
    // go to threads that expect them, never to this hidden one.
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    for (;;) {
      std::packaged_task<pid_t()> work;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<pid_t()>> queue_;
};

// fork + exec with stdout and stderr appended to log; throws if exec fails.
// Between fork and exec the child may only make async-signal-safe calls,
// so everything it needs is prepared here.
pid_t fork_exec(const std::vector<std::string>& command, const std::filesystem::path& working_dir,
                const std::filesystem::path& log) {
  std::vector<char*> argv;
  for (const auto& argument : command) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  const std::string dir = working_dir.string();

  unique_fd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd) throw std::runtime_error("cannot open " + log.string() + ": " + errno_text(errno));
  unique_fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd) throw std::runtime_error(std::string("cannot open /dev/null: ") + errno_text(errno));
  int exec_error_pipe[2];
  if (::pipe2(exec_error_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2() failed: " + errno_text(errno));
  unique_fd error_read(exec_error_pipe[0]);
  unique_fd error_write(exec_error_pipe[1]);
  const pid_t parent = ::getpid();

  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork() failed: " + errno_text(errno));
  if (child == 0) {
    // Its own process group: a Ctrl-C meant for the test runner is not
    // also delivered to the servers; we stop them ourselves.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    // The forking thread blocks every signal and exec keeps the mask and
    // ignored dispositions: without this, SIGTERM would not stop the JVM.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
      if (signal_number != SIGKILL && signal_number != SIGSTOP) ::sigaction(signal_number, &default_action, nullptr);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::dup2(null_fd.get(), 0) < 0 || ::dup2(log_fd.get(), 1) < 0 || ::dup2(log_fd.get(), 2) < 0 ||
        ::chdir(dir.c_str()) != 0) {
      int error = errno;
      [[maybe_unused]] auto written = ::write(error_write.get(), &error, sizeof error);
      ::_exit(127);
    }
    // Descriptors the test process opened without O_CLOEXEC (its client
    // sockets, say) must not live on in the server.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(argv[0], argv.data(), environ);
    int error = errno;
    [[maybe_unused]] auto written = ::write(error_write.get(), &error, sizeof error);
    ::_exit(127);
  }

  error_write.reset();
  int error = 0;
  ssize_t got = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    got = ::read(error_read.get(), &error, sizeof error);
    if (got >= 0 || errno != EINTR) break;
  }
  if (got == static_cast<ssize_t>(sizeof error)) {
    int status = 0;
    ::waitpid(child, &status, 0);
    throw std::runtime_error("cannot run " + command.front() + ": " + errno_text(error));
  }
  return child;  // EOF: exec succeeded and closed the pipe
}

}  // namespace

std::optional<std::string> ask_four_letter_word(const std::string& host, int port, std::string_view word,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::nullopt;
  auto address = loopback(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return std::nullopt;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    if (!wait_for(fd.get(), POLLOUT, deadline)) return std::nullopt;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) return std::nullopt;
  }

  std::size_t sent = 0;
  for (int round = 0; round < 100 && sent < word.size(); ++round) {
    ssize_t n = ::send(fd.get(), word.data() + sent, word.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return std::nullopt;
    } else if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return std::nullopt;
    }
  }
  if (sent < word.size()) return std::nullopt;

  // The server writes its answer and closes: read to EOF. A paused server
  // answers nothing, hence the deadline.
  std::string answer;
  char buffer[4096];
  constexpr std::size_t answer_limit = 1 << 20;
  for (int round = 0; round < 10000 && answer.size() < answer_limit; ++round) {
    if (!wait_for(fd.get(), POLLIN, deadline)) return std::nullopt;
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n == 0) return answer;
    if (n > 0) {
      answer.append(buffer, static_cast<std::size_t>(n));
      // ZooKeeper 3.8.0 sends this line while it starts up, then hits a
      // NullPointerException closing the socket (zkDb is still null), so
      // EOF never comes. The line is the whole answer: stop here rather
      // than wait out the deadline.
      if (answer == not_serving_answer) return answer;
    } else if (errno != EAGAIN && errno != EINTR) {
      return std::nullopt;
    }
  }
  return answer;
}

zookeeper_cluster::zookeeper_cluster(zookeeper_options options) : options_(std::move(options)) {
  if (options_.servers < 1 || options_.servers % 2 == 0 || options_.servers > 99)
    throw std::invalid_argument("zookeeper_options::servers must be odd, between 1 and 99, not " +
                                std::to_string(options_.servers));
  if (options_.tick_ms <= 0) throw std::invalid_argument("zookeeper_options::tick_ms must be positive");
  // Missing software is reported before anything is created on disk.
  java_ = find_java(options_.java);
  class_path_ = find_class_path(options_.jar_dir);
  directory_ = make_temp_dir();

  try {
    servers_.resize(static_cast<std::size_t>(options_.servers));
    for (int i = 0; i < size(); ++i)
      servers_[static_cast<std::size_t>(i)].dir = directory_ / ("server-" + std::to_string(i + 1));

    std::string failure;
    for (int attempt = 1; attempt <= port_attempts; ++attempt) {
      choose_ports();
      for (int i = 0; i < size(); ++i) {
        std::filesystem::remove_all(data_directory(i));  // a previous attempt's half-started state
        std::filesystem::create_directories(data_directory(i));
        write_config(i);
      }
      const auto deadline = steady::now() + options_.start_timeout;
      {
        std::lock_guard lock(mutex_);
        for (int i = 0; i < size(); ++i) spawn(i);
      }
      std::vector<int> all(static_cast<std::size_t>(size()));
      for (int i = 0; i < size(); ++i) all[static_cast<std::size_t>(i)] = i;
      failure = wait_until_serving(all, size() > 1, deadline);
      if (failure.empty()) return;

      bool port_taken = false;
      {
        std::lock_guard lock(mutex_);
        for (auto& process : servers_) {
          port_taken = port_taken || read_file_from(process.dir / "zookeeper.log", process.log_offset, 1 << 20)
                                             .find(bind_failure) != std::string::npos;
          kill_and_reap(process);
        }
      }
      if (!port_taken) break;
      failure += "\n(attempt " + std::to_string(attempt) + " of " + std::to_string(port_attempts) +
                 ": a port was taken)";
    }
    throw std::runtime_error(failure);
  } catch (...) {
    shut_down();
    throw;
  }
}

zookeeper_cluster::~zookeeper_cluster() { shut_down(); }

void zookeeper_cluster::shut_down() noexcept {
  try {
    {
      std::lock_guard lock(mutex_);
      for (auto& process : servers_) kill_and_reap(process);
    }
    if (directory_.empty()) return;
    if (keep_data()) {
      std::fprintf(stderr, "nominee: kept ZooKeeper data in %s (NOMINEE_KEEP_ZK_DATA=1)\n", directory_.c_str());
      return;
    }
    std::error_code error;
    std::filesystem::remove_all(directory_, error);
    if (error) std::fprintf(stderr, "nominee: cannot remove %s: %s\n", directory_.c_str(), error.message().c_str());
  } catch (...) {
    // A destructor must not throw; at worst a temp dir is left behind.
  }
}

void zookeeper_cluster::check_index(int server) const {
  if (server < 0 || server >= size())
    throw std::out_of_range("ZooKeeper server index " + std::to_string(server) + " is not in [0, " +
                            std::to_string(size()) + ")");
}

void zookeeper_cluster::choose_ports() {
  const bool ensemble = size() > 1;
  auto ports = choose_free_ports(ensemble ? 3 * size() : size());
  for (int i = 0; i < size(); ++i) {
    auto& process = servers_[static_cast<std::size_t>(i)];
    if (ensemble) {
      process.client_port = ports[static_cast<std::size_t>(3 * i)];
      process.peer_port = ports[static_cast<std::size_t>(3 * i + 1)];
      process.election_port = ports[static_cast<std::size_t>(3 * i + 2)];
    } else {
      process.client_port = ports[static_cast<std::size_t>(i)];
    }
  }
}

void zookeeper_cluster::write_config(int server) const {
  const auto& process = servers_[static_cast<std::size_t>(server)];
  std::ostringstream config;
  config << "# written by nominee's zookeeper_launcher\n"
         << "tickTime=" << options_.tick_ms << "\n"
         << "minSessionTimeout=" << options_.min_session_timeout_ms << "\n"
         << "maxSessionTimeout=" << options_.max_session_timeout_ms << "\n"
         << "dataDir=" << data_directory(server).string() << "\n"
         << "clientPort=" << process.client_port << "\n"
         << "clientPortAddress=127.0.0.1\n"
         << "4lw.commands.whitelist=*\n"
         << "admin.enableServer=false\n"
         << "extendedTypesEnabled=true\n"
         << "forceSync=" << (options_.fsync ? "yes" : "no") << "\n";
  if (size() > 1) {
    config << "initLimit=" << options_.init_limit_ticks << "\n"
           << "syncLimit=" << options_.sync_limit_ticks << "\n";
    for (int i = 0; i < size(); ++i) {
      const auto& peer = servers_[static_cast<std::size_t>(i)];
      config << "server." << i + 1 << "=127.0.0.1:" << peer.peer_port << ":" << peer.election_port << "\n";
    }
    write_text_file(data_directory(server) / "myid", std::to_string(server + 1) + "\n");
  }
  write_text_file(process.dir / "zoo.cfg", config.str());
}

std::vector<std::string> zookeeper_cluster::command_line(int server) const {
  // Measured on 2 cores against G1 with full tiered JIT: serial GC and
  // C1-only JIT cut time-to-serving (median) from 344 to 314 ms standalone
  // and from 1458 to 1216 ms for three servers, and C2 compiling no longer
  // competes with the client for the cores early in a benchmark; steady
  // create/delete latency and pipelined exists throughput were the same
  // within noise. -XX:-UsePerfData stops every SIGKILLed JVM from leaving
  // /tmp/hsperfdata_<user>/<pid> behind.
  std::vector<std::string> command = {java_,
                                      "-Xmx256m",
                                      "-XX:+UseSerialGC",
                                      "-XX:TieredStopAtLevel=1",
                                      "-Xshare:auto",
                                      "-XX:-UsePerfData",
                                      "-XX:+ExitOnOutOfMemoryError",
                                      "-Djava.net.preferIPv4Stack=true",
                                      "-Dorg.slf4j.simpleLogger.showDateTime=true",
                                      "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"};
  command.insert(command.end(), options_.extra_jvm_args.begin(), options_.extra_jvm_args.end());
  command.insert(command.end(), {"-cp", class_path_, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                                 (servers_[static_cast<std::size_t>(server)].dir / "zoo.cfg").string()});
  return command;
}

// Called with mutex_ held.
void zookeeper_cluster::spawn(int server) {
  auto& process = servers_[static_cast<std::size_t>(server)];
  const auto log = log_file(server);
  process.log_offset = file_size_or_zero(log);
  auto command = command_line(server);
  const auto dir = process.dir;
  process.pid = spawner::instance().run([&] { return fork_exec(command, dir, log); });
  process.paused = false;
}

bool zookeeper_cluster::reap(server_process& process) const {
  if (process.pid < 0) return false;
  int status = 0;
  pid_t result = ::waitpid(process.pid, &status, WNOHANG);
  if (result == 0) return true;
  // ECHILD: someone else reaped it (or SIGCHLD is ignored); either way gone.
  process.last_status = result == process.pid ? status : 0;
  process.pid = -1;
  process.paused = false;
  return false;
}

void zookeeper_cluster::kill_and_reap(server_process& process) noexcept {
  if (!reap(process)) return;
  const pid_t pid = process.pid;
  ::kill(pid, SIGKILL);
  const auto deadline = steady::now() + reap_timeout;
  for (int round = 0; round < 100000; ++round) {
    if (!reap(process)) return;
    if (steady::now() > deadline) break;
    std::this_thread::sleep_for(2ms);
  }
  std::fprintf(stderr, "nominee: ZooKeeper server pid %d did not exit after SIGKILL\n", static_cast<int>(pid));
  process.pid = -1;
}

std::string zookeeper_cluster::wait_until_serving(const std::vector<int>& servers, bool want_leader,
                                                  steady::time_point deadline) {
  const auto started = steady::now();
  const auto max_rounds = options_.start_timeout / poll_interval + 100;
  auto elapsed_ms = [&] {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count());
  };
  // A connection the server accepted too early can go unanswered; the
  // next probe succeeds. Short first probes keep that from costing a
  // second, longer ones keep a loaded machine from never getting through.
  auto silent_probe_timeout = std::chrono::milliseconds(first_probe_timeout);
  for (long round = 0;; ++round) {
    for (int server : servers) {
      std::unique_lock lock(mutex_);
      auto& process = servers_[static_cast<std::size_t>(server)];
      const pid_t pid = process.pid;
      if (!reap(process)) {
        lock.unlock();
        return "ZooKeeper server " + std::to_string(server) + " (pid " + std::to_string(pid) + ", port " +
               std::to_string(process.client_port) + ") " + describe_status(process.last_status) + " after " +
               elapsed_ms() + " ms; last lines of " + log_file(server).string() + ":\n" + log_tail(server, 30);
      }
    }
    // A port another process took surfaces as a BindException in the log;
    // an ensemble member may keep running without its election port, so
    // do not wait for the deadline to notice.
    if (round % 10 == 9) {
      for (int server : servers) {
        const auto& process = servers_[static_cast<std::size_t>(server)];
        if (read_file_from(log_file(server), process.log_offset, 1 << 20).find(bind_failure) != std::string::npos)
          return "ZooKeeper server " + std::to_string(server) + " could not bind its ports after " + elapsed_ms() +
                 " ms; last lines of " + log_file(server).string() + ":\n" + log_tail(server, 30);
      }
    }

    int not_serving = -1;
    for (int server : servers) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      auto timeout = std::clamp<std::chrono::milliseconds>(left, 50ms, silent_probe_timeout);
      auto answer = ask_four_letter_word("127.0.0.1", client_port(server), "srvr", timeout);
      silent_probe_timeout = answer ? first_probe_timeout : std::min(2 * silent_probe_timeout, probe_timeout);
      if (!answer || parse_mode(*answer).empty()) {
        not_serving = server;
        break;
      }
    }
    if (not_serving < 0 && (!want_leader || leader())) return "";

    if (steady::now() >= deadline || round >= max_rounds) {
      std::string message;
      if (not_serving >= 0) {
        message = "ZooKeeper server " + std::to_string(not_serving) + " (port " +
                  std::to_string(client_port(not_serving)) + ") did not serve within " + elapsed_ms() +
                  " ms; last lines of " + log_file(not_serving).string() + ":\n" + log_tail(not_serving, 30);
      } else {
        message = "no ZooKeeper server became leader within " + elapsed_ms() + " ms";
        for (int server = 0; server < size(); ++server)
          message += "\nlast lines of " + log_file(server).string() + ":\n" + log_tail(server, 10);
      }
      return message;
    }
    std::this_thread::sleep_for(std::min<steady::duration>(poll_interval, deadline - steady::now()));
  }
}

std::string zookeeper_cluster::connect_string() const {
  std::string result;
  for (int i = 0; i < size(); ++i) result += (i ? "," : "") + address(i);
  return result;
}

std::string zookeeper_cluster::address(int server) const { return "127.0.0.1:" + std::to_string(client_port(server)); }

int zookeeper_cluster::client_port(int server) const {
  check_index(server);
  return servers_[static_cast<std::size_t>(server)].client_port;
}

int zookeeper_cluster::size() const { return static_cast<int>(servers_.size()); }

void zookeeper_cluster::stop(int server) {
  check_index(server);
  std::lock_guard lock(mutex_);
  auto& process = servers_[static_cast<std::size_t>(server)];
  if (!reap(process)) return;
  ::kill(process.pid, SIGTERM);
  if (process.paused) ::kill(process.pid, SIGCONT);  // a stopped process cannot act on SIGTERM
  const auto deadline = steady::now() + stop_grace;
  for (int round = 0; round < 100000; ++round) {
    if (!reap(process)) return;
    if (steady::now() > deadline) break;
    std::this_thread::sleep_for(5ms);
  }
  kill_and_reap(process);
}

void zookeeper_cluster::kill(int server) {
  check_index(server);
  std::lock_guard lock(mutex_);
  kill_and_reap(servers_[static_cast<std::size_t>(server)]);
}

void zookeeper_cluster::start(int server) {
  check_index(server);
  {
    std::lock_guard lock(mutex_);
    auto& process = servers_[static_cast<std::size_t>(server)];
    if (reap(process))
      throw std::runtime_error("ZooKeeper server " + std::to_string(server) + " is already running (pid " +
                               std::to_string(process.pid) + ")");
    spawn(server);
  }
  auto failure = wait_until_serving({server}, false, steady::now() + options_.start_timeout);
  if (failure.empty()) return;
  {
    std::lock_guard lock(mutex_);
    kill_and_reap(servers_[static_cast<std::size_t>(server)]);
  }
  throw std::runtime_error(failure);
}

void zookeeper_cluster::pause(int server) {
  check_index(server);
  std::lock_guard lock(mutex_);
  auto& process = servers_[static_cast<std::size_t>(server)];
  if (!reap(process))
    throw std::runtime_error("cannot pause ZooKeeper server " + std::to_string(server) + ": not running");
  if (process.paused) return;
  ::kill(process.pid, SIGSTOP);
  // Return only once the kernel has stopped it, so a test's next step
  // really runs against a frozen server.
  const auto deadline = steady::now() + signal_ack_timeout;
  for (int round = 0; round < 100000 && steady::now() < deadline; ++round) {
    int status = 0;
    pid_t result = ::waitpid(process.pid, &status, WUNTRACED | WNOHANG);
    if (result == process.pid && WIFSTOPPED(status)) {
      process.paused = true;
      return;
    }
    if (result == process.pid || result < 0) {
      process.last_status = status;
      process.pid = -1;
      throw std::runtime_error("ZooKeeper server " + std::to_string(server) + " exited while being paused");
    }
    std::this_thread::sleep_for(1ms);
  }
  throw std::runtime_error("ZooKeeper server " + std::to_string(server) + " did not stop on SIGSTOP");
}

void zookeeper_cluster::resume(int server) {
  check_index(server);
  std::lock_guard lock(mutex_);
  auto& process = servers_[static_cast<std::size_t>(server)];
  if (!reap(process))
    throw std::runtime_error("cannot resume ZooKeeper server " + std::to_string(server) + ": not running");
  if (!process.paused) return;
  ::kill(process.pid, SIGCONT);
  const auto deadline = steady::now() + signal_ack_timeout;
  for (int round = 0; round < 100000 && steady::now() < deadline; ++round) {
    int status = 0;
    pid_t result = ::waitpid(process.pid, &status, WCONTINUED | WNOHANG);
    if (result == process.pid && WIFCONTINUED(status)) {
      process.paused = false;
      return;
    }
    if (result == process.pid || result < 0) {
      process.last_status = status;
      process.pid = -1;
      throw std::runtime_error("ZooKeeper server " + std::to_string(server) + " exited while being resumed");
    }
    std::this_thread::sleep_for(1ms);
  }
  throw std::runtime_error("ZooKeeper server " + std::to_string(server) + " did not continue on SIGCONT");
}

bool zookeeper_cluster::running(int server) const {
  check_index(server);
  std::lock_guard lock(mutex_);
  return reap(servers_[static_cast<std::size_t>(server)]);
}

bool zookeeper_cluster::serving(int server) const { return !mode(server).empty(); }

std::string zookeeper_cluster::mode(int server) const {
  return parse_mode(four_letter_word(server, "srvr", probe_timeout));
}

std::optional<int> zookeeper_cluster::leader() const {
  for (int server = 0; server < size(); ++server) {
    auto current = mode(server);
    if (current == "leader" || current == "standalone") return server;
  }
  return std::nullopt;
}

std::string zookeeper_cluster::four_letter_word(int server, std::string_view word,
                                                std::chrono::milliseconds timeout) const {
  return ask_four_letter_word("127.0.0.1", client_port(server), word, timeout).value_or("");
}

pid_t zookeeper_cluster::pid(int server) const {
  check_index(server);
  std::lock_guard lock(mutex_);
  auto& process = servers_[static_cast<std::size_t>(server)];
  reap(process);
  return process.pid;
}

std::filesystem::path zookeeper_cluster::directory() const { return directory_; }

std::filesystem::path zookeeper_cluster::data_directory(int server) const {
  check_index(server);
  return servers_[static_cast<std::size_t>(server)].dir / "data";
}

std::filesystem::path zookeeper_cluster::log_file(int server) const {
  check_index(server);
  return servers_[static_cast<std::size_t>(server)].dir / "zookeeper.log";
}

std::string zookeeper_cluster::log_tail(int server, int lines) const {
  return last_lines(read_file_from(log_file(server), 0, 256 * 1024), lines);
}

}  // namespace nominee::testing
