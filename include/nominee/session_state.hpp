#pragma once
// The life of a session, as listeners see it.

#include <chrono>
#include <cstdint>
#include <string_view>

namespace nominee {

enum class session_state {
  connecting,   // a new ZooKeeper session is being established
  connected,    // a new session is up (the first one, or the one after an expiry)
  suspended,    // the connection dropped; the session may still be alive on the server
  reconnected,  // the same session is back after a suspension
  expired,      // the server ended the session: ephemerals and watches are gone
  closed,       // closed by its owner; terminal
  auth_failed,  // the server refused the credentials; terminal
};

std::string_view to_string(session_state state) noexcept;

struct session_event {
  session_state state;
  std::int64_t session_id = 0;                    // the session the event is about
  std::chrono::milliseconds negotiated_timeout{0};  // what the server granted (0 until connected)
};

}  // namespace nominee
