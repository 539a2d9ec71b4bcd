// The status dashboard in a real browser: headless Chromium loads the page
// from a status_server backed by real recipes, runs its script, and the DOM
// it dumps must hold what only the script could have drawn from /status
// (the members' bars, the role holder, an event). A screenshot is kept as
// an artifact (dashboard.png in the build directory). With /status out of
// reach, the page shows its "disconnected" banner.
//
// Chromium runs as a child process with a fresh profile directory and a
// deadline, and is killed by its PID if it overstays.
#include <nominee/status.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>

#include "child_process.hpp"
#include "status_http.hpp"
#include "test_support.hpp"
#include "work_member.hpp"

#ifndef NOMINEE_STATUS_ARTIFACT_DIR
#define NOMINEE_STATUS_ARTIFACT_DIR "."
#endif

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;
namespace fs = std::filesystem;

const std::string prefix = "/render/";

std::string chromium_path() {
  if (const char* path = std::getenv("NOMINEE_CHROMIUM")) return path;
  return "/usr/bin/chromium";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class dashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(chromium_path()))
        << chromium_path() << " is missing: the dashboard test renders the page in Chromium. "
        << "Install it with: apt-get install chromium (scripts/install-deps.sh does)";
    root_ = unique_root();
    alpha_ = std::make_unique<work_member>(root_, prefix, "dash-alpha", 1, "dash-alpha.example:8080");
    beta_ = std::make_unique<work_member>(root_, prefix, "dash-beta", 3, "dash-beta.example:8080");
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) keys.push_back("render-" + std::to_string(i));
    auto added = alpha_->d().async_add_work(keys, use_future);
    get_within(added);
    ASSERT_TRUE(wait_until(
        [&] {
          auto a = alpha_->d().status(), b = beta_->d().status();
          return a.keys == 40 && b.keys == 40 && a.members == 2 && b.members == 2 && a.acquiring + b.acquiring == 0 &&
                 a.stopping + b.stopping == 0 && alpha_->d().assigned().size() + beta_->d().assigned().size() == 40;
        },
        30s))
        << "the two members never settled on the keys";
    candidate_ = std::make_unique<candidate>(alpha_->s(),
                                             election_options{root_, "render-coordinator", "dash-alpha", "alpha:1"},
                                             candidate::callbacks{});
    observer_ = std::make_unique<role_observer>(alpha_->s(), root_, "render-coordinator",
                                                [](const std::optional<role_holder>&) {});
    ASSERT_TRUE(wait_until([&] { return observer_->current().has_value(); }, 30s)) << "nobody ever held the role";

    board_ = std::make_unique<status_board>("dash-alpha");
    board_->show_session(alpha_->s());
    board_->show_divider(alpha_->d());
    board_->show_role("render-coordinator", *observer_);
    board_->show_candidate(*candidate_);
    board_->record_event("test", "dashboard test ready");
    server_ = std::make_unique<status_server>(*board_);
    scratch_ = std::make_unique<scratch_dir>("dashboard", "Chromium's output");
  }

  void TearDown() override {
    server_.reset();
    board_.reset();
    observer_.reset();
    candidate_.reset();
    beta_.reset();
    alpha_.reset();
    scratch_.reset();
  }

  // Runs Chromium headless on url with a fresh profile; returns what it
  // wrote (stdout and stderr together, as child_process logs them).
  std::string run_chromium(const std::string& name, const std::vector<std::string>& what, const std::string& url) {
    auto profile = scratch_->path() / (name + "-profile");
    auto log = scratch_->path() / (name + ".log");
    std::vector<std::string> args = {chromium_path(),
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--user-data-dir=" + profile.string(),
                                     "--virtual-time-budget=5000"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back(url);
    child_process browser;
    browser.spawn(args, log, {SIGTERM, SIGINT, SIGPIPE});
    auto status = browser.wait_exit(120s);
    if (!status) {
      browser.kill();  // by its PID; the destructor reaps it
      ADD_FAILURE() << "Chromium did not finish within 120 s; its output:\n" << file_tail(log);
      return {};
    }
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "Chromium ended with status " << *status << "; its output:\n" << file_tail(log);
    return read_file(log);
  }

  // The document Chromium dumped, without the log lines around it.
  std::string dump_dom(const std::string& name, const std::string& url) {
    auto output = run_chromium(name, {"--dump-dom"}, url);
    auto begin = output.find("<html");
    auto end = output.rfind("</html>");
    if (begin == std::string::npos || end == std::string::npos || end < begin) {
      ADD_FAILURE() << "no document in Chromium's output:\n" << output.substr(0, 3000);
      return {};
    }
    return output.substr(begin, end + 7 - begin);
  }

  std::string root_;
  std::unique_ptr<work_member> alpha_, beta_;
  std::unique_ptr<candidate> candidate_;
  std::unique_ptr<role_observer> observer_;
  std::unique_ptr<status_board> board_;
  std::unique_ptr<status_server> server_;
  std::unique_ptr<scratch_dir> scratch_;
};

TEST_F(dashboard, the_script_draws_members_roles_and_events_from_status) {
  auto dom = dump_dom("dom", server_->url());
  ASSERT_FALSE(dom.empty());
  // None of this is in the page as served: only the script puts it there.
  auto page = http_get(server_->port(), "/");
  ASSERT_EQ(page.body.find("dash-alpha"), std::string::npos);
  ASSERT_EQ(page.body.find("dash-beta"), std::string::npos);

  EXPECT_NE(dom.find("data-member=\"dash-alpha\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-member=\"dash-beta\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("affinity 3"), std::string::npos) << "beta's affinity";
  auto alpha_keys = std::to_string(alpha_->d().assigned().size()) + " keys";
  auto beta_keys = std::to_string(beta_->d().assigned().size()) + " keys";
  EXPECT_NE(dom.find(alpha_keys), std::string::npos) << alpha_keys;
  EXPECT_NE(dom.find(beta_keys), std::string::npos) << beta_keys;
  EXPECT_NE(dom.find("data-role=\"render-coordinator\""), std::string::npos);
  EXPECT_NE(dom.find("dash-alpha (this process)"), std::string::npos) << "the role holder";
  EXPECT_NE(dom.find("dashboard test ready"), std::string::npos) << "the event";
  EXPECT_NE(dom.find(">connected<"), std::string::npos) << "the session state";
  EXPECT_EQ(dom.find("class=\"shown\""), std::string::npos) << "the disconnected banner shows";
}

TEST_F(dashboard, a_screenshot_is_kept) {
  auto png = fs::path(NOMINEE_STATUS_ARTIFACT_DIR) / "dashboard.png";
  std::error_code ignored;
  fs::remove(png, ignored);
  run_chromium("screenshot", {"--screenshot=" + png.string(), "--window-size=1200,900"}, server_->url());
  ASSERT_TRUE(fs::exists(png)) << png << " was not written";
  auto bytes = read_file(png);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << "not a PNG";
  // A blank 1200x900 page compresses to a few KB; bars, tables and text do not.
  EXPECT_GT(bytes.size(), 20'000u) << png << " looks blank";
  ASSERT_GE(bytes.size(), 24u);
  auto be32 = [&](std::size_t at) {
    return (std::uint32_t(std::uint8_t(bytes[at])) << 24) | (std::uint32_t(std::uint8_t(bytes[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(bytes[at + 2])) << 8) | std::uint32_t(std::uint8_t(bytes[at + 3]));
  };
  EXPECT_EQ(be32(16), 1200u) << "width";
  EXPECT_EQ(be32(20), 900u) << "height";
  std::cerr << "dashboard screenshot: " << fs::absolute(png) << "\n";
}

TEST_F(dashboard, shows_a_disconnected_banner_when_status_cannot_be_fetched) {
  // The same page, opened from a file: its fetch of "status" fails, as it
  // would with the service gone.
  auto page = http_get(server_->port(), "/");
  ASSERT_EQ(page.status, 200);
  auto file = scratch_->path() / "offline.html";
  std::ofstream(file) << page.body;
  auto dom = dump_dom("offline", "file://" + file.string());
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("class=\"shown\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("Disconnected"), std::string::npos) << dom;
  EXPECT_EQ(dom.find("data-member="), std::string::npos) << "members drawn without /status";
}

}  // namespace
}  // namespace nominee::testing
