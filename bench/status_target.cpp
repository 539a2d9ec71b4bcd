// status_target: a small service for the status endpoint's load bench (and
// for looking at the dashboard by hand). It starts a throwaway ZooKeeper
// through the test launcher, runs --members dividers (each on a session of
// its own, affinities 1, 2, 3, ...) over --keys work keys, makes every
// member a candidate for "cluster-manager", and serves member 1's board on
// a status_server. It prints
//
//   status_target: serving http://127.0.0.1:PORT/
//
// once every key is owned, and runs until SIGTERM or SIGINT.
//
//   status_target [--keys N] [--members N] [--port P] [--address A] [--no-fsync]
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/log.hpp>
#include <nominee/session.hpp>
#include <nominee/status.hpp>

#include "zookeeper_launcher.hpp"

namespace {

using namespace std::chrono_literals;

struct config {
  int keys = 1000;
  int members = 4;
  std::uint16_t port = 0;
  std::string address = "127.0.0.1";
  bool fsync = true;
};

[[noreturn]] void usage(int code) {
  std::cerr << "usage: status_target [--keys N] [--members N] [--port P] [--address A] [--no-fsync]\n";
  std::exit(code);
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (arg == "--keys") c.keys = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--members") c.members = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--port") c.port = static_cast<std::uint16_t>(std::atoi(next().c_str()));
    else if (arg == "--address") c.address = next();
    else if (arg == "--no-fsync") c.fsync = false;
    else usage(arg == "--help" ? 0 : 2);
  }
  return c;
}

// One member: its session, divider and candidacy. Stops are confirmed at once.
class member {
 public:
  member(boost::asio::any_io_executor executor, const std::string& hosts, const std::string& root, int index,
         nominee::status_board* board)
      : id_("member-" + std::to_string(index)), board_(board) {
    nominee::session_options so;
    so.hosts = hosts;
    so.session_timeout = 10s;
    session_ = std::make_unique<nominee::session>(executor, so);
    session_->wait_connected(30s);

    nominee::divider_options d;
    d.root = root;
    d.prefix = "/jobs/";
    d.member_id = id_;
    d.affinity = index;
    d.endpoint = "127.0.0.1:" + std::to_string(9000 + index);
    divider_ = std::make_unique<nominee::divider>(
        *session_, d,
        nominee::divider::callbacks{
            [this](const nominee::key_lease& lease) {
              if (board_) board_->record_event("key", "started " + lease.key + " (token " + std::to_string(lease.token) + ")");
            },
            [this](const std::string& key, nominee::stop_reason why) {
              if (board_) board_->record_event("key", "stopped " + key + " (" + std::string(to_string(why)) + ")");
              divider_->confirm_stop(key);
            }});
    divider_->async_start(boost::asio::use_future).get();

    candidate_ = std::make_unique<nominee::candidate>(
        *session_, nominee::election_options{root, "cluster-manager", id_, d.endpoint},
        nominee::candidate::callbacks{
            [this](const nominee::term& t) {
              if (board_) board_->set_role_held("cluster-manager", t.token);
            },
            [this](nominee::revoke_reason) {
              if (board_) board_->set_role_held("cluster-manager", std::nullopt);
            }});
  }
  ~member() {
    candidate_.reset();
    divider_.reset();
    session_.reset();
  }

  nominee::session& s() { return *session_; }
  nominee::divider& d() { return *divider_; }

 private:
  std::string id_;
  nominee::status_board* board_;
  std::unique_ptr<nominee::session> session_;
  std::unique_ptr<nominee::divider> divider_;
  std::unique_ptr<nominee::candidate> candidate_;
};

}  // namespace

int main(int argc, char** argv) {
  auto cfg = parse(argc, argv);
  // SIGTERM and SIGINT end the run; blocked here so every thread inherits
  // the mask and sigwait below takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    nominee::set_log_level(nominee::log_level::error);
    nominee::testing::zookeeper_options zk;
    zk.fsync = cfg.fsync;
    nominee::testing::zookeeper_cluster cluster(zk);

    boost::asio::io_context io(2);
    auto work = boost::asio::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });

    std::string root = "/status-target-" + std::to_string(::getpid());
    // The members and the server live in this scope, so that they are gone
    // (server first, sessions last) before the I/O threads are joined.
    {
      nominee::status_board board("member-1");
      std::vector<std::unique_ptr<member>> members;
      for (int i = 1; i <= cfg.members; ++i)
        members.push_back(std::make_unique<member>(io.get_executor(), cluster.connect_string(), root, i,
                                                   i == 1 ? &board : nullptr));
      nominee::role_observer who(members.front()->s(), root, "cluster-manager",
                                 [](const std::optional<nominee::role_holder>&) {});
      std::vector<std::string> keys;
      for (int k = 0; k < cfg.keys; ++k) keys.push_back("job-" + std::to_string(k));
      members.front()->d().async_add_work(keys, boost::asio::use_future).get();

      // Every key owned once, every member seeing every member.
      auto deadline = std::chrono::steady_clock::now() + 120s;
      while (true) {
        std::size_t owned = 0;
        bool all_seen = true;
        for (auto& m : members) {
          auto st = m->d().status();
          all_seen &= st.keys == keys.size() && st.members == members.size() && st.acquiring == 0 && st.stopping == 0;
          owned += m->d().assigned().size();
        }
        if (all_seen && owned == keys.size()) break;
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the members never settled on the keys");
        std::this_thread::sleep_for(20ms);
      }

      board.show_session(members.front()->s());
      board.show_divider(members.front()->d());
      board.show_role("cluster-manager", who);
      board.record_event("target", std::to_string(cfg.members) + " members over " + std::to_string(cfg.keys) + " keys");
      nominee::status_options so;
      so.address = cfg.address;
      so.port = cfg.port;
      nominee::status_server server(board, so);
      std::cout << "status_target: serving " << server.url() << std::endl;

      int sig = 0;
      sigwait(&stop_signals, &sig);
      std::cerr << "status_target: stopping on signal " << sig << "\n";
      // The board outlives the members (their callbacks record on it), so
      // it lets go of their session, divider and observer first.
      board.remove_role("cluster-manager");
      board.remove_divider("/jobs/");
      board.remove_session();
    }
    work.reset();
    for (auto& t : threads) t.join();
  } catch (const std::exception& e) {
    std::cerr << "status_target: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
