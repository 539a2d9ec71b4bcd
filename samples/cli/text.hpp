#pragma once
// How the CLI shows things: keys (arbitrary bytes) as readable text, aligned
// tables, timestamps, and the JSON forms of the library's results.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <nominee/divider_admin.hpp>

namespace nominee::cli {

using json = nlohmann::ordered_json;

bool valid_utf8(std::string_view text);

// A key as one readable token: valid UTF-8 stays as it is; control bytes,
// invalid UTF-8 and '\' become \xNN (and \\).
std::string printable(std::string_view key);
// "-" for none.
std::string or_dash(const std::optional<std::string>& value);

// The key for JSON: {"key": text} with the key itself when it is valid
// UTF-8, else its printable form plus "key_hex" (every byte, two hex digits).
void put_key(json& out, const std::string& key);

// Columns separated by two spaces, each as wide as its widest cell; the last
// column is not padded.
class table {
 public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t rows() const { return rows_.size() - 1; }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// 2026-01-02T03:04:05.678Z
std::string utc_time(std::chrono::system_clock::time_point t);

json to_json(const member_info& m);
json to_json(const std::optional<role_holder>& h);

// The output of --json: one document, indented, then a newline; invalid
// UTF-8 cannot reach it (put_key), but is replaced rather than thrown on.
std::string dump(const json& doc, bool one_line = false);

}  // namespace nominee::cli
