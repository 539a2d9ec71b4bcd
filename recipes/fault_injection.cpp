#include "fault_injection.hpp"

#include <atomic>

namespace nominee::detail::fault_injection {
namespace {
std::atomic<int> lost_create_replies{0};
std::atomic<int> lost_set_replies{0};

bool take_one(std::atomic<int>& counter) noexcept {
  int pending = counter.load();
  while (pending > 0)
    if (counter.compare_exchange_weak(pending, pending - 1)) return true;
  return false;
}
}  // namespace

void lose_create_replies(int n) noexcept { lost_create_replies.store(n); }
bool take_lost_create_reply() noexcept { return take_one(lost_create_replies); }

void lose_set_replies(int n) noexcept { lost_set_replies.store(n); }
bool take_lost_set_reply() noexcept { return take_one(lost_set_replies); }

}  // namespace nominee::detail::fault_injection
