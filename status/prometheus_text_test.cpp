#include "prometheus_text.hpp"

#include <chrono>

#include <gtest/gtest.h>

namespace nominee::status_detail {
namespace {

TEST(prometheus_text, label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(escape_label_value("plain /jobs/"), "plain /jobs/");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(prometheus_text, label_values_keep_utf8_and_replace_other_bytes) {
  EXPECT_EQ(escape_label_value("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(escape_label_value(std::string("a\xFF" "b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(escape_label_value("\xC3"), "\xEF\xBF\xBD");                // truncated sequence
  EXPECT_EQ(escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(escape_label_value("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(escape_label_value(std::string("\0x", 2)), std::string("\0x", 2));  // NUL is UTF-8
}

TEST(prometheus_text, numbers_read_back_exactly) {
  EXPECT_EQ(format_number(0.00025), "0.00025");
  EXPECT_EQ(format_number(0.0005), "0.0005");
  EXPECT_EQ(format_number(90.52528955200012), "90.52528955200012");
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(1e-9), "1e-09");
  EXPECT_EQ(format_number(1e20), "1e+20");
  EXPECT_EQ(format_number(10), "10");
  EXPECT_EQ(format_number(1.5), "1.5");
  EXPECT_EQ(format_number(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_number(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_number(0.0 / 0.0), "NaN");
}

TEST(prometheus_text, families_have_help_and_type_before_their_samples) {
  prometheus_writer w;
  w.family("nominee_keys", "gauge", "Work keys.");
  w.sample("nominee_keys", {{"prefix", "/a\"b/"}}, std::uint64_t{3});
  w.sample("nominee_keys", {}, 0.5);
  EXPECT_EQ(w.text(),
            "# HELP nominee_keys Work keys.\n"
            "# TYPE nominee_keys gauge\n"
            "nominee_keys{prefix=\"/a\\\"b/\"} 3\n"
            "nominee_keys 0.5\n");
}

TEST(prometheus_text, histograms_are_cumulative_in_seconds_and_end_with_inf) {
  latency_histogram h;
  using std::chrono::microseconds;
  h.record(microseconds(100));     // <= 0.25 ms
  h.record(microseconds(3000));    // <= 5 ms
  h.record(microseconds(3000));
  h.record(std::chrono::seconds(20));  // above every bound
  prometheus_writer w;
  w.histogram_seconds("op_seconds", {{"prefix", "p"}}, h);
  const auto& text = w.text();
  EXPECT_NE(text.find("op_seconds_bucket{prefix=\"p\",le=\"0.00025\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_bucket{prefix=\"p\",le=\"0.002\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_bucket{prefix=\"p\",le=\"0.005\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_bucket{prefix=\"p\",le=\"10\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_bucket{prefix=\"p\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_count{prefix=\"p\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("op_seconds_sum{prefix=\"p\"} 20.0061\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace nominee::status_detail
