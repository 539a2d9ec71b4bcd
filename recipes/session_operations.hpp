#pragma once
// The session's requests. Each validates its input in the caller's thread
// (nothing is sent when it is bad), then lives on the session's strand: it
// sends, takes the C client's reply, retries with backoff where that is
// safe, and completes once, by its deadline at the latest.

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <nominee/detail/completion.hpp>
#include <nominee/operations.hpp>
#include <nominee/session.hpp>

#include "ephemeral_ledger.hpp"

namespace nominee::detail {

class session_core;

// What a recipe's request carries beyond the public arguments.
struct request_scope {
  // Ephemeral nodes the request makes are held by this (ephemeral_ledger):
  // made after it is gone, they are deleted. Empty: the caller's own nodes,
  // left alone (the public session API).
  node_holder holder;
  // Send only on this session (0: the one current when the request
  // starts). A write never moves to another session: once its session is
  // gone it fails with session_expired.
  std::int64_t on_session = 0;
};

void start_create(const std::shared_ptr<session_core>& core, std::string path, std::string data,
                  create_options options, bool protect, completion<std::error_code, created_node> done,
                  request_scope scope = {});
void start_get(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
               completion<std::error_code, node> done);
void start_exists(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                  completion<std::error_code, std::optional<stat>> done);
void start_get_children(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                        completion<std::error_code, children> done);
void start_set(const std::shared_ptr<session_core>& core, std::string path, std::string data, std::int32_t version,
               completion<std::error_code, stat> done, request_scope scope = {});
void start_remove(const std::shared_ptr<session_core>& core, std::string path, std::int32_t version,
                  completion<std::error_code> done, request_scope scope = {});
void start_multi(const std::shared_ptr<session_core>& core, std::vector<operation> operations,
                 completion<std::error_code, std::vector<operation_result>> done, request_scope scope = {});
// Deletes an ephemeral node only while it is provably ours: an exists on
// the node's own session shows ephemeralOwner == that session (and czxid ==
// node.czxid, when known), then a delete at the version it showed. A lost
// reply starts over with the look on the same session: never a second
// blind delete, never a delete on another session. Completes with success
// when the node is gone, errc::not_owner when the node there is not this
// one, session_expired when its session ended (the server deleted it).
// Until then it keeps trying, with backoff; should it still give up, the
// session's orphan audit takes over. `done` may be empty.
void start_owned_removal(const std::shared_ptr<session_core>& core, owned_node node, completion<std::error_code> done);
void start_ensure_path(const std::shared_ptr<session_core>& core, std::string path,
                       completion<std::error_code> done);

// The protected form of a path: "<parent>/_c_<uuid>-<name>" (Curator's shape,
// so JVM recipes on the same paths recognise it).
std::string protected_path(const std::string& path, const std::string& uuid);
// The prefix a protected node's name starts with: "_c_<uuid>-".
std::string protected_prefix(const std::string& uuid);

}  // namespace nominee::detail
