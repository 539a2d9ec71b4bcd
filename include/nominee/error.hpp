#pragma once
// Errors are values: every asynchronous completion carries a std::error_code
// in the nominee category. Negative values mirror the C client's ZOO_* codes
// one to one; positive values are nominee's own (validation, deadlines).

#include <string>
#include <system_error>
#include <type_traits>

namespace nominee {

enum class errc {
  ok = 0,

  // ZooKeeper's own codes (same numbers as the C client's ZOO_ERRORS).
  system_error = -1,
  runtime_inconsistency = -2,
  data_inconsistency = -3,
  connection_loss = -4,
  marshalling_error = -5,
  unimplemented = -6,
  operation_timeout = -7,
  bad_arguments = -8,
  invalid_state = -9,
  new_config_no_quorum = -13,
  reconfig_in_progress = -14,
  ssl_connection_error = -15,
  api_error = -100,
  no_node = -101,
  no_auth = -102,
  bad_version = -103,
  no_children_for_ephemerals = -108,
  node_exists = -110,
  not_empty = -111,
  session_expired = -112,
  invalid_callback = -113,
  invalid_acl = -114,
  auth_failed = -115,
  closing = -116,
  nothing = -117,
  session_moved = -118,
  not_read_only = -119,
  ephemeral_on_local_session = -120,
  no_watcher = -121,
  reconfig_disabled = -123,
  session_closed_requires_sasl_auth = -124,
  throttled_op = -127,

  // nominee's own: checked before anything is sent, or enforced locally.
  deadline_exceeded = 1,     // the operation's deadline passed first
  path_not_absolute,         // does not start with '/'
  path_empty_segment,        // "//" inside the path
  path_trailing_slash,       // ends with '/' (only "/" itself may)
  path_relative_segment,     // a "." or ".." segment
  path_bad_character,        // NUL or another control character
  data_too_large,            // over max_node_data_bytes
  invalid_hosts,             // the connect string is malformed
  invalid_digest,            // credentials are not "user:password"
  invalid_option,            // an option out of range
  too_many_operations,       // a multi over max_multi_operations
  session_closed,            // the session was closed by its owner
  invalid_name,              // a role, member or key name that cannot be a znode name
  member_id_taken,           // another live session is a member under this id
  in_progress,               // the same kind of request is already pending on this object
  invalid_json,              // metadata that is not a JSON object
  not_stopping,              // confirm_stop for a key that is not being stopped
  not_started,               // a divider call that needs start() first
  cancelled,                 // the object was cancelled or destroyed first
  not_a_number,              // a shared value that increase/decrease cannot read as an integer
  space_exhausted,           // a range space has no values left to grant
  not_coordinator,           // a coordinator-only call on a member that does not hold the role
  not_owner,                 // the node there is another session's (or a newer one of ours): left alone
  lease_lapsed,              // held, but the lease lapsed (a freeze, a lost connection): being revoked
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// --- classifiers: what a caller usually needs to branch on -----------------

bool is_no_node(const std::error_code& ec) noexcept;
bool is_node_exists(const std::error_code& ec) noexcept;
bool is_bad_version(const std::error_code& ec) noexcept;
bool is_not_empty(const std::error_code& ec) noexcept;
bool is_session_expired(const std::error_code& ec) noexcept;
// The connection dropped (or the server did not answer in time) while the
// request was in flight: a write may or may not have been applied.
bool is_connection_loss(const std::error_code& ec) noexcept;
// Worth trying again on the same or the next session (reads retry these
// automatically, within their deadline).
bool is_retriable(const std::error_code& ec) noexcept;
// The caller passed something invalid; nothing was sent.
bool is_invalid_argument(const std::error_code& ec) noexcept;
bool is_auth_failure(const std::error_code& ec) noexcept;

// Thrown by the few synchronous entry points (constructors, wait_connected).
// what() names the value that was at fault, then the error's message.
class error : public std::system_error {
 public:
  error(std::error_code code, const std::string& context) : std::system_error(code, context) {}
};

}  // namespace nominee

template <>
struct std::is_error_code_enum<nominee::errc> : std::true_type {};
