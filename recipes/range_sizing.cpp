#include "range_sizing.hpp"

#include <algorithm>
#include <string>

#include <nominee/error.hpp>

namespace nominee::detail {

namespace {
[[noreturn]] void bad(std::string_view prefix, const char* field, const std::string& value, const char* why) {
  throw error(errc::invalid_option,
              std::string(prefix) + "." + field + " '" + value + "': " + why);
}
}  // namespace

void require_valid_space(std::string_view prefix, const range_space_config& c) {
  if (c.lo >= c.hi)
    bad(prefix, "lo", std::to_string(c.lo), ("must be below hi (" + std::to_string(c.hi) + "): the space is empty").c_str());
  if (c.min_block == 0) bad(prefix, "min_block", "0", "must be at least 1");
  if (c.min_block > c.max_block)
    bad(prefix, "min_block", std::to_string(c.min_block),
        ("must not exceed max_block (" + std::to_string(c.max_block) + ")").c_str());
  if (c.target_lease.count() <= 0)
    bad(prefix, "target_lease", std::to_string(c.target_lease.count()) + " ms", "must be positive");
  if (c.target_lease > max_target_lease)
    bad(prefix, "target_lease", std::to_string(c.target_lease.count()) + " ms",
        ("must not exceed " + std::to_string(max_target_lease.count()) + " ms (365 days)").c_str());
}

std::uint64_t clamp_block(std::uint64_t size, const range_space_config& c) noexcept {
  return std::clamp(size, c.min_block, std::max(c.min_block, c.max_block));
}

std::uint64_t size_after_use(std::uint64_t current, std::chrono::milliseconds used,
                             const range_space_config& c) noexcept {
  current = clamp_block(current, c);
  if (used.count() >= 0 && used * 2 < c.target_lease) {
    // Doubling, without overflow.
    auto doubled = current > c.max_block / 2 ? c.max_block : current * 2;
    return clamp_block(doubled, c);
  }
  return current;
}

std::uint64_t size_after_idle(std::uint64_t current, const range_space_config& c) noexcept {
  return clamp_block(clamp_block(current, c) / 2, c);
}

grant_plan plan_grant(std::uint64_t cursor, const std::vector<value_range>& free_ranges, std::uint64_t block,
                      const range_space_config& c) {
  grant_plan plan;
  block = clamp_block(block, c);
  const value_range* lowest = nullptr;
  for (const auto& f : free_ranges)
    if (!f.empty() && f.lo >= c.lo && f.hi <= c.hi && (!lowest || f.lo < lowest->lo)) lowest = &f;
  if (lowest) {
    plan.taken_free = *lowest;
    auto take = std::min(block, lowest->size());
    plan.granted = {lowest->lo, lowest->lo + take};
    if (take < lowest->size()) plan.free_remainder = value_range{lowest->lo + take, lowest->hi};
    return plan;
  }
  cursor = std::max(cursor, c.lo);
  if (cursor >= c.hi) return plan;  // used up
  auto take = std::min(block, c.hi - cursor);
  plan.granted = {cursor, cursor + take};
  plan.new_cursor = cursor + take;
  return plan;
}

}  // namespace nominee::detail
