// nominee-worker: one process of the sample worker fleet (see worker.hpp).
//
//   nominee-worker [--hosts H] [--prefix P] [--name N] [--affinity A] ...
//   nominee-worker --help
//
// Exit status: 0 after a clean leave (SIGTERM or SIGINT: flush, cancel),
// 1 when it could not run or the flush did not complete, 2 on a bad flag.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "child_main.hpp"  // die_with_parent
#include "worker.hpp"
#include "worker_options.hpp"

int main(int argc, char** argv) {
  using namespace nominee::worker;
  worker_options options;
  try {
    options = parse_worker_options(argc, argv);
  } catch (const help_requested& help) {
    std::cout << help.what();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nominee-worker: " << e.what() << "\n(see nominee-worker --help)\n";
    return 2;
  }
  // A test runner that dies (a timeout, a crash) takes its workers along.
  if (options.die_with_parent && !nominee::testing::die_with_parent()) return 1;
  // Blocked before any thread exists, so only the sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  // Two threads: the recipes, the key records and the status snapshots
  // share them; the main thread only waits for a signal and then leaves.
  std::thread io_threads[2];
  for (auto& t : io_threads) t = std::thread([&io] { io.run(); });
  int status = 0;
  try {
    worker w(io, options);
    w.start();
    if (auto url = w.status_url(); !url.empty()) std::cout << "[" << options.name << "] status: " << url << std::endl;
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::cout << "[" << options.name << "] signal " << signal << ": handing keys over and leaving" << std::endl;
    if (!w.shutdown()) {
      std::cerr << "nominee-worker: the flush did not complete in time; left anyway\n";
      status = 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "nominee-worker: " << e.what() << "\n";
    status = 1;
  }
  work.reset();
  io.stop();
  for (auto& t : io_threads) t.join();
  return status;
}
