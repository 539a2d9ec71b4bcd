#include <nominee/log.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace nominee {
namespace {

void stderr_sink(log_level level, std::string_view message) {
  std::string line = "nominee ";
  line += to_string(level);
  line += ": ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines from threads do not interleave
}

std::mutex sink_mutex;
std::shared_ptr<const log_sink> current_sink = std::make_shared<const log_sink>(stderr_sink);
std::atomic<log_level> threshold{log_level::warn};

}  // namespace

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    case log_level::off: return "off";
  }
  return "?";
}

void set_log_sink(log_sink sink) {
  auto next = std::make_shared<const log_sink>(sink ? std::move(sink) : log_sink(stderr_sink));
  std::lock_guard lock(sink_mutex);
  current_sink = std::move(next);
}

void set_log_level(log_level level) { threshold.store(level, std::memory_order_relaxed); }

log_level current_log_level() noexcept { return threshold.load(std::memory_order_relaxed); }

void log(log_level level, std::string_view message) {
  if (level < current_log_level() || level == log_level::off) return;
  std::shared_ptr<const log_sink> sink;
  {
    std::lock_guard lock(sink_mutex);
    sink = current_sink;
  }
  (*sink)(level, message);
}

}  // namespace nominee
