#include "zookeeper_handle.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

#include <nominee/error.hpp>
#include <nominee/log.hpp>

#include "session_core.hpp"
#include "validate.hpp"

namespace nominee::detail {
namespace {

// The C client's log lines look like "...:ZOO_ERROR@function@line: text".
void c_client_log(const char* message) {
  std::string_view text(message);
  log_level level = log_level::info;
  if (text.find("ZOO_ERROR@") != std::string_view::npos) level = log_level::error;
  else if (text.find("ZOO_WARN@") != std::string_view::npos) level = log_level::warn;
  else if (text.find("ZOO_DEBUG@") != std::string_view::npos) level = log_level::debug;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string line = "zookeeper client: ";
  line += text;
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

zookeeper_handle::zookeeper_handle(const session_options& options, std::uint64_t generation,
                                   std::weak_ptr<session_core> core)
    : generation_(generation), core_(std::move(core)) {
  zoo_set_debug_level(to_zoo_level(current_log_level()));
  errno = 0;
  zh_ = zookeeper_init2(options.hosts.c_str(), session_watcher, static_cast<int>(options.session_timeout.count()),
                        nullptr, this, ZOO_NO_LOG_CLIENTENV, c_client_log);
  if (!zh_) {
    int err = errno ? errno : EINVAL;
    throw error(std::error_code(err, std::generic_category()),
                describe("ZooKeeper client refused hosts", options.hosts));
  }
  if (!options.digest.empty()) {
    // The client keeps the credentials and sends them again on every reconnect.
    int rc = zoo_add_auth(zh_, "digest", options.digest.data(), static_cast<int>(options.digest.size()), nullptr,
                          nullptr);
    if (rc != ZOK) log(log_level::error, std::string("zoo_add_auth failed: ") + zerror(rc));
  }
}

zookeeper_handle::~zookeeper_handle() {
  if (zh_) zookeeper_close(zh_);
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
