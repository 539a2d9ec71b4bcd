#pragma once
// One zhandle_t and the conversions between the C client and nominee's
// types. The only internal header that includes zookeeper.h.

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <string>
#include <system_error>
#include <vector>

#include <nominee/acl.hpp>
#include <nominee/operations.hpp>
#include <nominee/session_options.hpp>
#include <nominee/stat.hpp>
#include <nominee/watch_event.hpp>

namespace nominee::detail {

class session_core;

// Owns a zhandle_t. Closing blocks (the C client joins its threads), so the
// last reference is dropped where blocking is fine: close() or a closer thread.
class zookeeper_handle {
 public:
  // zookeeper_init2 with the session watcher; throws nominee::error if the
  // client refuses (it resolves the hosts here).
  zookeeper_handle(const session_options& options, std::uint64_t generation, std::weak_ptr<session_core> core);
  ~zookeeper_handle();
  zookeeper_handle(const zookeeper_handle&) = delete;
  zookeeper_handle& operator=(const zookeeper_handle&) = delete;

  // Requests the C client holds and has not answered yet. zookeeper_close
  // can drop the replies of requests still in flight (it queues ZCLOSING
  // replies, but its completion thread may exit before running them): their
  // memory leaks and their callers never hear back. So a sender registers
  // each call's context first (false: the handle is closing, send nothing),
  // the reply trampoline (or a refused send) unregisters it, and close()
  // waits for them to drain, within a bound, before zookeeper_close.
  // Contexts still registered after the close are handed to `abandon`.
  using abandon_fn = void (*)(void* context);
  void end_call(void* context);
  // Registers `context` and runs send(zh) (a zoo_a* call), under a shared
  // lock that close() holds exclusively around zookeeper_close: a sender
  // that stalls between registering and sending (a preempted thread) holds
  // the close back instead of sending on a freed handle. ZINVALIDSTATE, with
  // nothing sent, once the handle is closing. Never call it from the C
  // client's completion thread, which zookeeper_close joins.
  template <class Send>
  int send_call(void* context, abandon_fn abandon, Send&& send) {
    std::shared_lock lock(send_mutex_);
    if (!zh_ || !begin_call(context, abandon)) return ZINVALIDSTATE;
    stall_send();
    return send(zh_);
  }
  // The C client's view of the session, read under the same lock: {} once closed.
  struct identity {
    std::int64_t session_id = 0;
    std::string password;
    std::chrono::milliseconds timeout{0};
  };
  identity session_identity() const;
  std::string current_server() const;
  // Idempotent; blocks (the C client joins its threads): never on a strand.
  void close();
  std::uint64_t generation() const noexcept { return generation_; }
  // The server answered a request sent at `sent` on this handle: its
  // session was alive when the server read it, so it cannot expire before
  // sent + the session timeout. Called on the C client's completion thread,
  // so a busy strand does not make a live session look silent.
  void note_answer(std::chrono::steady_clock::time_point sent) noexcept {
    auto ns = sent.time_since_epoch().count();
    auto seen = answered_sent_ns_.load(std::memory_order_relaxed);
    while (ns > seen && !answered_sent_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }
  // When the newest answered request was sent (0: none yet).
  std::chrono::steady_clock::rep answered_sent_ns() const noexcept {
    return answered_sent_ns_.load(std::memory_order_relaxed);
  }
  const std::weak_ptr<session_core>& core() const noexcept { return core_; }

  // The handle behind a zhandle_t seen in a C callback.
  static zookeeper_handle* from(zhandle_t* zh) noexcept;

 private:
  bool begin_call(void* context, abandon_fn abandon);
  static void stall_send() noexcept;  // the test-only hook, between registering and sending

  mutable std::shared_mutex send_mutex_;  // shared: a send in progress; exclusive: zookeeper_close
  zhandle_t* zh_ = nullptr;
  std::uint64_t generation_;
  std::atomic<std::chrono::steady_clock::rep> answered_sent_ns_{0};
  std::chrono::milliseconds drain_limit_;
  std::mutex calls_mutex_;
  std::condition_variable drained_;
  bool closing_ = false;
  std::unordered_map<void*, abandon_fn> calls_;
  std::weak_ptr<session_core> core_;
};

// Handles opened and not yet closed, process-wide. The integration suites
// check it is 0 at exit: LeakSanitizer is told to ignore allocations inside
// the C client (scripts/sanitizers/lsan.supp), so this is what still
// catches a handle we forgot to close.
int zookeeper_handles_open() noexcept;

std::error_code to_error(int zoo_rc) noexcept;
nominee::stat to_stat(const struct Stat& s) noexcept;
int to_zoo_mode(create_mode mode) noexcept;
bool is_ttl_mode(create_mode mode) noexcept;
bool is_sequential_mode(create_mode mode) noexcept;
watch_event_type to_watch_event_type(int zoo_type) noexcept;

// An ACL in the C client's shape; the strings it points to live inside it.
class zoo_acl {
 public:
  explicit zoo_acl(const acl& entries);
  zoo_acl(const zoo_acl&) = delete;
  zoo_acl& operator=(const zoo_acl&) = delete;
  const ACL_vector* get() const noexcept { return &vector_; }

 private:
  acl entries_;
  std::vector<ACL> items_;
  ACL_vector vector_{};
};

}  // namespace nominee::detail
