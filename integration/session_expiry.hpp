#pragma once
// Forces a session's expiry from outside the process that owns it, the way
// Curator's KillSession does: a twin handle attaches to the session with its
// id and password (the server moves the session to the twin, dropping the
// owner's connection) and then closes it (the server ends the session).
#include <chrono>
#include <string>

#include "session_file.hpp"

namespace nominee::testing {

// "attached and closed", "already expired", or why the twin could not
// attach. Waits at most `timeout` for the twin to connect.
std::string expire_session(const std::string& hosts, const session_credentials& credentials,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace nominee::testing
