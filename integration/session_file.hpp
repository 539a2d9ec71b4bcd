#pragma once
// A child process's session credentials, published for the parent: the
// file holds "<session id hex> <password hex>\n" and is replaced whole
// (write a temp file, rename) whenever the child gets a new session. The
// parent reads it to force the session's expiry from outside
// (session_expiry.hpp). Header-only: the children (nominee-contender,
// nominee-worker) include it without linking the test libraries.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

namespace nominee::testing {

struct session_credentials {
  std::int64_t id = 0;
  std::string password;  // 16 bytes
};

inline std::string hex_bytes(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Errors go to stderr prefixed with `program`: a test that needs the file
// fails later, saying it found none.
inline void write_session_file(const std::string& path, std::int64_t id, const std::string& password,
                               const char* program) {
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << program << ": cannot write " << tmp << ": " << std::strerror(errno) << "\n";
    return;
  }
  char id_hex[17];
  std::snprintf(id_hex, sizeof id_hex, "%016llx", static_cast<unsigned long long>(id));
  auto text = std::string(id_hex) + " " + hex_bytes(password) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    std::cerr << program << ": cannot publish " << path << ": " << std::strerror(errno) << "\n";
}

// nullopt when the file is missing or malformed.
inline std::optional<session_credentials> read_session_file(const std::string& path) {
  std::ifstream in(path);
  std::string id_hex, password_hex;
  if (!(in >> id_hex >> password_hex) || password_hex.size() != 32) return std::nullopt;
  session_credentials c;
  try {
    c.id = static_cast<std::int64_t>(std::stoull(id_hex, nullptr, 16));
    for (std::size_t i = 0; i < password_hex.size(); i += 2)
      c.password.push_back(static_cast<char>(std::stoi(password_hex.substr(i, 2), nullptr, 16)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return c;
}

}  // namespace nominee::testing
