#pragma once
// What the watch layer's objects share: their callback runs under a mutex
// that the owner's destructor also takes, so once the destructor returns
// the callback never runs again. (A destructor called from inside the
// callback only marks it stopped: it cannot wait for itself.)

#include <atomic>
#include <mutex>
#include <thread>

namespace nominee::detail {

class callback_gate {
 public:
  // Runs f unless closed. Returns false if closed.
  template <class F>
  bool run(F&& f) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    running_thread_.store(std::this_thread::get_id());
    f();
    running_thread_.store(std::thread::id());
    return true;
  }

  void close() {
    if (running_thread_.load() == std::this_thread::get_id()) {
      closed_ = true;  // we hold the mutex already: inside the callback
      return;
    }
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

  bool closed() const {
    if (running_thread_.load() == std::this_thread::get_id()) return closed_;
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  bool closed_ = false;
  std::atomic<std::thread::id> running_thread_{};
};

}  // namespace nominee::detail
