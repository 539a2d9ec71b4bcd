#include "zookeeper_handle.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <cstring>
#include <string_view>

#include <nominee/error.hpp>
#include <nominee/log.hpp>

#include "fault_injection.hpp"
#include "session_core.hpp"
#include "validate.hpp"

namespace nominee::detail {
namespace {

// While a server is down the C client repeats the same line every few tens
// of milliseconds. Each source line (function@line) speaks at most once per
// interval; the next one says how many were held back.
class repeat_limiter {
 public:
  // Returns -1 to drop the message, else how many were dropped before it.
  long admit(std::string_view source) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto& entry = sources_[std::string(source)];
    if (entry.last_emitted != std::chrono::steady_clock::time_point{} && now - entry.last_emitted < interval) {
      ++entry.dropped;
      return -1;
    }
    entry.last_emitted = now;
    return std::exchange(entry.dropped, 0);
  }

 private:
  static constexpr auto interval = std::chrono::seconds(10);
  struct source_state {
    std::chrono::steady_clock::time_point last_emitted{};
    long dropped = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, source_state> sources_;  // bounded: one per C source line
};

// The C client's log lines look like "date:pid(tid):ZOO_ERROR@function@line: text".
void c_client_log(const char* message) {
  static repeat_limiter limiter;
  std::string_view text(message);
  log_level level = log_level::info;
  auto at = text.find("ZOO_");
  if (text.find("ZOO_ERROR@") != std::string_view::npos) level = log_level::error;
  else if (text.find("ZOO_WARN@") != std::string_view::npos) level = log_level::warn;
  else if (text.find("ZOO_DEBUG@") != std::string_view::npos) level = log_level::debug;
  if (level < current_log_level()) return;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string_view source;
  if (at != std::string_view::npos) {
    auto body = text.substr(at);
    source = body.substr(0, body.find(": "));
  }
  long dropped = limiter.admit(source);
  if (dropped < 0) return;
  std::string line = "zookeeper client: ";
  line += text;
  if (dropped > 0) line += " (" + std::to_string(dropped) + " more like it in the last 10 s)";
  log(level, line);
}

ZooLogLevel to_zoo_level(log_level level) {
  switch (level) {
    case log_level::debug: return ZOO_LOG_LEVEL_DEBUG;
    case log_level::info: return ZOO_LOG_LEVEL_INFO;
    case log_level::warn: return ZOO_LOG_LEVEL_WARN;
    default: return ZOO_LOG_LEVEL_ERROR;
  }
}

// Runs on the C client's completion thread: only hand the event over.
void session_watcher(zhandle_t* zh, int type, int state, const char*, void*) {
  if (type != ZOO_SESSION_EVENT) return;  // node watches have their own watcher
  auto* handle = zookeeper_handle::from(zh);
  if (!handle) return;
  if (auto core = handle->core().lock()) core->post_session_state(handle->generation(), state);
}

}  // namespace

namespace {
std::atomic<int> open_handles{0};
}  // namespace

int zookeeper_handles_open() noexcept { return open_handles.load(); }

zookeeper_handle::zookeeper_handle(const session_options& options, std::uint64_t generation,
                                   std::weak_ptr<session_core> core)
    : generation_(generation),
      // Replies come within a round trip, or when the client gives up on the
      // connection (2/3 of the timeout): wait about that long, no longer.
      drain_limit_(std::min<std::chrono::milliseconds>(options.session_timeout, std::chrono::seconds(5))),
      core_(std::move(core)) {
  zoo_set_debug_level(to_zoo_level(current_log_level()));
  errno = 0;
  zh_ = zookeeper_init2(options.hosts.c_str(), session_watcher, static_cast<int>(options.session_timeout.count()),
                        nullptr, this, ZOO_NO_LOG_CLIENTENV, c_client_log);
  if (!zh_) {
    int err = errno ? errno : EINVAL;
    throw error(std::error_code(err, std::generic_category()),
                describe("ZooKeeper client refused hosts", options.hosts));
  }
  open_handles.fetch_add(1);
  if (!options.digest.empty()) {
    // The client keeps the credentials and sends them again on every reconnect.
    int rc = zoo_add_auth(zh_, "digest", options.digest.data(), static_cast<int>(options.digest.size()), nullptr,
                          nullptr);
    if (rc != ZOK) log(log_level::error, std::string("zoo_add_auth failed: ") + zerror(rc));
  }
}

zookeeper_handle::~zookeeper_handle() { close(); }

bool zookeeper_handle::begin_call(void* context, abandon_fn abandon) {
  std::lock_guard lock(calls_mutex_);
  if (closing_) return false;
  calls_.emplace(context, abandon);
  return true;
}

void zookeeper_handle::end_call(void* context) {
  std::lock_guard lock(calls_mutex_);
  calls_.erase(context);
  if (calls_.empty()) drained_.notify_all();
}

void zookeeper_handle::close() {
  std::unordered_map<void*, abandon_fn> orphans;
  {
    std::unique_lock lock(calls_mutex_);
    if (closing_) return;
    closing_ = true;
    drained_.wait_for(lock, drain_limit_, [this] { return calls_.empty(); });
  }
  {
    std::unique_lock sending(send_mutex_);  // waits out a sender inside send_call
    if (zh_) {
      zookeeper_close(zh_);
      open_handles.fetch_sub(1);
    }
    zh_ = nullptr;
  }
  {
    // The client's threads are gone: nothing answers these any more.
    std::lock_guard lock(calls_mutex_);
    orphans.swap(calls_);
  }
  for (auto& [context, abandon] : orphans) abandon(context);
}

void zookeeper_handle::stall_send() noexcept { fault_injection::stall_send(); }

zookeeper_handle::identity zookeeper_handle::session_identity() const {
  std::shared_lock lock(send_mutex_);
  identity out;
  if (!zh_) return out;
  if (const clientid_t* id = zoo_client_id(zh_)) {
    out.session_id = id->client_id;
    out.password.assign(id->passwd, sizeof(id->passwd));
  }
  out.timeout = std::chrono::milliseconds(zoo_recv_timeout(zh_));
  return out;
}

std::string zookeeper_handle::current_server() const {
  std::shared_lock lock(send_mutex_);
  if (!zh_) return {};
  const char* server = zoo_get_current_server(zh_);
  return server ? std::string(server) : std::string();
}

zookeeper_handle* zookeeper_handle::from(zhandle_t* zh) noexcept {
  return zh ? static_cast<zookeeper_handle*>(const_cast<void*>(zoo_get_context(zh))) : nullptr;
}

std::error_code to_error(int rc) noexcept {
  if (rc == ZOK) return {};
  return {rc, error_category()};
}

nominee::stat to_stat(const struct Stat& s) noexcept {
  nominee::stat out;
  out.czxid = s.czxid;
  out.mzxid = s.mzxid;
  out.pzxid = s.pzxid;
  out.ctime_ms = s.ctime;
  out.mtime_ms = s.mtime;
  out.version = s.version;
  out.cversion = s.cversion;
  out.aversion = s.aversion;
  out.ephemeral_owner = s.ephemeralOwner;
  out.data_length = s.dataLength;
  out.num_children = s.numChildren;
  return out;
}

int to_zoo_mode(create_mode mode) noexcept {
  switch (mode) {
    case create_mode::persistent: return ZOO_PERSISTENT;
    case create_mode::ephemeral: return ZOO_EPHEMERAL;
    case create_mode::persistent_sequential: return ZOO_PERSISTENT_SEQUENTIAL;
    case create_mode::ephemeral_sequential: return ZOO_EPHEMERAL_SEQUENTIAL;
    case create_mode::container: return ZOO_CONTAINER;
    case create_mode::persistent_with_ttl: return ZOO_PERSISTENT_WITH_TTL;
    case create_mode::persistent_sequential_with_ttl: return ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL;
  }
  return ZOO_PERSISTENT;
}

bool is_ttl_mode(create_mode mode) noexcept {
  return mode == create_mode::persistent_with_ttl || mode == create_mode::persistent_sequential_with_ttl;
}

bool is_sequential_mode(create_mode mode) noexcept {
  return mode == create_mode::persistent_sequential || mode == create_mode::ephemeral_sequential ||
         mode == create_mode::persistent_sequential_with_ttl;
}

watch_event_type to_watch_event_type(int type) noexcept {
  if (type == ZOO_CREATED_EVENT) return watch_event_type::created;
  if (type == ZOO_DELETED_EVENT) return watch_event_type::deleted;
  if (type == ZOO_CHANGED_EVENT) return watch_event_type::data_changed;
  if (type == ZOO_CHILD_EVENT) return watch_event_type::children_changed;
  return watch_event_type::session_lost;  // ZOO_NOTWATCHING_EVENT: the watch is gone
}

zoo_acl::zoo_acl(const acl& entries) : entries_(entries) {
  items_.reserve(entries_.size());
  for (auto& e : entries_) items_.push_back(ACL{e.perms, Id{e.scheme.data(), e.id.data()}});
  vector_.count = static_cast<std::int32_t>(items_.size());
  vector_.data = items_.data();
}

}  // namespace nominee::detail
