#include "validate.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <nominee/error.hpp>
#include <nominee/operations.hpp>

namespace nominee::detail {
namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

// Well-formed UTF-8: no stray continuation bytes, no overlong forms, no
// surrogates, nothing past U+10FFFF.
bool is_utf8(std::string_view text) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = byte(i);
    std::size_t extra;
    std::uint32_t point;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, point = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // cut short
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      point = (point << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (point < smallest[extra] || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

namespace {

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() && value >= 1 && value <= 65535;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_host_port(std::string_view entry) {
  std::string_view host;
  std::string_view port;
  if (!entry.empty() && entry.front() == '[') {  // [v6]:port
    auto close = entry.find(']');
    if (close == std::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':') return false;
    host = entry.substr(1, close - 1);
    port = entry.substr(close + 2);
    if (host.empty()) return false;
    for (char c : host)
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
  } else {
    auto colon = entry.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
    if (host.empty()) return false;
    for (char c : host)
      if (!is_host_char(c)) return false;
  }
  return is_port(port);
}

}  // namespace

std::error_code check_path(std::string_view path, bool allow_trailing_slash) {
  if (path.empty() || path.front() != '/') return errc::path_not_absolute;
  if (path == "/") return {};
  for (unsigned char c : path)
    if (is_control(c)) return errc::path_bad_character;
  // The server reads paths as UTF-8: other bytes would name another node.
  if (!is_utf8(path)) return errc::path_bad_character;
  if (path.back() == '/') {
    if (!allow_trailing_slash) return errc::path_trailing_slash;
    path.remove_suffix(1);  // "/queue/" names children of "/queue"
    if (path.empty()) return {};
  }
  for (std::size_t start = 1;;) {
    auto end = std::min(path.find('/', start), path.size());
    auto segment = path.substr(start, end - start);
    if (segment.empty()) return errc::path_empty_segment;
    if (segment == "." || segment == "..") return errc::path_relative_segment;
    if (end == path.size()) return {};
    start = end + 1;
  }
}

std::error_code check_data(std::string_view data) {
  return data.size() > max_node_data_bytes ? make_error_code(errc::data_too_large) : std::error_code{};
}

std::error_code check_hosts(std::string_view hosts) {
  if (hosts.empty()) return errc::invalid_hosts;
  auto slash = hosts.find('/');
  auto servers = hosts.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto chroot = hosts.substr(slash);
    if (chroot != "/" && check_path(chroot)) return errc::invalid_hosts;
  }
  if (servers.empty()) return errc::invalid_hosts;
  std::size_t start = 0;
  while (true) {
    auto comma = servers.find(',', start);
    auto entry = servers.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!is_host_port(entry)) return errc::invalid_hosts;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return {};
}

std::error_code check_digest(std::string_view digest) {
  auto colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == digest.size()) return errc::invalid_digest;
  for (unsigned char c : digest)
    if (is_control(c)) return errc::invalid_digest;
  return {};
}

std::error_code check_name(std::string_view name, std::size_t max_length) {
  if (name.empty() || name.size() > max_length || name == "." || name == "..") return errc::invalid_name;
  for (unsigned char c : name)
    if (c == '/' || is_control(c)) return errc::invalid_name;
  return is_utf8(name) ? std::error_code{} : make_error_code(errc::invalid_name);
}

std::error_code check_text(std::string_view text, std::size_t max_length) {
  return text.size() > max_length || !is_utf8(text) ? make_error_code(errc::invalid_option) : std::error_code{};
}

option_problem check_session_options(const session_options& o) {
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
  if (auto ec = check_hosts(o.hosts)) return {ec, "session_options.hosts", o.hosts};
  if (o.session_timeout.count() <= 0 || o.session_timeout > std::chrono::hours(24))
    return {errc::invalid_option, "session_options.session_timeout", ms(o.session_timeout)};
  if (o.operation_timeout.count() <= 0)
    return {errc::invalid_option, "session_options.operation_timeout", ms(o.operation_timeout)};
  if (o.orphan_audit_interval.count() <= 0)
    return {errc::invalid_option, "session_options.orphan_audit_interval", ms(o.orphan_audit_interval)};
  if (!o.digest.empty())
    if (auto ec = check_digest(o.digest)) return {ec, "session_options.digest", "<hidden>"};
  if (o.retry.initial_delay.count() < 0 || o.retry.max_delay < o.retry.initial_delay)
    return {errc::invalid_option, "session_options.retry.max_delay",
            ms(o.retry.max_delay) + " (initial_delay " + ms(o.retry.initial_delay) + ")"};
  if (o.retry.max_attempts < 1)
    return {errc::invalid_option, "session_options.retry.max_attempts", std::to_string(o.retry.max_attempts)};
  if (o.default_acl && o.default_acl->empty())
    return {errc::invalid_option, "session_options.default_acl", "(empty list)"};
  return {};
}

std::string describe(std::string_view what, std::string_view value) {
  constexpr std::size_t max_shown = 200;
  std::string out(what);
  out += " '";
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < value.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > max_shown) out += "...(" + std::to_string(value.size()) + " bytes)";
  out += "'";
  return out;
}

}  // namespace nominee::detail
