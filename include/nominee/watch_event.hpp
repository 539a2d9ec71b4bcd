#pragma once
// One-shot watch notifications, as nominee delivers them.

#include <string>
#include <string_view>

namespace nominee {

enum class watch_event_type {
  created,           // exists() watch: the node appeared
  deleted,           // the node was deleted
  data_changed,      // the node's data was set
  children_changed,  // a child was created or deleted
  // The watch will never fire: its session expired or was closed. Re-read
  // (and re-arm) on the session that follows.
  session_lost,
};

std::string_view to_string(watch_event_type type) noexcept;

struct watch_event {
  watch_event_type type;
  std::string path;
};

}  // namespace nominee
