#pragma once
// History files, both sides: what a child process (nominee-contender,
// nominee-divider-member) appends, and how a checker (election_history.hpp,
// divider_history.hpp) reads it back.
//
// A history file is one line per event, "<ns> <member> <verb> [args...]",
// <ns> being std::chrono::steady_clock (CLOCK_MONOTONIC: comparable across
// processes on one machine) in nanoseconds since its epoch.
//
// The writing side is inline: bench/election.cmake builds nominee-contender
// from contender_main.cpp alone when the tests are off. The reading side is
// in history_file.cpp (part of nominee_election_history).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nominee::testing {

// steady_clock::now() in nanoseconds since its epoch: what history lines carry.
inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Text as one word of a history line: white space becomes '_', nothing
// becomes "-". (The tests' keys have no white space; one that had some
// would show, not break the line.)
inline std::string history_word(std::string text) {
  for (auto& c : text)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = '_';
  return text.empty() ? std::string("-") : text;
}

// Appends whole lines with one write(2) each: a kill -9 leaves no torn line,
// and the lines of a process that was killed are on disk already.
class history_writer {
 public:
  // `program` prefixes the message on stderr when a write fails.
  history_writer(const std::string& path, std::string member, std::string program)
      : member_(std::move(member)), program_(std::move(program)) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open history file " + path + ": " + std::strerror(errno));
  }
  ~history_writer() { ::close(fd_); }
  history_writer(const history_writer&) = delete;
  history_writer& operator=(const history_writer&) = delete;

  // "<now> <member> <words>". The time is taken under the lock, so the
  // file's lines are in time order.
  void write(const std::string& words) {
    std::lock_guard lock(mutex_);
    append(std::to_string(steady_now_ns()) + " " + member_ + " " + words + "\n");
  }
  // The same with a time taken earlier by the caller.
  void write_at(std::int64_t at_ns, const std::string& words) {
    auto line = std::to_string(at_ns) + " " + member_ + " " + words + "\n";
    std::lock_guard lock(mutex_);
    append(line);
  }

 private:
  void append(const std::string& line) {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      auto n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::cerr << program_ << ": history write failed: " << std::strerror(errno) << "\n";
        return;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

  std::string member_;
  std::string program_;
  int fd_ = -1;
  std::mutex mutex_;
};

// One line of a history file, without its newline.
struct history_line {
  std::string text;
  std::string origin;  // "file:line", for reports
};

struct history_lines {
  std::vector<history_line> lines;    // in file order, empty lines left out
  std::vector<std::string> problems;  // a missing file, a torn last line
};

// Splits a whole file into lines. A last line without its newline (a
// process killed mid-write) is a problem, not a line; so is a missing file.
history_lines read_history_lines(const std::filesystem::path& path);

// A whole file parsed line by line: parse_line(text, &problem) gives an
// optional event (with an `origin` member), Parsed has `events` and
// `problems`. Problems are in line order, a torn last line's last.
template <class Parsed, class ParseLine>
Parsed parse_history_lines(const std::filesystem::path& path, ParseLine parse_line) {
  Parsed out;
  auto file = read_history_lines(path);
  for (auto& l : file.lines) {
    std::string problem;
    auto e = parse_line(l.text, &problem);
    if (!e) {
      out.problems.push_back(l.origin + ": " + problem);
      continue;
    }
    e->origin = l.origin;
    out.events.push_back(std::move(*e));
  }
  out.problems.insert(out.problems.end(), file.problems.begin(), file.problems.end());
  return out;
}

// "<ns> <member> <verb> [args...]" split into its words.
struct history_fields {
  std::int64_t at_ns = 0;
  std::string member;
  std::string verb;
  std::vector<std::string> args;
};

// The fields of one line, or nullopt with *problem ("<why>: '<line>'").
std::optional<history_fields> split_history_line(const std::string& line, std::string* problem = nullptr);

// A whole decimal integer (no sign or space around it beyond what stoll takes).
bool parse_history_int(const std::string& text, std::int64_t& out);

// Nanoseconds as "12.345 ms", for reports.
std::string history_ms(std::int64_t ns);

}  // namespace nominee::testing
