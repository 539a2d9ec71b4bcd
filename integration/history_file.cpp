#include "history_file.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace nominee::testing {

history_lines read_history_lines(const std::filesystem::path& path) {
  history_lines out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.problems.push_back("cannot read history file " + path.string());
    return out;
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t line_number = 0;
  std::size_t begin = 0;
  while (begin < content.size()) {
    ++line_number;
    auto end = content.find('\n', begin);
    auto origin = path.filename().string() + ":" + std::to_string(line_number);
    if (end == std::string::npos) {
      out.problems.push_back(origin + ": last line has no newline (torn write): '" + content.substr(begin) + "'");
      break;
    }
    auto line = content.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    out.lines.push_back({std::move(line), std::move(origin)});
  }
  return out;
}

std::optional<history_fields> split_history_line(const std::string& line, std::string* problem) {
  auto fail = [&](const std::string& why) -> std::optional<history_fields> {
    if (problem) *problem = why + ": '" + line + "'";
    return std::nullopt;
  };
  std::istringstream in(line);
  std::string at;
  history_fields f;
  if (!(in >> at >> f.member >> f.verb)) return fail("fewer than three fields");
  if (!parse_history_int(at, f.at_ns)) return fail("bad timestamp");
  for (std::string word; in >> word;) f.args.push_back(word);
  return f;
}

bool parse_history_int(const std::string& text, std::int64_t& out) {
  if (text.empty()) return false;
  std::size_t used = 0;
  try {
    out = std::stoll(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == text.size();
}

std::string history_ms(std::int64_t ns) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

}  // namespace nominee::testing
