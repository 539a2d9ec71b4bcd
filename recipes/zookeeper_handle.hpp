#pragma once
// One zhandle_t and the conversions between the C client and nominee's
// types. The only internal header that includes zookeeper.h.

#include <zookeeper/zookeeper.h>

#include <cstdint>
#include <memory>
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

  zhandle_t* get() const noexcept { return zh_; }
  std::uint64_t generation() const noexcept { return generation_; }
  const std::weak_ptr<session_core>& core() const noexcept { return core_; }

  // The handle behind a zhandle_t seen in a C callback.
  static zookeeper_handle* from(zhandle_t* zh) noexcept;

 private:
  zhandle_t* zh_ = nullptr;
  std::uint64_t generation_;
  std::weak_ptr<session_core> core_;
};

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
