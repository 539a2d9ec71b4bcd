#pragma once
// A distributed mutex (the lock manager of a multi-master design), on the
// same mechanism as election: protected ephemeral-sequential nodes under
// /<root>/locks/<name>/, lowest holds, waiters watch only their predecessor,
// the holder's token is its node's czxid (fencing).
//
// The suspension rule applies: on a lost connection, a lapsed lease, an
// expiry or a deleted node the lock is gone, on_lost says why, and it is
// not taken again behind the caller's back: lock again to wait anew.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/election.hpp>
#include <nominee/session.hpp>

namespace nominee {

struct lock_options {
  std::string root = "/nominee";
  std::string name;      // one znode name, e.g. "inventory"
  std::string owner_id;  // who holds it, as others see it (free text, may be empty)
};

namespace detail {
class lock_core;
}

class distributed_lock {
 public:
  using lost_callback = std::function<void(revoke_reason)>;

  // Validates (throws nominee::error naming the bad field); takes nothing yet.
  // on_lost runs on a strand of the session's executor.
  distributed_lock(session& s, lock_options options, lost_callback on_lost = {});
  // Releases the lock (or stops waiting); pending lock requests complete
  // with operation_canceled.
  ~distributed_lock();
  distributed_lock(const distributed_lock&) = delete;
  distributed_lock& operator=(const distributed_lock&) = delete;

  // Completes with the fencing token once held. One request at a time
  // (another pending one gives errc::in_progress).
  template <class Token>
  auto async_lock(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::int64_t)>(
        [this](auto handler) { start_lock(std::nullopt, completion(std::move(handler), executor())); }, token);
  }
  // The same, but gives up after timeout with errc::deadline_exceeded (and
  // leaves the queue).
  template <class Token>
  auto async_try_lock(std::chrono::milliseconds timeout, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::int64_t)>(
        [this](auto handler, std::chrono::milliseconds t) {
          start_lock(t, completion(std::move(handler), executor()));
        },
        token, timeout);
  }

  // Releases the lock, or cancels a pending request (operation_canceled).
  void unlock();
  bool held() const;
  std::optional<std::int64_t> token() const;

  using completion = detail::completion<std::error_code, std::int64_t>;

 private:
  boost::asio::any_io_executor executor() const;
  void start_lock(std::optional<std::chrono::milliseconds> timeout, completion done);

  std::shared_ptr<detail::lock_core> core_;
};

}  // namespace nominee
