// Input checks (recipes/validate.cpp): whatever a user passes as a path,
// name, connect string or digest, the check never crashes, and what it
// accepts really has the shape the rest of nominee relies on.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nominee/session_options.hpp>

#include "fuzz_check.hpp"
#include "validate.hpp"

namespace {

using namespace nominee::detail;

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool has_control(std::string_view text) {
  for (unsigned char c : text)
    if (is_control(c)) return true;
  return false;
}

// Every segment of an accepted path is a valid name of any length.
void check_segments(std::string_view path) {
  NOMINEE_FUZZ_CHECK(!path.empty() && path.front() == '/');
  if (path == "/") return;
  NOMINEE_FUZZ_CHECK(path.back() != '/');
  for (std::size_t start = 1; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto segment = path.substr(start, end - start);
    NOMINEE_FUZZ_CHECK(!segment.empty() && segment != "." && segment != "..");
    NOMINEE_FUZZ_CHECK(!check_name(segment, std::numeric_limits<std::size_t>::max()));
    start = end + 1;
  }
}

void check_paths(std::string_view path) {
  const bool plain = !check_path(path);
  const bool trailing = !check_path(path, true);
  if (plain) {
    NOMINEE_FUZZ_CHECK(!has_control(path));
    check_segments(path);
    NOMINEE_FUZZ_CHECK(trailing);  // allowing more never refuses what was accepted
    // A child of a valid path is valid when its name is.
    NOMINEE_FUZZ_CHECK(!check_path(std::string(path == "/" ? "" : path) + "/child"));
  }
  if (trailing && !plain) {
    // Accepted only because of the final '/': without it, the path is valid.
    NOMINEE_FUZZ_CHECK(path.size() > 1 && path.back() == '/');
    NOMINEE_FUZZ_CHECK(!check_path(path.substr(0, path.size() - 1)));
  }
}

void check_names(std::string_view name) {
  if (check_name(name)) return;
  NOMINEE_FUZZ_CHECK(!name.empty() && name.size() <= 255);
  NOMINEE_FUZZ_CHECK(name != "." && name != "..");
  NOMINEE_FUZZ_CHECK(name.find('/') == std::string_view::npos && !has_control(name));
  NOMINEE_FUZZ_CHECK(!check_path("/" + std::string(name)));  // a name is a one-segment path
}

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

void check_connect_string(std::string_view hosts) {
  if (check_hosts(hosts)) return;
  NOMINEE_FUZZ_CHECK(!has_control(hosts));
  const auto slash = hosts.find('/');
  if (slash != std::string_view::npos) {
    const auto chroot = hosts.substr(slash);
    NOMINEE_FUZZ_CHECK(chroot == "/" || !check_path(chroot));
  }
  const auto servers = hosts.substr(0, slash);
  NOMINEE_FUZZ_CHECK(!servers.empty());
  for (std::size_t start = 0; start <= servers.size();) {
    const auto comma = std::min(servers.find(',', start), servers.size());
    const auto entry = servers.substr(start, comma - start);
    const auto colon = entry.rfind(':');
    NOMINEE_FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
    NOMINEE_FUZZ_CHECK(is_port(entry.substr(colon + 1)));
    NOMINEE_FUZZ_CHECK(entry.find(' ') == std::string_view::npos);
    start = comma + 1;
  }
}

void check_digests(std::string_view digest) {
  if (check_digest(digest)) return;
  const auto colon = digest.find(':');
  NOMINEE_FUZZ_CHECK(colon != std::string_view::npos && colon > 0 && colon + 1 < digest.size());
  NOMINEE_FUZZ_CHECK(!has_control(digest));
}

void check_describe(std::string_view value) {
  const std::string text = describe("value", value);
  NOMINEE_FUZZ_CHECK(text.size() <= 9 + 4 * 200 + 32);  // quoted, escaped, cut at 200 bytes
  for (unsigned char c : text) NOMINEE_FUZZ_CHECK(c >= 0x20 && c < 0x7f);
}

void check_options(std::string_view input) {
  nominee::session_options options;
  options.hosts = std::string(input);
  const auto problem = check_session_options(options);
  NOMINEE_FUZZ_CHECK(static_cast<bool>(problem.error) == static_cast<bool>(check_hosts(input)));
  options.hosts = "127.0.0.1:2181";
  options.digest = std::string(input);
  const auto digest_problem = check_session_options(options);
  NOMINEE_FUZZ_CHECK(static_cast<bool>(digest_problem.error) == (!input.empty() && check_digest(input)));
  if (digest_problem.error) NOMINEE_FUZZ_CHECK(digest_problem.value == "<hidden>");  // never logged
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_paths(input);
  check_names(input);
  check_connect_string(input);
  check_digests(input);
  check_describe(input);
  check_options(input);
  return 0;
}
