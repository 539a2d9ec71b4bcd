#pragma once
// The pure logic of range leases: checking a space's config, sizing a
// consumer's next lease, and choosing where a grant comes from. No I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nominee/ranges.hpp>

namespace nominee::detail {

// Throws nominee::error (errc::invalid_option) naming the field and its
// value when the config cannot describe a space: lo >= hi, min_block 0,
// min_block > max_block, target_lease <= 0 or above max_target_lease. `prefix` names the struct
// ("range_consumer_options.config").
void require_valid_space(std::string_view prefix, const range_space_config& config);
// The longest target_lease accepted (longer ones would overflow the clock
// arithmetic on it, and a lease is asked for well before then anyway).
inline constexpr std::chrono::milliseconds max_target_lease{std::chrono::hours(24 * 365)};

// Half-open [lo, hi).
struct value_range {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::uint64_t size() const noexcept { return hi > lo ? hi - lo : 0; }
  bool empty() const noexcept { return hi <= lo; }
  friend bool operator==(const value_range&, const value_range&) = default;
};

// Within [min_block, max_block].
std::uint64_t clamp_block(std::uint64_t size, const range_space_config& config) noexcept;

// The block size after a lease was used up in `used`: doubled (up to
// max_block) when that took under half the target lifetime, else unchanged.
std::uint64_t size_after_use(std::uint64_t current, std::chrono::milliseconds used,
                             const range_space_config& config) noexcept;
// The block size after the consumer was idle for twice the target: halved
// (down to min_block).
std::uint64_t size_after_idle(std::uint64_t current, const range_space_config& config) noexcept;

// Where one grant of `block` values comes from: the lowest returned tail
// first (all of it, or its first `block` values), else fresh values from the
// cursor (up to the space's end). Empty `granted`: the space is used up.
struct grant_plan {
  value_range granted;
  std::optional<value_range> taken_free;      // the free range consumed (its node is deleted)
  std::optional<value_range> free_remainder;  // what is left of it (a new free node)
  std::optional<std::uint64_t> new_cursor;    // set when fresh values were granted
};
grant_plan plan_grant(std::uint64_t cursor, const std::vector<value_range>& free_ranges, std::uint64_t block,
                      const range_space_config& config);

}  // namespace nominee::detail
