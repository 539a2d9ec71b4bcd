#pragma once
// Exponential backoff with full jitter (the AWS architecture blog's
// "full jitter"): spreads retries of many clients after a shared failure.

#include <chrono>
#include <random>

#include <nominee/session_options.hpp>

namespace nominee::detail {

// Delay before retry number `attempt` (0 = the first retry): uniform in
// [0, min(max_delay, initial_delay * 2^attempt)].
std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt, std::mt19937_64& random);

}  // namespace nominee::detail
