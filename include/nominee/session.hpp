#pragma once
// nominee::session: one ZooKeeper session, every call asynchronous.
//
// Each operation takes a Boost.Asio completion token: a callback, use_future,
// or a callback bound to a strand all work. Completions never run on the
// ZooKeeper C client's threads: they are posted to the handler's associated
// executor (the session's executor when it has none). Every operation has a
// deadline (session_options::operation_timeout), retries included.
//
// Reads (get, exists, get_children) retry retriable errors with backoff and
// jitter, across reconnects and session expiry. Writes do not retry: after a
// connection loss their outcome is unknown, and the error says so
// (is_connection_loss). Creates that must survive that ambiguity use
// async_create_protected, which finds its own node after a loss.
//
// When the server expires the session, the session tells its listeners
// (expired), opens a fresh one by itself (connecting, connected) and recipes
// rebuild on it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/error.hpp>
#include <nominee/operations.hpp>
#include <nominee/session_options.hpp>
#include <nominee/session_state.hpp>
#include <nominee/session_statistics.hpp>
#include <nominee/stat.hpp>
#include <nominee/watch_event.hpp>

namespace nominee {

namespace detail {
class session_core;
struct owned_io;
class session_access;
}

// Binds a write to one session (a session_id() value): it is sent only on
// that session, and fails with errc::session_expired once it is gone. The
// default, 0, binds nothing.
struct on_session {
  std::int64_t id = 0;
};

class session {
 public:
  using executor_type = boost::asio::any_io_executor;
  // A one-shot watch callback. Called exactly once, on the session's
  // executor: with the event, or with session_lost if the session expires or
  // closes first. Never called if the operation that set it failed.
  using watcher = std::function<void(const watch_event&)>;
  using listener = std::function<void(const session_event&)>;
  using listener_id = std::uint64_t;

  // Validates the options (throws nominee::error naming the bad value) and
  // starts connecting. Does not wait for the connection: see wait_connected.
  session(executor_type executor, session_options options);
  // The same, with an I/O thread of the session's own running the executor.
  explicit session(session_options options);
  // Closes the session: its ephemeral nodes go at once.
  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  executor_type get_executor() const noexcept;
  const session_options& options() const noexcept;

  session_state state() const;
  std::int64_t session_id() const;
  // The session's 16-byte password (with session_id, what reattaches to it).
  std::string session_password() const;
  std::chrono::milliseconds negotiated_timeout() const;
  // "host:port" of the server this session is connected to, or "".
  std::string current_server() const;
  // Latency and failures of every operation so far (a snapshot).
  session_statistics statistics() const;

  // Listeners are called in order, on the session's executor, for every
  // state change from now on.
  listener_id add_listener(listener on_event);
  void remove_listener(listener_id id);

  // Ends the session (terminal). Operations in flight fail with
  // session_closed or closing; pending watches get session_lost.
  void close();

  // Completes once the session is connected (or reconnected), or with
  // deadline_exceeded, auth_failed or session_closed.
  template <class Token>
  auto async_wait_connected(std::chrono::milliseconds timeout, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::chrono::milliseconds t) {
          start_wait_connected(t, detail::completion<std::error_code>(std::move(handler), get_executor()));
        },
        token, timeout);
  }
  // Blocks until connected; throws nominee::error naming the hosts otherwise.
  // Do not call it from a thread that runs the session's executor.
  void wait_connected(std::chrono::milliseconds timeout);

  template <class Token>
  auto async_create(std::string path, std::string data, create_options options, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, created_node)>(
        [this](auto handler, std::string p, std::string d, create_options o) {
          start_create(std::move(p), std::move(d), std::move(o), false,
                       created_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(data), std::move(options));
  }

  // Creates "<parent>/_c_<uuid>-<name>" (Curator's protected name). After a
  // connection loss it lists the parent to find its own node instead of
  // creating a second one. Sequential modes work as usual.
  template <class Token>
  auto async_create_protected(std::string path, std::string data, create_options options, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, created_node)>(
        [this](auto handler, std::string p, std::string d, create_options o) {
          start_create(std::move(p), std::move(d), std::move(o), true,
                       created_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(data), std::move(options));
  }

  template <class Token>
  auto async_get(std::string path, Token&& token) {
    return async_get(std::move(path), watcher{}, std::forward<Token>(token));
  }
  template <class Token>
  auto async_get(std::string path, watcher on_change, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, node)>(
        [this](auto handler, std::string p, watcher w) {
          start_get(std::move(p), std::move(w), node_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(on_change));
  }

  // A node that does not exist is not an error: the stat is empty.
  template <class Token>
  auto async_exists(std::string path, Token&& token) {
    return async_exists(std::move(path), watcher{}, std::forward<Token>(token));
  }
  template <class Token>
  auto async_exists(std::string path, watcher on_change, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::optional<stat>)>(
        [this](auto handler, std::string p, watcher w) {
          start_exists(std::move(p), std::move(w), exists_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(on_change));
  }

  template <class Token>
  auto async_get_children(std::string path, Token&& token) {
    return async_get_children(std::move(path), watcher{}, std::forward<Token>(token));
  }
  template <class Token>
  auto async_get_children(std::string path, watcher on_change, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, children)>(
        [this](auto handler, std::string p, watcher w) {
          start_get_children(std::move(p), std::move(w),
                             children_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(on_change));
  }

  template <class Token>
  auto async_set(std::string path, std::string data, std::int32_t version, Token&& token) {
    return async_set(std::move(path), std::move(data), version, on_session{}, std::forward<Token>(token));
  }
  // A write that belongs to one session (say, an owner's fenced write under
  // its lease: key_lease::session_id): sent only while that session is the
  // current one, and never resent on a later session after a connection
  // loss. Once the session is gone it fails with errc::session_expired.
  template <class Token>
  auto async_set(std::string path, std::string data, std::int32_t version, on_session bound, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, stat)>(
        [this](auto handler, std::string p, std::string d, std::int32_t v, on_session b) {
          start_set(std::move(p), std::move(d), v, b.id, stat_completion(std::move(handler), get_executor()));
        },
        token, std::move(path), std::move(data), version, bound);
  }

  template <class Token>
  auto async_remove(std::string path, std::int32_t version, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::string p, std::int32_t v) {
          start_remove(std::move(p), v, detail::completion<std::error_code>(std::move(handler), get_executor()));
        },
        token, std::move(path), version);
  }

  // All or nothing, at most max_multi_operations at once. On failure the
  // results say which operation failed.
  template <class Token>
  auto async_multi(std::vector<operation> operations, Token&& token) {
    return async_multi(std::move(operations), on_session{}, std::forward<Token>(token));
  }
  // Bound to one session, like async_set(..., on_session, token).
  template <class Token>
  auto async_multi(std::vector<operation> operations, on_session bound, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::vector<operation_result>)>(
        [this](auto handler, std::vector<operation> ops, on_session b) {
          start_multi(std::move(ops), b.id, multi_completion(std::move(handler), get_executor()));
        },
        token, std::move(operations), bound);
  }

  // Creates every missing node on the way to path (persistent, empty).
  template <class Token>
  auto async_ensure_path(std::string path, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::string p) {
          start_ensure_path(std::move(p), detail::completion<std::error_code>(std::move(handler), get_executor()));
        },
        token, std::move(path));
  }

 private:
  friend class detail::session_access;  // the recipes' weak link to the core

  using created_completion = detail::completion<std::error_code, created_node>;
  using node_completion = detail::completion<std::error_code, node>;
  using exists_completion = detail::completion<std::error_code, std::optional<stat>>;
  using children_completion = detail::completion<std::error_code, children>;
  using stat_completion = detail::completion<std::error_code, stat>;
  using multi_completion = detail::completion<std::error_code, std::vector<operation_result>>;

  void start_wait_connected(std::chrono::milliseconds timeout, detail::completion<std::error_code> done);
  void start_create(std::string path, std::string data, create_options options, bool protect,
                    created_completion done);
  void start_get(std::string path, watcher on_change, node_completion done);
  void start_exists(std::string path, watcher on_change, exists_completion done);
  void start_get_children(std::string path, watcher on_change, children_completion done);
  void start_set(std::string path, std::string data, std::int32_t version, std::int64_t on_session,
                 stat_completion done);
  void start_remove(std::string path, std::int32_t version, detail::completion<std::error_code> done);
  void start_multi(std::vector<operation> operations, std::int64_t on_session, multi_completion done);
  void start_ensure_path(std::string path, detail::completion<std::error_code> done);

  // Only for session(options): the I/O thread and its io_context. The thread
  // holds a reference too, so a session destroyed from a handler on that
  // thread never destroys the io_context from inside its own run().
  std::shared_ptr<detail::owned_io> io_;
  std::shared_ptr<detail::session_core> core_;
};

}  // namespace nominee
