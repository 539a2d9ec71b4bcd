#include "backoff.hpp"

#include <algorithm>

namespace nominee::detail {

std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt, std::mt19937_64& random) {
  using rep = std::chrono::milliseconds::rep;
  rep ceiling = policy.initial_delay.count();
  // Doubling stops at max_delay, so the shift never overflows.
  for (int i = 0; i < attempt && ceiling < policy.max_delay.count(); ++i) ceiling *= 2;
  ceiling = std::min<rep>(std::max<rep>(ceiling, 0), policy.max_delay.count());
  std::uniform_int_distribution<rep> pick(0, ceiling);
  return std::chrono::milliseconds(pick(random));
}

}  // namespace nominee::detail
