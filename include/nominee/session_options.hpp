#pragma once
// Everything a session is configured with: a plain struct with defaults.

#include <chrono>
#include <optional>
#include <string>

#include <nominee/acl.hpp>

namespace nominee {

struct retry_policy {
  // Exponential backoff with full jitter: attempt n waits a uniformly random
  // time in [0, min(max_delay, initial_delay * 2^n)].
  std::chrono::milliseconds initial_delay{10};
  std::chrono::milliseconds max_delay{1000};
  int max_attempts = 20;  // the operation's deadline bounds retries as well
};

struct session_options {
  // "host:port[,host:port...][/chroot]", e.g. "127.0.0.1:2181,127.0.0.1:2182/app".
  std::string hosts;
  // Asked of the server; it clamps it to [2, 20] x its tickTime by default.
  std::chrono::milliseconds session_timeout{10000};
  // Each operation's deadline, retries included.
  std::chrono::milliseconds operation_timeout{10000};
  // "user:password" for ZooKeeper's digest scheme; empty: no authentication.
  std::string digest;
  // ACL for nodes created without one. Default: open, or creator-all +
  // world-read when digest credentials are set.
  std::optional<nominee::acl> default_acl;
  retry_policy retry;
  // After the server expires the session, open a new one by itself.
  bool reconnect_after_expiry = true;
  // How often the session looks for ephemeral nodes a recipe made on it but
  // no longer holds (a create answered after its recipe was destroyed, say)
  // and deletes them, so no ghost holds a lock or a key for the session's
  // life. Counted in session_statistics::orphans_removed.
  std::chrono::milliseconds orphan_audit_interval{1000};
};

}  // namespace nominee
