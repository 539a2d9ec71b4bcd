#pragma once
// A strict reader of the Prometheus text exposition format (0.0.4), for the
// status endpoint tests: it throws std::runtime_error, naming the line, at
// anything a Prometheus server would refuse or that the format forbids.
//
//  - every line is "# HELP name text", "# TYPE name type", another comment,
//    or a sample "name{label="value",...} value [timestamp]"
//  - every sample belongs to a family with a TYPE given before it
//    (histograms: name_bucket, name_sum, name_count); a family's lines are
//    not interleaved with another's; no series appears twice
//  - label values use only the escapes \\ \" \n
//  - histograms: per label set, buckets with increasing le, cumulative
//    counts, the last le="+Inf" and equal to _count, and a _sum

#include <map>
#include <optional>
#include <string>

namespace nominee::testing {

struct prometheus_text {
  // series ("name{a="x",b="y"}", labels in the order given) -> value
  std::map<std::string, double> samples;
  // family -> type
  std::map<std::string, std::string> types;

  bool has(const std::string& series) const { return samples.count(series) > 0; }
  double at(const std::string& series) const;  // throws, listing what is there, if absent
};

prometheus_text parse_prometheus_text(const std::string& text);

}  // namespace nominee::testing
