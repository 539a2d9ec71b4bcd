// nominee-smoke: what the demo runs until the worker fleet exists. It talks
// to a real ZooKeeper through nominee's session and shows what it saw:
// the session, an ephemeral protected node, a watch firing, round trips.
//
//   nominee-smoke HOSTS [ROOT]
#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <vector>

#include <boost/asio/use_future.hpp>

#include <nominee/session.hpp>

namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;

template <class T>
T wait(std::future<T>& f) {
  if (f.wait_for(15s) != std::future_status::ready) throw std::runtime_error("no answer within 15 s");
  return f.get();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: nominee-smoke HOSTS [ROOT]\n";
    return 2;
  }
  std::string root = argc > 2 ? argv[2] : "/nominee-smoke";
  try {
    nominee::session_options options;
    options.hosts = argv[1];
    options.session_timeout = 6s;
    nominee::session session(options);
    session.wait_connected(15s);
    std::cout << "connected: session 0x" << std::hex << session.session_id() << std::dec << " to "
              << session.current_server() << ", timeout " << session.negotiated_timeout().count() << " ms\n";

    auto ensured = session.async_ensure_path(root + "/members", use_future);
    wait(ensured);

    std::promise<nominee::watch_event> changed;
    auto listed = session.async_get_children(
        root + "/members", [&](const nominee::watch_event& e) { changed.set_value(e); }, use_future);
    std::cout << "members before: " << wait(listed).names.size() << "\n";

    auto created = session.async_create_protected(root + "/members/member-", "smoke",
                                                  {nominee::create_mode::ephemeral_sequential, {}, {}}, use_future);
    auto me = wait(created);
    std::cout << "created " << me.path << " (fencing token czxid " << me.stat.czxid << ")\n";

    auto event_future = changed.get_future();
    auto event = wait(event_future);
    std::cout << "watch fired: " << nominee::to_string(event.type) << " on " << event.path << "\n";

    std::vector<double> micros;
    for (int i = 0; i < 1000; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto got = session.async_exists(me.path, use_future);
      wait(got);
      micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(micros.begin(), micros.end());
    std::cout << "exists round trip over 1000 calls: p50 " << micros[500] << " us, p99 " << micros[990] << " us\n";

    auto removed = session.async_remove(me.path, nominee::any_version, use_future);
    wait(removed);
    std::cout << "smoke check passed\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nominee-smoke: " << e.what() << "\n";
    return 1;
  }
}
