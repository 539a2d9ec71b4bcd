// Starts real ZooKeeper servers (the Debian jars) on loopback for tests,
// benchmarks and the demo. Not part of the installed library: nothing here
// belongs in include/nominee/.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nominee::testing {

struct zookeeper_options {
  // 1 runs a standalone server; any odd N >= 3 runs an ensemble.
  int servers = 1;
  // Small ticks let tests use session timeouts of 1-2 s (the server clamps
  // timeouts to [2, 20] ticks unless min/max say otherwise).
  int tick_ms = 200;
  int min_session_timeout_ms = 400;
  int max_session_timeout_ms = 60000;
  // Ensemble only, in ticks: how long a follower may take to sync at start,
  // and how far it may lag before the leader drops it.
  int init_limit_ticks = 20;
  int sync_limit_ticks = 5;
  // Bounds the constructor and start(): how long until every server serves.
  std::chrono::milliseconds start_timeout{30000};
  // Empty: search PATH for `java`, then /usr/bin/java.
  std::string java = "";
  std::string jar_dir = "/usr/share/java";
  // forceSync; benchmarks may turn it off to measure the client, not the disk.
  bool fsync = true;
  // Appended after our JVM flags, so they win (e.g. "-XX:TieredStopAtLevel=4"
  // for the full JIT, "-Xlog:gc" to see pauses).
  std::vector<std::string> extra_jvm_args = {};
};

// Asks a ZooKeeper "four letter word" over TCP (host: a dotted IPv4
// address) and returns the whole answer, or nullopt when nothing answered
// in time (refused, paused, still starting).
std::optional<std::string> ask_four_letter_word(const std::string& host, int port, std::string_view word,
                                                std::chrono::milliseconds timeout);

// Owns ZooKeeper server processes and their files. The destructor SIGKILLs
// every server still running and removes the temp dir (set the environment
// variable NOMINEE_KEEP_ZK_DATA=1 to keep it; its path goes to stderr).
// Servers are numbered 0 .. size()-1 (their myid is index + 1). All methods
// may be called from any thread; stop, kill, pause and resume hold a lock
// while they wait for the process, start only while it forks.
class zookeeper_cluster {
 public:
  // Starts every server and waits until each serves (and, for an ensemble,
  // one is leader). Throws std::runtime_error with install instructions
  // when java or the jars are missing, or with the server log's tail.
  explicit zookeeper_cluster(zookeeper_options options = {});
  ~zookeeper_cluster();
  zookeeper_cluster(const zookeeper_cluster&) = delete;
  zookeeper_cluster& operator=(const zookeeper_cluster&) = delete;

  // "127.0.0.1:p1,127.0.0.1:p2,..." in server order; fixed for the
  // cluster's life (restarts reuse the ports).
  std::string connect_string() const;
  std::string address(int server) const;
  int client_port(int server) const;
  int size() const;

  // SIGTERM, then SIGKILL if the server has not exited within 10 s. A no-op
  // for a server that is not running.
  void stop(int server);
  // SIGKILL (a crash: nothing is flushed beyond what the server already
  // wrote). A no-op for a server that is not running.
  void kill(int server);
  // Restarts a stopped or killed server on its old ports and data dir, and
  // waits until it serves. Throws if it is running or does not come up.
  void start(int server);
  // SIGSTOP / SIGCONT: the process keeps its sockets but answers nothing,
  // like a server stuck in a long GC pause or a frozen VM.
  void pause(int server);
  void resume(int server);

  // The process exists (paused counts as running).
  bool running(int server) const;
  // Answers "srvr" as standalone, leader or follower right now.
  bool serving(int server) const;
  // "standalone", "leader", "follower", or "" when not serving.
  std::string mode(int server) const;
  // The index of the server that answers as leader (0 for a standalone
  // server that serves), or nullopt during an election.
  std::optional<int> leader() const;

  // The server's answer, or "" when it did not answer within timeout.
  std::string four_letter_word(int server, std::string_view word,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;

  // -1 when the server is not running.
  pid_t pid(int server) const;
  std::filesystem::path directory() const;
  std::filesystem::path data_directory(int server) const;
  std::filesystem::path log_file(int server) const;
  // The last lines of the server's log (stdout and stderr of every run).
  std::string log_tail(int server, int lines = 30) const;

 private:
  struct server_process {
    int client_port = 0;
    int peer_port = 0;
    int election_port = 0;
    std::filesystem::path dir;
    pid_t pid = -1;
    bool paused = false;
    int last_status = 0;              // waitpid status of the last run
    std::uintmax_t log_offset = 0;    // where the current run's log begins
  };

  void check_index(int server) const;
  std::vector<std::string> command_line(int server) const;
  void write_config(int server) const;
  void choose_ports();
  void spawn(int server);
  // Polls "srvr" until every listed server serves (and, if want_leader,
  // one of all servers is leader); returns "" on success, else what went
  // wrong, with the log tail of the server at fault.
  std::string wait_until_serving(const std::vector<int>& servers, bool want_leader,
                                 std::chrono::steady_clock::time_point deadline);
  // Reaps the process if it has exited; returns false if it is gone.
  bool reap(server_process& process) const;
  void kill_and_reap(server_process& process) noexcept;
  void shut_down() noexcept;

  zookeeper_options options_;
  std::string java_;
  std::string class_path_;
  std::filesystem::path directory_;
  // Guards the pids and paused flags; ports and paths do not change after
  // the constructor returns.
  mutable std::mutex mutex_;
  mutable std::vector<server_process> servers_;
};

}  // namespace nominee::testing
