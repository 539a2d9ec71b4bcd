#include "session_expiry.hpp"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <thread>

namespace nominee::testing {

std::string expire_session(const std::string& hosts, const session_credentials& credentials,
                           std::chrono::milliseconds timeout) {
  clientid_t id{};
  id.client_id = credentials.id;
  std::copy_n(credentials.password.begin(), std::min(credentials.password.size(), sizeof id.passwd), id.passwd);
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  zhandle_t* twin = zookeeper_init(hosts.c_str(), nullptr, 2000, &id, nullptr, 0);
  if (!twin) return "zookeeper_init failed";
  int state = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    state = zoo_state(twin);
    if (state == ZOO_CONNECTED_STATE || state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  zookeeper_close(twin);
  if (state == ZOO_CONNECTED_STATE) return "attached and closed";
  if (state == ZOO_EXPIRED_SESSION_STATE) return "already expired";
  return "could not attach (state " + std::to_string(state) + ")";
}

}  // namespace nominee::testing
