#pragma once
// How recipes talk to a session: through a weak reference to its core.
//
// A recipe's handlers can still be running while its session closes (the
// close fails requests in flight, and their completions run). Through the
// link, a request made then completes with session_closed; once the core is
// gone the request is dropped, with nothing touched. A recipe never holds a
// session& past its own destructor.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nominee/session.hpp>

#include "session_core.hpp"
#include "session_operations.hpp"

namespace nominee::detail {

class session_access {
 public:
  static const std::shared_ptr<session_core>& core(const session& s) { return s.core_; }
};

class session_link {
 public:
  explicit session_link(const session& s) : core_(session_access::core(s)) {}

  std::shared_ptr<session_core> lock() const { return core_.lock(); }

  std::int64_t session_id() const {
    auto c = lock();
    return c ? c->session_id() : 0;
  }
  session_state state() const {
    auto c = lock();
    return c ? c->state() : session_state::closed;
  }
  // What the server granted, or what was asked before the first connect.
  std::chrono::milliseconds session_timeout() const {
    auto c = lock();
    if (!c) return std::chrono::milliseconds(0);
    auto negotiated = c->negotiated_timeout();
    return negotiated.count() > 0 ? negotiated : c->options().session_timeout;
  }

  session::listener_id add_listener(session::listener l) const {
    auto c = lock();
    return c ? c->add_listener(std::move(l)) : 0;
  }
  void remove_listener(session::listener_id id) const {
    if (auto c = lock()) c->remove_listener(id);
  }

  // When the newest request the server answered on this session was sent
  // (epoch if none): what a lease may count from.
  std::chrono::steady_clock::time_point answered_sent_at(std::int64_t session_id) const {
    auto c = lock();
    return c ? c->answered_sent_at(session_id) : std::chrono::steady_clock::time_point{};
  }

  // The newest handle's generation: a request bound to a session
  // (request_scope) fails once it changes.
  std::uint64_t generation() const {
    auto c = lock();
    return c ? c->generation() : 0;
  }

  template <class Handler>
  void create(std::string path, std::string data, create_options options, bool protect, Handler&& h,
              request_scope scope = {}) const {
    if (auto c = lock())
      start_create(c, std::move(path), std::move(data), std::move(options), protect,
                   completion<std::error_code, created_node>(std::forward<Handler>(h), c->executor()),
                   std::move(scope));
  }
  template <class Handler>
  void get(std::string path, session::watcher w, Handler&& h) const {
    if (auto c = lock())
      start_get(c, std::move(path), std::move(w), completion<std::error_code, node>(std::forward<Handler>(h), c->executor()));
  }
  template <class Handler>
  void exists(std::string path, session::watcher w, Handler&& h) const {
    if (auto c = lock())
      start_exists(c, std::move(path), std::move(w),
                   completion<std::error_code, std::optional<stat>>(std::forward<Handler>(h), c->executor()));
  }
  template <class Handler>
  void get_children(std::string path, session::watcher w, Handler&& h) const {
    if (auto c = lock())
      start_get_children(c, std::move(path), std::move(w),
                         completion<std::error_code, children>(std::forward<Handler>(h), c->executor()));
  }
  template <class Handler>
  void set(std::string path, std::string data, std::int32_t version, Handler&& h) const {
    if (auto c = lock())
      start_set(c, std::move(path), std::move(data), version,
                completion<std::error_code, stat>(std::forward<Handler>(h), c->executor()));
  }
  template <class Handler>
  void remove(std::string path, std::int32_t version, Handler&& h, request_scope scope = {}) const {
    if (auto c = lock())
      start_remove(c, std::move(path), version, completion<std::error_code>(std::forward<Handler>(h), c->executor()),
                   std::move(scope));
  }
  // Deletes an ephemeral node of ours, only while it is provably ours
  // (start_owned_removal): a node left behind on a live session would block
  // whoever queues after it, and one deleted blindly may be a successor's.
  template <class Handler>
  void remove_owned(owned_node node, Handler&& h) const {
    if (auto c = lock())
      start_owned_removal(c, std::move(node), completion<std::error_code>(std::forward<Handler>(h), c->executor()));
  }
  // The same, for a caller that needs no answer (the session's orphan audit
  // retries a removal that gives up).
  void remove_owned(owned_node node) const {
    if (auto c = lock()) start_owned_removal(c, std::move(node), {});
  }
  template <class Handler>
  void multi(std::vector<operation> ops, Handler&& h, request_scope scope = {}) const {
    if (auto c = lock())
      start_multi(c, std::move(ops),
                  completion<std::error_code, std::vector<operation_result>>(std::forward<Handler>(h), c->executor()),
                  std::move(scope));
  }

  template <class Handler>
  void ensure_path(std::string path, Handler&& h) const {
    if (auto c = lock())
      start_ensure_path(c, std::move(path), completion<std::error_code>(std::forward<Handler>(h), c->executor()));
  }

 private:
  std::weak_ptr<session_core> core_;
};

}  // namespace nominee::detail
