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

namespace nominee::detail {

class session_core;

void start_create(const std::shared_ptr<session_core>& core, std::string path, std::string data,
                  create_options options, bool protect, completion<std::error_code, created_node> done);
void start_get(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
               completion<std::error_code, node> done);
void start_exists(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                  completion<std::error_code, std::optional<stat>> done);
void start_get_children(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                        completion<std::error_code, children> done);
void start_set(const std::shared_ptr<session_core>& core, std::string path, std::string data, std::int32_t version,
               completion<std::error_code, stat> done);
void start_remove(const std::shared_ptr<session_core>& core, std::string path, std::int32_t version,
                  completion<std::error_code> done);
void start_multi(const std::shared_ptr<session_core>& core, std::vector<operation> operations,
                 completion<std::error_code, std::vector<operation_result>> done);
void start_ensure_path(const std::shared_ptr<session_core>& core, std::string path,
                       completion<std::error_code> done);

// The protected form of a path: "<parent>/_c_<uuid>-<name>" (Curator's shape,
// so JVM recipes on the same paths recognise it).
std::string protected_path(const std::string& path, const std::string& uuid);
// The prefix a protected node's name starts with: "_c_<uuid>-".
std::string protected_prefix(const std::string& uuid);

}  // namespace nominee::detail
