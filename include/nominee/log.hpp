#pragma once
// The library's logger. The ZooKeeper C client's own log goes through it too.

#include <functional>
#include <string_view>

namespace nominee {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

std::string_view to_string(log_level level) noexcept;

// Receives every message at or above the configured level, from any thread:
// it must be thread-safe and quick.
using log_sink = std::function<void(log_level, std::string_view message)>;

// Process-wide, because the C client's log callback carries no context.
// The default sink writes "nominee <level>: <message>" lines to stderr.
void set_log_sink(log_sink sink);
void set_log_level(log_level level);
log_level current_log_level() noexcept;

void log(log_level level, std::string_view message);

}  // namespace nominee
