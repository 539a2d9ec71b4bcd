#pragma once
// Input checks that run before anything is sent to ZooKeeper. Each returns
// the reason as an error code (ok when valid); callers name the value.

#include <string>
#include <string_view>
#include <system_error>

#include <nominee/session_options.hpp>

namespace nominee::detail {

// An absolute znode path: "/", or "/a/b" with no empty, "." or ".." segment
// and no control characters. With allow_trailing_slash (sequential creates:
// "/queue/" makes "/queue/0000000001"), a final '/' is accepted.
std::error_code check_path(std::string_view path, bool allow_trailing_slash = false);

std::error_code check_data(std::string_view data);

// "host:port[,host:port...][/chroot]"; IPv6 hosts in brackets ("[::1]:2181").
std::error_code check_hosts(std::string_view hosts);

// "user:password", both non-empty.
std::error_code check_digest(std::string_view digest);

// A single znode name (a role, a member id): non-empty, at most max_length
// bytes of UTF-8, no '/', not "." or "..", no control characters.
std::error_code check_name(std::string_view name, std::size_t max_length = 255);

// Free text that goes into a node's JSON (an endpoint, an owner id): at
// most max_length bytes of well-formed UTF-8 (JSON cannot carry other bytes).
std::error_code check_text(std::string_view text, std::size_t max_length = 1024);
bool is_utf8(std::string_view text);

// Every field of the options; on failure, which one.
struct option_problem {
  std::error_code error;
  std::string field;  // e.g. "session_options.hosts"
  std::string value;
};
option_problem check_session_options(const session_options& options);

// "what 'value': reason", for exceptions and logs. Non-printable bytes are
// escaped and very long values cut, so the message stays readable.
std::string describe(std::string_view what, std::string_view value);

}  // namespace nominee::detail
