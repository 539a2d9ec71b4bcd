#include "status_prometheus.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nominee::testing {

namespace {

struct parsed_sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  double value = 0;
};

bool metric_name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}
bool label_name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (!first && std::isdigit(static_cast<unsigned char>(c)));
}

[[noreturn]] void fail(std::size_t line_no, const std::string& line, const std::string& why) {
  throw std::runtime_error("metrics line " + std::to_string(line_no) + ": " + why + ": \"" + line + "\"");
}

double parse_value(const std::string& text, std::size_t line_no, const std::string& line) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  if (text.empty()) fail(line_no, line, "no value");
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (*end != '\0' || std::isinf(v) || std::isnan(v)) fail(line_no, line, "bad value \"" + text + "\"");
  return v;
}

parsed_sample parse_sample(const std::string& line, std::size_t line_no) {
  parsed_sample s;
  std::size_t i = 0;
  while (i < line.size() && metric_name_char(line[i], i == 0)) ++i;
  if (i == 0) fail(line_no, line, "no metric name");
  s.name = line.substr(0, i);
  std::set<std::string> seen;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      auto start = i;
      while (i < line.size() && label_name_char(line[i], i == start)) ++i;
      if (i == start) fail(line_no, line, "bad label name");
      auto name = line.substr(start, i - start);
      if (!seen.insert(name).second) fail(line_no, line, "label " + name + " twice");
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') fail(line_no, line, "expected =\" after " + name);
      i += 2;
      std::string value;
      while (true) {
        if (i >= line.size()) fail(line_no, line, "unterminated label value");
        char c = line[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= line.size()) fail(line_no, line, "dangling backslash");
          char e = line[i++];
          if (e == '\\') value += '\\';
          else if (e == '"') value += '"';
          else if (e == 'n') value += '\n';
          else fail(line_no, line, std::string("bad escape \\") + e);
        } else {
          value += c;
        }
      }
      s.labels.emplace_back(name, value);
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      fail(line_no, line, "expected , or } after a label");
    }
  }
  if (i >= line.size() || line[i] != ' ') fail(line_no, line, "expected one space before the value");
  ++i;
  auto rest = line.substr(i);
  auto space = rest.find(' ');
  s.value = parse_value(rest.substr(0, space), line_no, line);
  if (space != std::string::npos) {
    auto timestamp = rest.substr(space + 1);
    if (timestamp.empty() || timestamp.find_first_not_of("-0123456789") != std::string::npos)
      fail(line_no, line, "bad timestamp");
  }
  return s;
}

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string series_name(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return name;
  std::string out = name + "{";
  for (std::size_t k = 0; k < labels.size(); ++k) {
    if (k) out += ",";
    out += labels[k].first + "=\"" + escape(labels[k].second) + "\"";
  }
  return out + "}";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct histogram_series {
  std::vector<std::pair<double, double>> buckets;  // le, count, in order given
  std::optional<double> sum, count;
};

}  // namespace

double prometheus_text::at(const std::string& series) const {
  auto it = samples.find(series);
  if (it != samples.end()) return it->second;
  std::string known;
  for (auto& [name, value] : samples) known += "\n  " + name;
  throw std::runtime_error("no series " + series + " among:" + known);
}

prometheus_text parse_prometheus_text(const std::string& text) {
  prometheus_text out;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("metrics text does not end with a newline");
  std::set<std::string> finished;   // families whose lines have ended
  std::set<std::string> helped;
  std::string current;              // the family whose lines are being read
  // family -> labels (without le) -> its histogram parts
  std::map<std::string, std::map<std::string, histogram_series>> histograms;

  auto enter = [&](const std::string& family, std::size_t line_no, const std::string& line) {
    if (family == current) return;
    if (finished.count(family)) fail(line_no, line, "family " + family + " continues after another family");
    if (!current.empty()) finished.insert(current);
    current = family;
  };

  std::istringstream lines(text);
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      if (keyword == "HELP") {
        if (name.empty()) fail(line_no, line, "HELP without a name");
        if (!helped.insert(name).second) fail(line_no, line, "second HELP for " + name);
        enter(name, line_no, line);
      } else if (keyword == "TYPE") {
        std::string type, extra;
        words >> type >> extra;
        if (!extra.empty()) fail(line_no, line, "junk after the type");
        static const std::set<std::string> types{"counter", "gauge", "histogram", "summary", "untyped"};
        if (!types.count(type)) fail(line_no, line, "unknown type " + type);
        if (out.types.count(name)) fail(line_no, line, "second TYPE for " + name);
        enter(name, line_no, line);
        out.types[name] = type;
      }
      continue;
    }
    auto s = parse_sample(line, line_no);
    // The family: the name itself, or a histogram's name without its suffix.
    std::string family = s.name;
    std::string part;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (!ends_with(s.name, suffix)) continue;
      auto base = s.name.substr(0, s.name.size() - suffix.size());
      auto type = out.types.find(base);
      if (type != out.types.end() && (type->second == "histogram" || (type->second == "summary" && suffix != "_bucket"))) {
        family = base;
        part = suffix;
      }
    }
    if (!out.types.count(family)) fail(line_no, line, "sample of " + family + " before (or without) its TYPE");
    enter(family, line_no, line);
    auto series = series_name(s.name, s.labels);
    if (!out.samples.emplace(series, s.value).second) fail(line_no, line, "series " + series + " twice");
    if (out.types[family] == "histogram") {
      if (part.empty()) fail(line_no, line, "histogram sample without _bucket, _sum or _count");
      std::vector<std::pair<std::string, std::string>> rest;
      std::optional<double> le;
      for (auto& [name, value] : s.labels) {
        if (name == "le") le = parse_value(value, line_no, line);
        else rest.emplace_back(name, value);
      }
      auto& h = histograms[family][series_name("", rest)];
      if (part == "_bucket") {
        if (!le) fail(line_no, line, "bucket without le");
        h.buckets.emplace_back(*le, s.value);
      } else if (le) {
        fail(line_no, line, "le on " + part);
      } else if (part == "_sum") {
        h.sum = s.value;
      } else {
        h.count = s.value;
      }
    }
  }
  for (auto& [family, by_labels] : histograms) {
    for (auto& [labels, h] : by_labels) {
      auto where = family + labels;
      if (h.buckets.empty()) throw std::runtime_error("histogram " + where + " has no buckets");
      for (std::size_t k = 1; k < h.buckets.size(); ++k) {
        if (!(h.buckets[k].first > h.buckets[k - 1].first))
          throw std::runtime_error("histogram " + where + ": le values not increasing");
        if (h.buckets[k].second < h.buckets[k - 1].second)
          throw std::runtime_error("histogram " + where + ": buckets not cumulative at le=" +
                                   std::to_string(h.buckets[k].first));
      }
      if (!std::isinf(h.buckets.back().first)) throw std::runtime_error("histogram " + where + " does not end with le=\"+Inf\"");
      if (!h.count || !h.sum) throw std::runtime_error("histogram " + where + " lacks _sum or _count");
      if (h.buckets.back().second != *h.count)
        throw std::runtime_error("histogram " + where + ": le=\"+Inf\" bucket differs from _count");
    }
  }
  return out;
}

}  // namespace nominee::testing
