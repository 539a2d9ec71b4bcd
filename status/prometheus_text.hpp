#pragma once
// Writes the Prometheus text exposition format, version 0.0.4: a family is
// its # HELP and # TYPE lines, then its samples; histograms are cumulative
// _bucket{le=...} lines ending with le="+Inf", then _sum and _count.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nominee/latency_histogram.hpp>

namespace nominee::status_detail {

using label_set = std::vector<std::pair<std::string_view, std::string_view>>;

// A label value as the format wants it: \ " and newline escaped, and bytes
// that are not UTF-8 replaced by U+FFFD (label values must be UTF-8).
std::string escape_label_value(std::string_view value);
// The shortest text that reads back as the same double; NaN, +Inf, -Inf.
std::string format_number(double value);

class prometheus_writer {
 public:
  // type: "gauge", "counter" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const label_set& labels, double value);
  void sample(std::string_view name, const label_set& labels, std::uint64_t value);
  // In seconds (the histogram records milliseconds), under name_bucket,
  // name_sum and name_count.
  void histogram_seconds(std::string_view name, const label_set& labels, const latency_histogram& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void write_labels(const label_set& labels, std::string_view le = {});
  std::string out_;
};

}  // namespace nominee::status_detail
