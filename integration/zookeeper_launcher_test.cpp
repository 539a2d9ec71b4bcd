// The launcher against real servers: if these fail, every integration test,
// benchmark and the demo would fail for reasons unrelated to nominee.
#include "zookeeper_launcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Polls predicate until it holds or timeout passes; true if it held.
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (int round = 0; round < 100000; ++round) {
    if (predicate()) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

std::optional<std::uint64_t> reported_zxid(const zookeeper_cluster& cluster, int server) {
  std::smatch match;
  const auto srvr = cluster.four_letter_word(server, "srvr");
  if (!std::regex_search(srvr, match, std::regex("Zxid: 0x([0-9a-fA-F]+)"))) return std::nullopt;
  return std::stoull(match[1].str(), nullptr, 16);
}

std::size_t count_mode(const zookeeper_cluster& cluster, const std::string& mode) {
  std::size_t count = 0;
  for (int server = 0; server < cluster.size(); ++server) count += cluster.mode(server) == mode ? 1 : 0;
  return count;
}

// A scratch directory removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nominee-launcher-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Opening and closing a session are both transactions, so this moves the
// server's zxid and writes its transaction log without any client library.
// Speaks the wire protocol directly; returns the closeSession zxid.
std::int64_t open_and_close_session(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_at_exit{fd};
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("connect failed");

  auto put32 = [](std::vector<unsigned char>& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(value >> shift));
  };
  auto put64 = [&](std::vector<unsigned char>& out, std::uint64_t value) {
    put32(out, static_cast<std::uint32_t>(value >> 32));
    put32(out, static_cast<std::uint32_t>(value));
  };
  auto send_frame = [&](const std::vector<unsigned char>& body) {
    std::vector<unsigned char> frame;
    put32(frame, static_cast<std::uint32_t>(body.size()));
    frame.insert(frame.end(), body.begin(), body.end());
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size()))
      throw std::runtime_error("send failed");
  };
  auto read_exact = [&](std::size_t count) {
    std::vector<unsigned char> data(count);
    std::size_t got = 0;
    for (int round = 0; round < 1000 && got < count; ++round) {
      ssize_t n = ::recv(fd, data.data() + got, count - got, 0);
      if (n <= 0) throw std::runtime_error("recv failed or timed out");
      got += static_cast<std::size_t>(n);
    }
    if (got < count) throw std::runtime_error("short read");
    return data;
  };
  auto read_frame = [&] {
    auto length = read_exact(4);
    std::uint32_t size = (std::uint32_t{length[0]} << 24) | (std::uint32_t{length[1]} << 16) |
                         (std::uint32_t{length[2]} << 8) | length[3];
    if (size > (1u << 20)) throw std::runtime_error("absurd frame length");
    return read_exact(size);
  };

  std::vector<unsigned char> connect;  // ConnectRequest
  put32(connect, 0);                   // protocolVersion
  put64(connect, 0);                   // lastZxidSeen
  put32(connect, 4000);                // timeOut (ms)
  put64(connect, 0);                   // sessionId: a new session
  put32(connect, 16);                  // passwd length
  connect.insert(connect.end(), 16, 0);
  connect.push_back(0);  // readOnly
  send_frame(connect);
  read_frame();  // ConnectResponse

  std::vector<unsigned char> close;     // RequestHeader
  put32(close, 1);                      // xid
  put32(close, static_cast<std::uint32_t>(-11));  // OpCode.closeSession
  send_frame(close);
  auto reply = read_frame();  // ReplyHeader: xid, zxid, err
  if (reply.size() < 16) throw std::runtime_error("short reply header");
  std::uint64_t zxid = 0;
  for (int i = 4; i < 12; ++i) zxid = (zxid << 8) | reply[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(zxid);
}

TEST(ZookeeperLauncher, StandaloneServesAndLeavesNothingBehind) {
  pid_t pid = -1;
  std::filesystem::path directory;
  {
    const auto started = steady::now();
    zookeeper_cluster cluster;
    std::cout << "standalone serving after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count() << " ms\n";
    pid = cluster.pid(0);
    directory = cluster.directory();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(std::filesystem::is_directory(directory));
    EXPECT_EQ(cluster.size(), 1);
    EXPECT_TRUE(std::regex_match(cluster.connect_string(), std::regex(R"(127\.0\.0\.1:\d+)")))
        << cluster.connect_string();
    EXPECT_EQ(cluster.connect_string(), cluster.address(0));
    EXPECT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
    EXPECT_EQ(cluster.mode(0), "standalone");
    EXPECT_EQ(cluster.leader(), 0);
    // The config the recipes rely on: TTL nodes and short sessions.
    auto config = cluster.four_letter_word(0, "conf");
    EXPECT_NE(config.find("minSessionTimeout=400"), std::string::npos) << config;
    EXPECT_NE(config.find("dataDir=" + directory.string()), std::string::npos) << config;
    EXPECT_TRUE(cluster.running(0));
    EXPECT_THROW(cluster.pid(1), std::out_of_range);
  }
  EXPECT_TRUE(process_gone(pid)) << "pid " << pid << " still exists";
  EXPECT_FALSE(std::filesystem::exists(directory)) << directory;
}

TEST(ZookeeperLauncher, EnsembleElectsANewLeaderWhenTheLeaderDies) {
  const auto started = steady::now();
  zookeeper_cluster cluster(zookeeper_options{.servers = 3});
  std::cout << "3-node ensemble serving after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count() << " ms\n";
  ASSERT_EQ(cluster.size(), 3);
  EXPECT_TRUE(std::regex_match(cluster.connect_string(),
                               std::regex(R"(127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+)")))
      << cluster.connect_string();
  EXPECT_EQ(count_mode(cluster, "leader"), 1u);
  EXPECT_EQ(count_mode(cluster, "follower"), 2u);
  const auto old_leader = cluster.leader();
  ASSERT_TRUE(old_leader.has_value());

  const pid_t old_pid = cluster.pid(*old_leader);
  const auto killed = steady::now();
  cluster.kill(*old_leader);
  EXPECT_TRUE(process_gone(old_pid));
  EXPECT_FALSE(cluster.running(*old_leader));
  EXPECT_EQ(cluster.pid(*old_leader), -1);
  std::optional<int> new_leader;
  ASSERT_TRUE(eventually(
      [&] {
        new_leader = cluster.leader();
        return new_leader.has_value();
      },
      20s))
      << "no new leader within 20 s";
  std::cout << "new leader after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - killed).count() << " ms\n";
  EXPECT_NE(*new_leader, *old_leader);

  cluster.start(*old_leader);
  EXPECT_TRUE(cluster.running(*old_leader));
  EXPECT_EQ(cluster.mode(*old_leader), "follower");
  EXPECT_EQ(count_mode(cluster, "leader"), 1u);
  EXPECT_EQ(cluster.leader(), new_leader);
  EXPECT_THROW(cluster.start(*old_leader), std::runtime_error);  // already running
}

TEST(ZookeeperLauncher, RestartKeepsTheDataDirectory) {
  zookeeper_cluster cluster;
  ASSERT_EQ(reported_zxid(cluster, 0), 0u);  // a fresh server
  const auto written = open_and_close_session(cluster.client_port(0));
  ASSERT_GT(written, 0);
  ASSERT_TRUE(eventually([&] { return reported_zxid(cluster, 0) >= static_cast<std::uint64_t>(written); }, 5s));

  const pid_t first = cluster.pid(0);
  cluster.stop(0);
  EXPECT_TRUE(process_gone(first));
  EXPECT_FALSE(cluster.serving(0));
  EXPECT_FALSE(std::filesystem::is_empty(cluster.data_directory(0) / "version-2"));
  cluster.start(0);
  EXPECT_NE(cluster.pid(0), first);
  EXPECT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
  // Replayed from the transaction log: a fresh data dir would report 0.
  EXPECT_GE(reported_zxid(cluster, 0), static_cast<std::uint64_t>(written));

  // A crash loses nothing the server acknowledged either.
  const auto second_write = open_and_close_session(cluster.client_port(0));
  cluster.kill(0);
  cluster.start(0);
  EXPECT_GE(reported_zxid(cluster, 0), static_cast<std::uint64_t>(second_write));
}

TEST(ZookeeperLauncher, PausedServerAnswersNothingUntilResumed) {
  zookeeper_cluster cluster;
  ASSERT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
  cluster.pause(0);
  EXPECT_TRUE(cluster.running(0));
  EXPECT_EQ(cluster.four_letter_word(0, "ruok", 300ms), "");
  EXPECT_FALSE(ask_four_letter_word("127.0.0.1", cluster.client_port(0), "ruok", 300ms).has_value());
  cluster.resume(0);
  EXPECT_TRUE(eventually([&] { return cluster.four_letter_word(0, "ruok", 300ms) == "imok"; }, 5s));
}

TEST(ZookeeperLauncher, StopReachesAPausedServer) {
  zookeeper_cluster cluster;
  const pid_t pid = cluster.pid(0);
  cluster.pause(0);
  cluster.stop(0);
  EXPECT_TRUE(process_gone(pid));
  EXPECT_FALSE(cluster.running(0));
}

// PR_SET_PDEATHSIG follows the thread that forked, not the process: a
// server forked by a thread that has since returned must not die with it.
TEST(ZookeeperLauncher, ServerStartedByAThreadOutlivesTheThread) {
  zookeeper_cluster cluster;
  cluster.kill(0);
  std::thread starter([&] { cluster.start(0); });
  starter.join();
  const pid_t pid = cluster.pid(0);
  ASSERT_GT(pid, 0);
  // Death by PDEATHSIG would come within milliseconds of the join; give it
  // ample time to show, then insist the same process still serves.
  EXPECT_FALSE(eventually([&] { return !cluster.running(0); }, 1s));
  EXPECT_EQ(cluster.pid(0), pid);
  EXPECT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
}

TEST(ZookeeperLauncher, MayBeObservedFromOtherThreadsWhileItActs) {
  zookeeper_cluster cluster;
  std::atomic<bool> done{false};
  std::atomic<int> observations{0};
  std::thread observer([&] {
    for (int round = 0; round < 100000 && !done; ++round) {
      (void)cluster.running(0);
      (void)cluster.pid(0);
      (void)cluster.serving(0);
      (void)cluster.connect_string();
      ++observations;
    }
  });
  cluster.pause(0);
  cluster.resume(0);
  cluster.stop(0);
  cluster.start(0);
  done = true;
  observer.join();
  EXPECT_GT(observations.load(), 0);
  EXPECT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
}

TEST(ZookeeperLauncher, StartOnATakenPortFailsWithTheServerLog) {
  zookeeper_cluster cluster;
  cluster.stop(0);
  // Someone else grabs the client port while the server is down.
  int squatter = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(squatter, 0);
  // Our own "srvr" probes left TIME_WAIT entries on the port.
  int reuse = 1;
  ::setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(cluster.client_port(0)));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(squatter, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(squatter, 1), 0);
  try {
    cluster.start(0);
    ADD_FAILURE() << "start() succeeded on a taken port";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("Address already in use"), std::string::npos) << error.what();
  }
  ::close(squatter);
  EXPECT_FALSE(cluster.running(0));
  cluster.start(0);  // the port is free again
  EXPECT_EQ(cluster.four_letter_word(0, "ruok"), "imok");
}

TEST(ZookeeperLauncher, MissingJarsSayHowToInstallThem) {
  scratch_dir empty;
  try {
    zookeeper_cluster cluster(zookeeper_options{.jar_dir = empty.path.string()});
    ADD_FAILURE() << "started without jars";
  } catch (const std::runtime_error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("apt-get install zookeeper"), std::string::npos) << message;
    EXPECT_NE(message.find((empty.path / "zookeeper.jar").string()), std::string::npos) << message;
  }
}

TEST(ZookeeperLauncher, MissingJavaSaysHowToInstallIt) {
  scratch_dir empty;
  try {
    zookeeper_cluster cluster(zookeeper_options{.java = (empty.path / "java").string()});
    ADD_FAILURE() << "started without java";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("apt-get install default-jre-headless"), std::string::npos)
        << error.what();
  }
}

TEST(ZookeeperLauncher, RejectsEvenEnsembles) {
  EXPECT_THROW(zookeeper_cluster(zookeeper_options{.servers = 2}), std::invalid_argument);
  EXPECT_THROW(zookeeper_cluster(zookeeper_options{.servers = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace nominee::testing
