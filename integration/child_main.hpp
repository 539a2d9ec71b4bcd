#pragma once
// What the child binaries of the multi-process tests (nominee-contender,
// nominee-divider-member) share besides their history file
// (history_file.hpp): dying with the parent, the signal mask, --flag value
// parsing, a stop flag to sleep on, and the keys the divider test numbers.
//
// Header-only: bench/election.cmake builds nominee-contender from
// contender_main.cpp alone when the tests are off.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace nominee::testing {

// A test or benchmark that dies (a timeout, a crash) takes its children
// along instead of leaving them running. False when the parent is gone
// already.
inline bool die_with_parent() {
  auto parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return ::getppid() == parent;
}

inline sigset_t signal_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

// Call before any thread exists, so that every thread inherits the mask and
// only a sigtimedwait on the same set sees these signals.
inline void block_signals(std::initializer_list<int> signals) {
  auto set = signal_set(signals);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// "--name value" pairs; take() each known one, then finish() rejects the rest.
class flag_values {
 public:
  flag_values(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string flag = argv[i];
      if (flag.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad argument '" + flag + "'");
      values_[flag.substr(2)] = argv[++i];
    }
  }

  // The value, or "" when absent and not required.
  std::string take(const char* name, bool required) {
    auto it = values_.find(name);
    if (it == values_.end()) {
      if (required) throw std::invalid_argument(std::string("--") + name + " is required");
      return std::string();
    }
    auto v = it->second;
    values_.erase(it);
    return v;
  }

  // An integer >= min, or `fallback` when absent and not required.
  long long number(const char* name, bool required, long long min, long long fallback = 0) {
    auto text = take(name, required);
    if (text.empty()) return fallback;
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || v < min)
      throw std::invalid_argument(std::string("--") + name + " '" + text + "' must be an integer >= " +
                                  std::to_string(min));
    return v;
  }

  void finish() const {
    if (!values_.empty()) throw std::invalid_argument("unknown option --" + values_.begin()->first);
  }

 private:
  std::map<std::string, std::string> values_;
};

// A member id goes into history lines as one word.
inline void check_member_id(const std::string& member) {
  if (member.find_first_of(" \t\n") != std::string::npos)
    throw std::invalid_argument("--member must not contain white space");
}

inline std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// key-000 .. key-<n-1>.
inline std::vector<std::string> numbered_keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "key-%03d", i);
    keys.emplace_back(buf);
  }
  return keys;
}

// Sleeps until a time or until stop is set; the sleeps return false when
// stopping.
class stop_signal {
 public:
  void set() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
  }
  bool stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }
  bool sleep_until(std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_until(lock, until, [&] { return stopping_; });
  }
  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_for(lock, d, [&] { return stopping_; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
};

// A child's main: dies with its parent, blocks `signals` before any thread
// exists, parses the arguments (exit 2 with the usage on a bad one), then
// runs (exit 1 on an exception, messages prefixed with `program`).
template <class Parse, class Run>
int child_main(int argc, char** argv, const char* program, const char* usage, std::initializer_list<int> signals,
               Parse parse, Run run) {
  if (!die_with_parent()) return 1;
  block_signals(signals);
  decltype(parse(argc, argv)) args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n" << usage;
    return 2;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace nominee::testing
