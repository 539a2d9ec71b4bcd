#include "text.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace nominee::cli {

namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 if it is not
// a valid one (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < smallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_hex(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\x";
  out += hex[c >> 4];
  out += hex[c & 15];
}

}  // namespace

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto n = utf8_sequence(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (std::size_t i = 0; i < key.size();) {
    auto c = static_cast<unsigned char>(key[i]);
    auto n = utf8_sequence(key, i);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (n == 0 || c < 0x20 || c == 0x7f) {
      append_hex(out, c);
      ++i;
    } else {
      out.append(key.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string or_dash(const std::optional<std::string>& value) { return value ? printable(*value) : "-"; }

void put_key(json& out, const std::string& key) {
  if (valid_utf8(key)) {
    out["key"] = key;
    return;
  }
  out["key"] = printable(key);
  std::string hex;
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned char c : key) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  out["key_hex"] = hex;
}

void table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

std::string utc_time(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

json to_json(const member_info& m) {
  json out;
  out["id"] = m.id;
  out["affinity"] = m.affinity;
  out["endpoint"] = m.endpoint;
  auto meta = json::parse(m.meta, nullptr, false);
  out["meta"] = meta.is_discarded() ? json(m.meta) : meta;
  char session[32];
  std::snprintf(session, sizeof session, "0x%llx", static_cast<unsigned long long>(m.session_id));
  out["session"] = session;
  out["version"] = m.version;
  return out;
}

json to_json(const std::optional<role_holder>& h) {
  if (!h) return nullptr;
  json out;
  out["member"] = h->member_id;
  out["endpoint"] = h->endpoint;
  out["token"] = h->token;
  out["node"] = h->node;
  return out;
}

std::string dump(const json& doc, bool one_line) {
  return doc.dump(one_line ? -1 : 2, ' ', false, json::error_handler_t::replace);
}

}  // namespace nominee::cli
