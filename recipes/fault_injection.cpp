#include "fault_injection.hpp"

#include <atomic>

namespace nominee::detail::fault_injection {
namespace {
std::atomic<int> lost_create_replies{0};
}

void lose_create_replies(int n) noexcept { lost_create_replies.store(n); }

bool take_lost_create_reply() noexcept {
  int pending = lost_create_replies.load();
  while (pending > 0)
    if (lost_create_replies.compare_exchange_weak(pending, pending - 1)) return true;
  return false;
}

}  // namespace nominee::detail::fault_injection
