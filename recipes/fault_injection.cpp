#include "fault_injection.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace nominee::detail::fault_injection {
namespace {
std::atomic<int> lost_create_replies{0};
std::atomic<int> lost_set_replies{0};
std::atomic<int> lost_delete_replies{0};
std::atomic<int> lost_multi_replies{0};
std::atomic<int> refused_requests{0};
std::atomic<int> handle_publication_delay_ms{0};
std::atomic<int> sends_to_stall{0};
std::atomic<int> send_stall_ms{0};
std::atomic<int> senders_stalling{0};
std::atomic<long> replies_seen{0};
std::atomic<long> reply_to_lose{-1};  // -1: not counting

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

void lose_delete_replies(int n) noexcept { lost_delete_replies.store(n); }
bool take_lost_delete_reply() noexcept { return take_one(lost_delete_replies); }

void lose_multi_replies(int n) noexcept { lost_multi_replies.store(n); }
bool take_lost_multi_reply() noexcept { return take_one(lost_multi_replies); }

void lose_reply_number(long n) noexcept {
  replies_seen.store(0);
  reply_to_lose.store(n);
}
bool take_numbered_reply() noexcept {
  long target = reply_to_lose.load();
  if (target < 0) return false;
  return ++replies_seen == target;
}
long replies_counted() noexcept { return replies_seen.load(); }

void refuse_requests(int n) noexcept { refused_requests.store(n); }
bool take_refused_request() noexcept { return take_one(refused_requests); }

void delay_handle_publication_by(int milliseconds) noexcept { handle_publication_delay_ms.store(milliseconds); }
void delay_handle_publication() noexcept {
  if (int ms = handle_publication_delay_ms.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void stall_sends(int n, int milliseconds) noexcept {
  send_stall_ms.store(milliseconds);
  sends_to_stall.store(n);
}
void stall_send() noexcept {
  if (!take_one(sends_to_stall)) return;
  senders_stalling.fetch_add(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(send_stall_ms.load()));
  senders_stalling.fetch_sub(1);
}
int sends_stalling() noexcept { return senders_stalling.load(); }

}  // namespace nominee::detail::fault_injection
