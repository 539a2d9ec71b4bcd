// The nominee CLI, run as a child process against a real ZooKeeper and
// real dividers in this process: --json output parses and matches what
// the dividers run; add-work reads stdin; set-affinity and drain move keys;
// usage errors exit 2, failed operations 1, naming what; watch prints a
// join as it happens and stops on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <nominee/divider_admin.hpp>
#include <nominee/election.hpp>

#include "divider_fleet.hpp"
#include "test_support.hpp"

extern char** environ;

namespace nominee::testing {
namespace {

using namespace std::chrono_literals;
using boost::asio::use_future;
using json = nlohmann::json;
namespace fs = std::filesystem;

// NOMINEE_CLI in the environment overrides the binary (an installed or
// sanitized build, say).
std::string cli_path() {
  const char* over = std::getenv("NOMINEE_CLI");
  return over && *over ? over : NOMINEE_CLI_PATH;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One run of the CLI: stdin from a file, stdout and stderr to files, ended
// by its PID (SIGKILL from the destructor if it still runs).
class cli_process {
 public:
  cli_process() {
    std::string pattern = (fs::temp_directory_path() / "nominee-cli-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~cli_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  // env: variables to set; the NOMINEE_* ones of the test's own
  // environment are never passed on.
  void spawn(const std::vector<std::string>& args, const std::string& input = "",
             const std::map<std::string, std::string>& env = {}) {
    { std::ofstream(dir_ / "stdin", std::ios::binary) << input; }
    std::vector<std::string> argv_text{cli_path()};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "NOMINEE_", 8) != 0) env_text.push_back(*e);
    for (auto& [name, value] : env) env_text.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    auto in = (dir_ / "stdin").string(), out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    posix_spawn_file_actions_addopen(&files, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&files, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The test's own mask and dispositions are not the child's business.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&pid_, argv[0], &files, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) throw std::runtime_error("cannot start " + argv_text[0] + ": " + std::strerror(rc));
    command_ = argv_text[0];
    for (auto& a : args) command_ += " " + a;
  }

  // The exit status, or nullopt at the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout = 60s) {
    if (status_) return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return status_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
  }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  std::string out() const { return read_file(dir_ / "stdout"); }
  std::string err() const { return read_file(dir_ / "stderr"); }
  const std::string& command() const { return command_; }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string command_;
};

struct cli_result {
  int status = -1;
  std::string out;
  std::string err;
  std::string command;
};

std::ostream& operator<<(std::ostream& o, const cli_result& r) {
  return o << "\n$ " << r.command << "\nexit " << r.status << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

class CliTest : public admin_and_fleet {
 protected:
  // The CLI on this test's server, root and prefix; fails the test if it
  // does not exit within the deadline.
  cli_result run(std::vector<std::string> args, const std::string& input = "", bool with_target = true) {
    if (with_target) args.insert(args.begin(), {"--hosts", hosts_, "--root", root_, "--prefix", prefix_});
    cli_process p;
    p.spawn(args, input);
    auto status = p.wait(60s);
    cli_result r{status.value_or(-1), p.out(), p.err(), p.command()};
    EXPECT_TRUE(status) << "did not exit within 60 s" << r;
    return r;
  }

  json run_json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = run(args);
    EXPECT_EQ(r.status, 0) << r;
    auto doc = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << "not JSON" << r;
    return doc;
  }

  std::vector<std::string> three_members_with_keys(int n) {
    fleet_->add("m1", 1);
    fleet_->add("m2", 2);
    fleet_->add("m3", 3);
    EXPECT_TRUE(fleet_->all_see_members(affinities_)) << fleet_->describe();
    auto keys = numbered_keys(0, n);
    auto added = admin_->async_add_work(keys, use_future);
    get_within(added, 60s);
    EXPECT_TRUE(fleet_->converges_to(fleet::expected(keys, affinities_))) << fleet_->describe();
    return keys;
  }

  std::map<std::string, std::int64_t> affinities_{{"m1", 1}, {"m2", 2}, {"m3", 3}};
};

TEST_F(CliTest, JsonMembersAndAssignmentMatchWhatTheDividersRun) {
  auto keys = three_members_with_keys(300);

  auto members = run_json({"members"});
  EXPECT_EQ(members["prefix"], prefix_);
  EXPECT_EQ(members["root"], root_);
  ASSERT_EQ(members["members"].size(), 3u);
  std::vector<std::string> ids;
  for (auto& m : members["members"]) {
    ids.push_back(m["id"]);
    EXPECT_EQ(m["affinity"], affinities_[m["id"]]) << m;
    EXPECT_EQ(m["endpoint"], m["id"].get<std::string>() + ":7000") << m;
    EXPECT_TRUE(m["meta"].is_object()) << m;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"m1", "m2", "m3"}));  // sorted

  // The dividers are settled: the assignment read shows each key on the
  // member that runs it, which is its target.
  auto running = fleet_->running();
  json doc;
  ASSERT_TRUE(wait_until(
      [&] {
        doc = run_json({"assignment"});
        return doc["summary"]["owned"] == keys.size() && doc["summary"]["moving"] == 0;
      },
      60s))
      << doc.dump(2).substr(0, 3000);
  ASSERT_EQ(doc["keys"].size(), keys.size());
  std::string previous;
  for (auto& k : doc["keys"]) {
    std::string key = k["key"];
    EXPECT_LT(previous, key);  // sorted
    previous = key;
    EXPECT_EQ(k["owner"], running[key]) << k;
    EXPECT_EQ(k["target"], running[key]) << k;
    EXPECT_EQ(k["state"], "ok") << k;
    EXPECT_EQ(k["token"], fleet_->get(running[key]).token(key)) << k;
  }
  EXPECT_EQ(doc["summary"]["keys"], keys.size());
  EXPECT_EQ(doc["summary"]["unowned"], 0);
  for (auto& m : fleet_->members()) {
    auto& s = doc["summary"]["members"][m->id()];
    EXPECT_EQ(s["owned"], m->d().assigned().size()) << m->id();
    EXPECT_EQ(s["target"], m->d().assigned().size()) << m->id();
    EXPECT_EQ(s["affinity"], affinities_[m->id()]);
  }

  // The text form says the same, in a summary line.
  auto text = run({"assignment", "--summary"});
  EXPECT_EQ(text.status, 0) << text;
  EXPECT_NE(text.out.find("300 keys: 300 owned, 0 unowned, 0 moving; 3 members"), std::string::npos) << text;
  EXPECT_EQ(text.out.find("key-0000"), std::string::npos) << "--summary lists no keys" << text;
  auto full = run({"assignment"});
  EXPECT_NE(full.out.find("key-0299"), std::string::npos) << full;
}

TEST_F(CliTest, AddWorkReadsStdinAndRemoveWorkTakesArguments) {
  fleet_->add("m1", 1);
  fleet_->add("m2", 1);
  std::map<std::string, std::int64_t> two{{"m1", 1}, {"m2", 1}};
  ASSERT_TRUE(fleet_->all_see_members(two));

  // 150 keys on stdin (two multis), with a CRLF line and an empty line.
  std::string input;
  auto keys = numbered_keys(0, 150);
  for (auto& k : keys) input += k + (k == "key-0007" ? "\r\n" : "\n");
  input += "\n";
  auto r = run({"add-work"}, input);
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("add-work: 150 keys now in prefix 'jobs'"), std::string::npos) << r;
  // '-' reads stdin too, beside arguments; NUL-separated keys may hold newlines.
  r = run({"add-work", "-0", "-", "arg-key"}, std::string("odd\nkey") + '\0' + "plain" + '\0');
  ASSERT_EQ(r.status, 0) << r;
  keys.insert(keys.end(), {"odd\nkey", "plain", "arg-key"});
  ASSERT_TRUE(fleet_->all_see_keys(keys.size())) << fleet_->describe();
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, two))) << fleet_->describe();

  // The odd key comes back escaped in text and exact in JSON.
  auto text = run({"assignment"});
  EXPECT_NE(text.out.find("odd\\x0akey"), std::string::npos) << text;
  auto doc = run_json({"assignment"});
  bool found = false;
  for (auto& k : doc["keys"]) found |= k["key"] == "odd\nkey";
  EXPECT_TRUE(found);

  r = run({"remove-work", "key-0000", "key-0001", "plain", "never-there"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("remove-work: 4 keys no longer in prefix 'jobs'"), std::string::npos) << r;
  std::set<std::string> left(keys.begin(), keys.end());
  for (auto* k : {"key-0000", "key-0001", "plain"}) left.erase(k);
  ASSERT_TRUE(fleet_->all_see_keys(left.size())) << fleet_->describe();
  ASSERT_TRUE(fleet_->converges_to(fleet::expected({left.begin(), left.end()}, two))) << fleet_->describe();

  // Defaults from the environment: NOMINEE_HOSTS, NOMINEE_ROOT, NOMINEE_PREFIX.
  cli_process p;
  p.spawn({"remove-work", "-"}, "arg-key\n",
          {{"NOMINEE_HOSTS", hosts_}, {"NOMINEE_ROOT", root_}, {"NOMINEE_PREFIX", prefix_}});
  ASSERT_EQ(p.wait(60s), 0) << p.err();
  ASSERT_TRUE(fleet_->all_see_keys(left.size() - 1)) << fleet_->describe();
}

TEST_F(CliTest, SetAffinityAndDrainMoveKeysAndSayHowMany) {
  auto keys = three_members_with_keys(300);

  auto r = run({"set-affinity", "m1", "4"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("set-affinity: m1 1 -> 4"), std::string::npos) << r;
  affinities_["m1"] = 4;
  ASSERT_TRUE(wait_until([&] { return fleet_->get("m1").d().affinity() == 4; }, 30s));
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, affinities_))) << fleet_->describe();

  auto had = fleet_->get("m2").d().assigned();
  ASSERT_FALSE(had.empty());
  auto doc = run_json({"drain", "m2", "--wait-ms", "60000"});
  EXPECT_EQ(doc["member"], "m2");
  EXPECT_EQ(doc["before"], 2);
  EXPECT_EQ(doc["after"], 0);
  EXPECT_EQ(doc["moved"], had.size()) << doc;
  EXPECT_EQ(doc["unowned"], 0) << doc;
  std::size_t to = 0;
  for (auto& [id, n] : doc["to"].items()) {
    EXPECT_NE(id, "m2");
    to += n.get<std::size_t>();
  }
  EXPECT_EQ(to, had.size()) << doc;
  // The drain returned once m2 owned nothing.
  EXPECT_TRUE(fleet_->get("m2").d().assigned().empty());
  affinities_["m2"] = 0;
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(keys, affinities_))) << fleet_->describe();

  // Draining again: nothing to move.
  r = run({"drain", "m2"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("0 keys moved"), std::string::npos) << r;
}

TEST_F(CliTest, RolesListsHoldersAndTokens) {
  auto s = connect_session(hosts_);
  election_options o;
  o.root = root_;
  o.role = "cluster-manager";
  o.member_id = "w1";
  o.endpoint = "10.0.0.1:80";
  candidate c(*s, o, {});
  ASSERT_TRUE(wait_until([&] { return c.is_holder(); }, 30s));

  auto doc = run_json({"roles"});
  ASSERT_EQ(doc["roles"].size(), 1u) << doc;
  auto& r = doc["roles"][0];
  EXPECT_EQ(r["role"], "cluster-manager");
  EXPECT_EQ(r["holder"]["member"], "w1");
  EXPECT_EQ(r["holder"]["endpoint"], "10.0.0.1:80");
  EXPECT_EQ(r["holder"]["token"], c.current_term()->token);
  EXPECT_EQ(r["candidates"], 1);
  auto text = run({"roles"});
  EXPECT_NE(text.out.find("cluster-manager  w1"), std::string::npos) << text;
}

TEST_F(CliTest, UsageErrorsExitTwoWithTheUsage) {
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<bad> cases{
      {{}, "no command given"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"set-affinity", "m1"}, "expects MEMBER N"},
      {{"set-affinity", "m1", "-1"}, "'-1'"},
      {{"set-affinity", "m1", "lots"}, "'lots'"},
      {{"set-affinity", "a/b", "1"}, "'a/b'"},
      {{"drain"}, "expects MEMBER"},
      {{"members", "extra"}, "expects no arguments"},
      {{"members", "--no-such-option"}, "no-such-option"},
      {{"--timeout", "0", "members"}, "--timeout"},
      {{"--prefix", "", "members"}, "divider prefix ''"},
      {{"--root", "not-absolute", "members"}, "'not-absolute'"},
      {{"--hosts", "nohostport", "members"}, "nohostport"},
      {{"add-work", std::string(max_work_key_bytes + 1, 'k')}, "work key 'kkk"},
      {{"watch", "--for-ms", "-5"}, "for-ms"},
  };
  for (auto& c : cases) {
    // Global options first so the case's own --hosts/--root/--prefix win.
    std::vector<std::string> args = c.args;
    bool own_target = false;
    for (auto& a : args) own_target |= a == "--hosts" || a == "--root" || a == "--prefix";
    if (!own_target) args.insert(args.begin(), {"--hosts", hosts_, "--root", root_, "--prefix", prefix_});
    auto r = run(args, "", false);
    EXPECT_EQ(r.status, 2) << r;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << "should say " << c.says << r;
    EXPECT_NE(r.err.find("usage: nominee"), std::string::npos) << r;
    EXPECT_TRUE(r.out.empty()) << r;
  }
  // Help is not an error.
  auto help = run({"--help"}, "", false);
  EXPECT_EQ(help.status, 0) << help;
  EXPECT_NE(help.out.find("set-affinity MEMBER N"), std::string::npos) << help;
  help = run({"drain", "--help"}, "", false);
  EXPECT_EQ(help.status, 0) << help;
  EXPECT_NE(help.out.find("--wait-ms"), std::string::npos) << help;
  // Nothing reached the server.
  auto exists = admin_session_->async_exists(root_, use_future);
  EXPECT_FALSE(get_within(exists, 30s));
}

TEST_F(CliTest, FailedOperationsExitOneNamingWhat) {
  fleet_->add("m1", 1);
  auto r = run({"set-affinity", "ghost", "3"});
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.err.find("member 'ghost' is not a member of prefix 'jobs'"), std::string::npos) << r;
  r = run({"drain", "ghost"});
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.err.find("'ghost'"), std::string::npos) << r;

  // Nobody listens on port 1 of loopback.
  r = run({"--hosts", "127.0.0.1:1", "--timeout", "1500", "members"}, "", false);
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r;

  // A member that never confirms its stops cannot be drained in time.
  auto s = connect_session(hosts_);
  divider_options o;
  o.root = root_;
  o.prefix = prefix_;
  o.member_id = "stubborn";
  o.stop_timeout = std::chrono::minutes(5);
  o.on_stop_timeout = unconfirmed_stop::keep;
  divider stubborn(*s, o, {[](const key_lease&) {}, [](const std::string&, stop_reason) {}});
  auto started = stubborn.async_start(use_future);
  get_within(started, 30s);
  auto added = admin_->async_add_work(numbered_keys(0, 20), use_future);
  get_within(added, 30s);
  ASSERT_TRUE(wait_until([&] { return !stubborn.assigned().empty(); }, 30s));
  r = run({"drain", "stubborn", "--wait-ms", "1000"});
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.err.find("member 'stubborn' still owns"), std::string::npos) << r;
}

TEST_F(CliTest, WatchPrintsAJoinAsItHappensAndStopsOnSigterm) {
  fleet_->add("m1", 1);
  auto added = admin_->async_add_work(numbered_keys(0, 20), use_future);
  get_within(added, 30s);
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(numbered_keys(0, 20), {{"m1", 1}})));

  cli_process watch;
  watch.spawn({"--hosts", hosts_, "--root", root_, "--prefix", prefix_, "watch", "--json"});
  ASSERT_TRUE(wait_until([&] { return watch.err().find("watching") != std::string::npos; }, 30s))
      << "no 'watching' line; stderr:\n" << watch.err();
  EXPECT_NE(watch.err().find("1 members, 20 keys (20 owned)"), std::string::npos) << watch.err();

  fleet_->add("late", 1);
  // One JSON object per line; the join shows up, then the keys late takes.
  auto lines = [&] {
    std::vector<json> out;
    std::istringstream in(watch.out());
    std::string line;
    while (std::getline(in, line)) {
      auto doc = json::parse(line, nullptr, false);
      EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << line;
      out.push_back(doc);
    }
    return out;
  };
  auto has = [&](const std::function<bool(const json&)>& match) {
    for (auto& doc : lines())
      if (match(doc)) return true;
    return false;
  };
  ASSERT_TRUE(wait_until(
      [&] { return has([](const json& e) { return e["event"] == "member_joined" && e["member"]["id"] == "late"; }); },
      30s))
      << watch.out();
  ASSERT_TRUE(fleet_->converges_to(fleet::expected(numbered_keys(0, 20), {{"m1", 1}, {"late", 1}})));
  auto late_keys = fleet_->get("late").d().assigned();
  ASSERT_FALSE(late_keys.empty());
  ASSERT_TRUE(wait_until(
      [&] {
        return has([&](const json& e) {
          return e["event"] == "owner_changed" && e["owner"] == "late" && late_keys.count(e["key"]);
        });
      },
      30s))
      << watch.out();
  for (auto& e : lines()) EXPECT_TRUE(e.contains("time")) << e;

  watch.signal(SIGTERM);
  auto status = watch.wait(15s);
  ASSERT_TRUE(status) << "watch did not stop on SIGTERM";
  EXPECT_EQ(*status, 0) << watch.err();
  EXPECT_NE(watch.err().find("stopped by SIGTERM"), std::string::npos) << watch.err();

  // --for-ms bounds it, in text form.
  cli_process bounded;
  bounded.spawn({"--hosts", hosts_, "--root", root_, "--prefix", prefix_, "watch", "--for-ms", "500"});
  auto bounded_status = bounded.wait(30s);
  ASSERT_TRUE(bounded_status) << "watch --for-ms 500 still runs";
  EXPECT_EQ(*bounded_status, 0) << bounded.err();
}

}  // namespace
}  // namespace nominee::testing
