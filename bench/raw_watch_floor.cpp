#include "raw_watch_floor.hpp"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench_stats.hpp"

namespace nominee::bench {
namespace {

using namespace std::chrono_literals;

const char* const floor_node = "/bench-raw-watch-floor";

// Shared by every handle's callbacks (which run on the C client's threads).
struct round_state {
  std::mutex mutex;
  std::condition_variable changed;
  std::string target;  // the value this round wrote
  clock_type::time_point started;
  int read = 0, notified = 0;
  double last_read_ms = 0, last_notified_ms = 0;
};

round_state* state = nullptr;  // the C callbacks' context; one measurement at a time

void on_data(int rc, const char* value, int length, const Stat*, const void*) {
  if (rc != ZOK || !value) return;
  std::lock_guard lock(state->mutex);
  if (std::string(value, static_cast<std::size_t>(length)) != state->target) return;
  ++state->read;
  state->last_read_ms = ms_between(state->started, clock_type::now());
  state->changed.notify_all();
}

void on_watch(zhandle_t* zh, int type, int, const char*, void*) {
  if (type == ZOO_SESSION_EVENT) return;
  {
    std::lock_guard lock(state->mutex);
    ++state->notified;
    state->last_notified_ms = ms_between(state->started, clock_type::now());
  }
  zoo_awget(zh, floor_node, on_watch, nullptr, on_data, nullptr);
}

struct handles {
  std::vector<zhandle_t*> all;
  ~handles() {
    for (auto* h : all) zookeeper_close(h);
  }
};

bool wait_connected(zhandle_t* h, std::chrono::milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  while (zoo_state(h) != ZOO_CONNECTED_STATE) {
    if (clock_type::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace

raw_watch_floor_result measure_raw_watch_floor(const std::string& hosts, int count, int rounds) {
  round_state shared;
  state = &shared;
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  handles h;
  for (int i = 0; i <= count; ++i) {
    auto* zh = zookeeper_init(hosts.c_str(), nullptr, 10000, nullptr, nullptr, 0);
    if (!zh) throw std::runtime_error("raw floor: zookeeper_init failed for " + hosts);
    h.all.push_back(zh);
  }
  for (auto* zh : h.all)
    if (!wait_connected(zh, 15s)) throw std::runtime_error("raw floor: a handle did not connect to " + hosts);
  auto* writer = h.all.back();
  int rc = zoo_create(writer, floor_node, "0", 1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
  if (rc != ZOK && rc != ZNODEEXISTS) throw std::runtime_error(std::string("raw floor: create: ") + zerror(rc));
  {
    std::lock_guard lock(shared.mutex);
    shared.target = "0";
    shared.started = clock_type::now();
  }
  for (int i = 0; i < count; ++i) zoo_awget(h.all[i], floor_node, on_watch, nullptr, on_data, nullptr);
  {
    std::unique_lock lock(shared.mutex);
    if (!shared.changed.wait_for(lock, 30s, [&] { return shared.read >= count; }))
      throw std::runtime_error("raw floor: the first reads did not complete within 30 s");
  }

  raw_watch_floor_result out;
  for (int r = 1; r <= rounds; ++r) {
    std::string value = "round-" + std::to_string(r);
    {
      std::lock_guard lock(shared.mutex);
      shared.target = value;
      shared.read = shared.notified = 0;
      shared.started = clock_type::now();
    }
    rc = zoo_set(writer, floor_node, value.data(), static_cast<int>(value.size()), -1);
    if (rc != ZOK) throw std::runtime_error(std::string("raw floor: set: ") + zerror(rc));
    std::unique_lock lock(shared.mutex);
    if (!shared.changed.wait_for(lock, 30s, [&] { return shared.read >= count; }))
      throw std::runtime_error("raw floor: round " + std::to_string(r) + " did not reach every handle within 30 s");
    out.all_read_ms.push_back(shared.last_read_ms);
    out.all_notified_ms.push_back(shared.last_notified_ms);
  }
  // Closed before `shared` goes: a late event must find it alive.
  for (auto* zh : h.all) zookeeper_close(zh);
  h.all.clear();
  state = nullptr;
  return out;
}

}  // namespace nominee::bench
