#include <nominee/error.hpp>

namespace nominee {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nominee"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::system_error: return "ZooKeeper client system error";
      case errc::runtime_inconsistency: return "runtime inconsistency (another operation in the multi failed)";
      case errc::data_inconsistency: return "data inconsistency";
      case errc::connection_loss: return "connection to ZooKeeper lost (a write may or may not have been applied)";
      case errc::marshalling_error: return "request could not be marshalled (too large for jute.maxbuffer?)";
      case errc::unimplemented: return "operation not implemented by the server";
      case errc::operation_timeout: return "ZooKeeper did not answer in time";
      case errc::bad_arguments: return "bad arguments for the ZooKeeper client";
      case errc::invalid_state: return "the ZooKeeper handle is not in a usable state (expired or closed)";
      case errc::new_config_no_quorum: return "no quorum of the new config is connected";
      case errc::reconfig_in_progress: return "a reconfiguration is already in progress";
      case errc::ssl_connection_error: return "TLS connection error";
      case errc::api_error: return "ZooKeeper API error";
      case errc::no_node: return "node does not exist";
      case errc::no_auth: return "not authorized (the node's ACL refuses this session's credentials)";
      case errc::bad_version: return "version conflict (the node changed since it was read)";
      case errc::no_children_for_ephemerals: return "ephemeral nodes may not have children";
      case errc::node_exists: return "node already exists";
      case errc::not_empty: return "node has children";
      case errc::session_expired: return "ZooKeeper session expired";
      case errc::invalid_callback: return "invalid callback";
      case errc::invalid_acl: return "invalid ACL (a creator ACL needs authenticated credentials)";
      case errc::auth_failed: return "ZooKeeper refused the credentials";
      case errc::closing: return "ZooKeeper handle is closing";
      case errc::nothing: return "no server response to process";
      case errc::session_moved: return "session moved to another server";
      case errc::not_read_only: return "write sent to a read-only server";
      case errc::ephemeral_on_local_session: return "ephemeral node on a local session";
      case errc::no_watcher: return "no such watcher";
      case errc::reconfig_disabled: return "reconfiguration is disabled";
      case errc::session_closed_requires_sasl_auth: return "server requires SASL authentication";
      case errc::throttled_op: return "request throttled by the server";
      case errc::deadline_exceeded: return "deadline exceeded before ZooKeeper answered";
      case errc::path_not_absolute: return "invalid path: must start with '/'";
      case errc::path_empty_segment: return "invalid path: empty segment ('//')";
      case errc::path_trailing_slash: return "invalid path: must not end with '/'";
      case errc::path_relative_segment: return "invalid path: '.' and '..' segments are not allowed";
      case errc::path_bad_character: return "invalid path: contains a NUL or control character, or bytes that are not UTF-8";
      case errc::data_too_large: return "data too large for a znode (limit 1 MiB - 1 KiB)";
      case errc::invalid_hosts: return "invalid ZooKeeper hosts string (want host:port[,host:port...][/chroot])";
      case errc::invalid_digest: return "invalid digest credentials (want user:password)";
      case errc::invalid_option: return "invalid option value";
      case errc::too_many_operations: return "too many operations in one multi (limit 100)";
      case errc::session_closed: return "session closed by its owner";
      case errc::invalid_name: return "invalid name (empty, '/', '.', '..', control characters, not UTF-8, or too long)";
      case errc::member_id_taken: return "member id is taken by another live session";
      case errc::in_progress: return "a request of this kind is already in progress";
      case errc::invalid_json: return "not a JSON object (or over the size limit)";
      case errc::not_stopping: return "the key is not being stopped on this member";
      case errc::lease_lapsed: return "the hold's lease lapsed before the server confirmed it; it is being revoked";
      case errc::not_owner: return "the node belongs to another session (or is a newer node of ours); left alone";
      case errc::not_started: return "not started";
      case errc::cancelled: return "cancelled";
      case errc::not_a_number: return "the value is not a decimal integer";
      case errc::space_exhausted: return "the space has no values left to grant";
      case errc::not_coordinator: return "this member does not hold the coordinator role";
    }
    return "unknown nominee error " + std::to_string(value);
  }
};

bool is(const std::error_code& ec, errc e) noexcept { return ec == make_error_code(e); }

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

bool is_no_node(const std::error_code& ec) noexcept { return is(ec, errc::no_node); }
bool is_node_exists(const std::error_code& ec) noexcept { return is(ec, errc::node_exists); }
bool is_bad_version(const std::error_code& ec) noexcept { return is(ec, errc::bad_version); }
bool is_not_empty(const std::error_code& ec) noexcept { return is(ec, errc::not_empty); }
bool is_session_expired(const std::error_code& ec) noexcept { return is(ec, errc::session_expired); }

bool is_connection_loss(const std::error_code& ec) noexcept {
  return is(ec, errc::connection_loss) || is(ec, errc::operation_timeout);
}

bool is_retriable(const std::error_code& ec) noexcept {
  return is_connection_loss(ec) || is(ec, errc::session_moved) || is(ec, errc::throttled_op);
}

bool is_invalid_argument(const std::error_code& ec) noexcept {
  if (&ec.category() != &error_category()) return false;
  switch (static_cast<errc>(ec.value())) {
    case errc::path_not_absolute:
    case errc::path_empty_segment:
    case errc::path_trailing_slash:
    case errc::path_relative_segment:
    case errc::path_bad_character:
    case errc::data_too_large:
    case errc::invalid_hosts:
    case errc::invalid_digest:
    case errc::invalid_option:
    case errc::too_many_operations:
    case errc::invalid_name:
    case errc::invalid_json:
    case errc::bad_arguments:
      return true;
    default:
      return false;
  }
}

bool is_auth_failure(const std::error_code& ec) noexcept {
  return is(ec, errc::auth_failed) || is(ec, errc::no_auth) ||
         is(ec, errc::session_closed_requires_sasl_auth);
}

}  // namespace nominee
