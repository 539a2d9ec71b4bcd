#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace nominee::testing {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

scratch_dir::scratch_dir(const std::string& name, std::string kept) : kept_(std::move(kept)) {
  std::string pattern = (fs::temp_directory_path() / ("nominee-" + name + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

scratch_dir::~scratch_dir() {
  if (::testing::Test::HasFailure() || std::getenv("NOMINEE_KEEP_HISTORIES")) {
    std::cerr << kept_ << " kept in " << path_ << "\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void child_process::spawn(std::vector<std::string> args, const fs::path& log,
                          std::initializer_list<int> default_signals) {
  if (pid_ > 0) throw std::logic_error(args.at(0) + " is running already");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  auto log_path = log.string();
  posix_spawn_file_actions_addopen(&files, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : default_signals) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &files, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  pid_ = pid;
}

void child_process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}
void child_process::kill() const { signal(SIGKILL); }
void child_process::terminate() const { signal(SIGTERM); }
void child_process::stop() const { signal(SIGSTOP); }
void child_process::resume() const { signal(SIGCONT); }

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return last_status_;
  auto deadline = steady::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      last_status_ = status;
      return status;
    }
    if (steady::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool poll_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period) {
  auto deadline = steady::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (steady::now() >= deadline) return cond();
    std::this_thread::sleep_for(period);
  }
}

std::string file_tail(const fs::path& path, std::size_t max_chars) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_chars ? text.substr(text.size() - max_chars) : text;
}

void write_fault_log(const fs::path& path, const std::vector<fault>& faults) {
  std::ofstream out(path);
  for (auto& f : faults) out << f.at_ns << " " << to_string(f.kind) << " " << f.member << " " << f.detail << "\n";
}

}  // namespace nominee::testing
