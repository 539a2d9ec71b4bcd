// nominee-pow: one process of a proof-of-work fleet (samples/pow/README.md).
//
// Every process joins the fleet with an affinity and searches the nonce
// ranges the space split gives it; one of them also holds the role
// "pow-coordinator". For each block the coordinator publishes a challenge
// (shared value "<fleet>-challenge"); every process then splits that block's
// nonce space [0, --nonces) with the others, and hashes "<challenge>:<nonce>"
// looking for a hash that starts with the difficulty prefix (shared value
// "<fleet>-difficulty", e.g. "000"). The first valid nonce (compare-and-set
// on "<fleet>-solution") ends the block: the coordinator abandons the block's
// space (the other ranges stop everywhere), measures the block time, makes
// the prefix one digit longer (faster than --target-block-ms) or shorter
// (slower), and publishes the next challenge. After --blocks blocks every
// process leaves and exits 0.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <boost/program_options.hpp>

#include <nominee/election.hpp>
#include <nominee/log.hpp>
#include <nominee/session.hpp>
#include <nominee/shared_value.hpp>
#include <nominee/space_split.hpp>

#include "pow_search.hpp"

namespace {

using namespace std::chrono_literals;
using namespace nominee;
using namespace nominee::pow;
using boost::asio::use_future;
using clock_type = std::chrono::steady_clock;
namespace po = boost::program_options;

struct pow_options {
  std::string hosts = "127.0.0.1:2181";
  std::string root = "/nominee";
  std::string fleet = "pow";
  std::string name;
  std::int64_t affinity = 1;
  std::int64_t blocks = 5;
  std::int64_t target_block_ms = 2000;
  std::int64_t block_timeout_ms = 60000;
  std::int64_t nonces = std::int64_t{1} << 24;
  std::int64_t range_size = std::int64_t{1} << 16;
  std::string difficulty = "0000";  // the initial prefix, when the fleet has none yet
  std::size_t max_difficulty = 8;
  unsigned threads = 1;
  std::int64_t session_timeout_ms = 10000;
};

struct help_requested {
  std::string text;
};

pow_options parse_options(int argc, char** argv) {
  pow_options o;
  po::options_description flags("nominee-pow: one process of a proof-of-work fleet\n\noptions");
  flags.add_options()
      ("help,h", "print this help")
      ("hosts", po::value(&o.hosts)->default_value(o.hosts), "ZooKeeper connect string")
      ("root", po::value(&o.root)->default_value(o.root), "nominee's root znode")
      ("fleet", po::value(&o.fleet)->default_value(o.fleet), "the fleet's name: its shared values and spaces")
      ("name", po::value(&o.name), "member name, unique in the fleet; default pow-<pid>")
      ("affinity", po::value(&o.affinity)->default_value(o.affinity), "share of the nonces searched here, >= 0")
      ("blocks", po::value(&o.blocks)->default_value(o.blocks),
       "mine until the fleet's block number reaches this, then exit")
      ("target-block-ms", po::value(&o.target_block_ms)->default_value(o.target_block_ms),
       "block time the coordinator steers the difficulty towards")
      ("block-timeout-ms", po::value(&o.block_timeout_ms)->default_value(o.block_timeout_ms),
       "a block with no nonce after this gets an easier prefix and a new challenge")
      ("nonces", po::value(&o.nonces)->default_value(o.nonces), "size of each block's nonce space [0, N)")
      ("range-size", po::value(&o.range_size)->default_value(o.range_size), "nonces per range")
      ("difficulty", po::value(&o.difficulty)->default_value(o.difficulty),
       "initial prefix of zeros, if the fleet has none yet")
      ("max-difficulty", po::value(&o.max_difficulty)->default_value(o.max_difficulty), "longest prefix")
      ("threads", po::value(&o.threads)->default_value(o.threads), "ranges searched at once here")
      ("session-timeout-ms", po::value(&o.session_timeout_ms)->default_value(o.session_timeout_ms),
       "ZooKeeper session timeout");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, flags), vm);
  if (vm.count("help")) {
    std::ostringstream text;
    text << flags;
    throw help_requested{text.str()};
  }
  po::notify(vm);
  if (o.name.empty()) o.name = "pow-" + std::to_string(::getpid());
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  require(o.blocks >= 1, "--blocks must be >= 1");
  require(o.target_block_ms >= 1, "--target-block-ms must be >= 1");
  require(o.block_timeout_ms >= 1, "--block-timeout-ms must be >= 1");
  require(!o.difficulty.empty() && o.difficulty.find_first_not_of('0') == std::string::npos &&
              o.difficulty.size() <= o.max_difficulty,
          "--difficulty '" + o.difficulty + "' must be 1 to --max-difficulty zeros");
  require(o.threads >= 1 && o.threads <= 64, "--threads must be 1..64");
  // The space split checks the rest (nonces, range size, affinity, name)
  // and names the bad value.
  return o;
}

// One process: a member of every block's space, a candidate coordinator.
class pow_node {
 public:
  pow_node(session& zk, pow_options o)
      : zk_(zk), options_(std::move(o)),
        challenge_(zk, value_options("-challenge"), notifier()),
        difficulty_(zk, value_options("-difficulty"), notifier()),
        solution_(zk, value_options("-solution"), notifier()) {
    // Created if absent (the first process of the fleet); "" = none yet.
    auto difficulty = difficulty_.async_initialize(options_.difficulty, use_future);
    auto challenge = challenge_.async_initialize("", use_future);
    auto solution = solution_.async_initialize("", use_future);
    if (!wait(difficulty, "initializing the difficulty") || !wait(challenge, "initializing the challenge") ||
        !wait(solution, "initializing the solution"))
      throw std::runtime_error("could not set up the fleet's shared values under " + options_.root);
    election_options role;
    role.root = options_.root;
    role.role = "pow-coordinator";
    role.member_id = options_.name;
    candidate::callbacks events;
    events.on_elected = [this](const term&) { set_coordinating(true); };
    events.on_revoked = [this](revoke_reason) { set_coordinating(false); };
    coordinator_ = std::make_unique<candidate>(zk, role, events);
  }
  ~pow_node() {
    coordinator_.reset();
    work_.reset();
  }

  // Until the last block is solved or stop is set. True when it finished.
  bool run(const std::atomic<bool>& stop) {
    while (!stop) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, 100ms, [&] { return dirty_; });
        dirty_ = false;
      }
      auto ch = current_challenge();
      auto sol = current_solution();
      if (ch && (!work_ || work_challenge_ != *ch)) follow(*ch);
      if (sol && work_ && sol->of == work_challenge_) *work_solved_ = true;
      if (coordinating_) coordinate(ch, sol);
      if (ch && ch->block >= options_.blocks && sol && sol->of == *ch && !waiting_) return true;
    }
    return false;
  }

  // Hands our ranges over and leaves the current space.
  void leave() {
    if (!work_) return;
    auto stopped = work_->async_stop(use_future);
    if (stopped.wait_for(30s) != std::future_status::ready)
      std::cerr << "[" << options_.name << "] leaving the space timed out\n";
    work_.reset();
  }

 private:
  shared_value_options value_options(const std::string& suffix) const {
    shared_value_options o;
    o.root = options_.root;
    o.name = options_.fleet + suffix;
    return o;
  }
  shared_value::change_callback notifier() {
    return [this](const versioned_value&) {
      {
        std::lock_guard lock(mutex_);
        dirty_ = true;
      }
      changed_.notify_all();
    };
  }
  void set_coordinating(bool on) {
    coordinating_ = on;
    std::lock_guard lock(mutex_);
    dirty_ = true;
    changed_.notify_all();
  }

  template <class T>
  static std::optional<T> wait(std::future<T>& f, const char* what, std::chrono::milliseconds limit = 30s) {
    try {
      if (f.wait_for(limit) != std::future_status::ready) throw std::runtime_error("no answer in time");
      return f.get();
    } catch (const std::exception& e) {
      std::cerr << "nominee-pow: " << what << ": " << e.what() << "\n";
      return std::nullopt;
    }
  }

  std::optional<challenge> current_challenge() const {
    auto v = challenge_.last_seen();
    return v && v->exists() ? parse_challenge(v->value) : std::nullopt;
  }
  std::optional<solution> current_solution() const {
    auto v = solution_.last_seen();
    return v && v->exists() ? parse_solution(v->value) : std::nullopt;
  }
  std::string prefix() const {
    auto v = difficulty_.last_seen();
    return v && v->exists() && !v->value.empty() ? v->value : options_.difficulty;
  }

  // --- the worker side: search the ranges of the current challenge -----------

  void follow(const challenge& ch) {
    work_.reset();  // the old block's ranges stop (their functions return)
    work_challenge_ = ch;
    work_solved_ = std::make_shared<std::atomic<bool>>(false);
    space_split_options o;
    o.root = options_.root;
    o.space = options_.fleet + "-" + std::to_string(ch.block) + "-" + ch.tag;
    o.lo = 0;
    o.hi = options_.nonces;
    o.range_size = options_.range_size;
    o.member_id = options_.name;
    o.affinity = options_.affinity;
    o.concurrency = options_.threads;
    o.seed = true;  // whoever sees the challenge first seeds; the rest find it seeded
    work_ = std::make_unique<space_split>(zk_, o, [this, ch, solved = work_solved_](const range_run& run) {
      return search(ch, run, *solved);
    });
    work_->async_start([name = options_.name](std::error_code ec) {
      // (cancelled: the next block came first and this space_split is gone)
      if (ec && ec != errc::cancelled) std::cerr << "[" << name << "] joining the block's space: " << ec.message() << "\n";
    });
  }

  // One range: every nonce, until a valid one, a stop, or another's solution.
  range_outcome search(const challenge& ch, const range_run& run, const std::atomic<bool>& solved) {
    auto zeros = prefix();
    auto text = ch.text();
    for (auto nonce = run.range.lo; nonce < run.range.hi; ++nonce) {
      if ((nonce & 1023) == 0) {
        if (run.stop.stop_requested()) return range_outcome::stopped();
        if (solved) return range_outcome::done("not searched: solved elsewhere");
      }
      auto hash = hash_of(text, nonce);
      if (hash.compare(0, zeros.size(), zeros) != 0) continue;
      solution mine{ch, nonce, options_.name, hash};
      // First writer wins: only if the solution on record is not this challenge's.
      auto claimed = solution_.async_update(
          [mine](const versioned_value& current) -> std::optional<std::string> {
            auto there = current.exists() ? parse_solution(current.value) : std::nullopt;
            if (there && there->of == mine.of) return std::nullopt;
            return mine.text();
          },
          use_future);
      if (auto v = wait(claimed, "recording a solution"); v && v->value == mine.text())
        std::cout << "[" << options_.name << "] block " << ch.block << ": found nonce " << nonce << std::endl;
      return range_outcome::done(std::to_string(nonce) + " " + hash);
    }
    return range_outcome::done();
  }

  // --- the coordinator side -----------------------------------------------------

  void coordinate(const std::optional<challenge>& ch, const std::optional<solution>& sol) {
    auto now = clock_type::now();
    if (!waiting_) {
      if (ch && !(sol && sol->of == *ch)) {  // a block in flight (we took over): see it through
        waiting_ = *ch;
        started_ = now;
        return;
      }
      if (ch && ch->block >= options_.blocks) return;
      return publish(ch, ch ? ch->block + 1 : 1);
    }
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_);
    if (sol && sol->of == *waiting_) {
      auto before = prefix();
      auto after = resize(elapsed.count() < options_.target_block_ms);
      std::cout << "block " << waiting_->block << "/" << options_.blocks << ": nonce " << sol->nonce << " by "
                << sol->member << " in " << elapsed.count() << " ms (hash " << sol->hash.substr(0, 16)
                << "...), difficulty " << before << " -> " << after << std::endl;
      abandon_current();
      waiting_.reset();
      return;
    }
    bool exhausted = false;
    if (work_ && work_challenge_ == *waiting_ && now - last_progress_ > 500ms) {
      last_progress_ = now;
      auto p = work_->async_progress(use_future);
      if (auto got = wait(p, "reading the block's progress", 5s)) exhausted = got->finished();
    }
    if (exhausted || elapsed.count() > options_.block_timeout_ms) {
      auto before = prefix();
      auto after = resize(false);
      std::cout << "block " << waiting_->block << "/" << options_.blocks << ": no nonce "
                << (exhausted ? "in the space" : "in time") << " after " << elapsed.count() << " ms, difficulty "
                << before << " -> " << after << ", new challenge" << std::endl;
      abandon_current();
      auto block = waiting_->block;
      waiting_.reset();
      publish(ch, block);
    }
  }

  // One zero more (faster than the target) or one fewer; compare-and-set.
  std::string resize(bool harder) {
    prefix_bounds bounds;
    bounds.unit = "0";
    bounds.min_units = 1;
    bounds.max_units = options_.max_difficulty;
    auto changed = harder ? difficulty_.async_lengthen(bounds, use_future) : difficulty_.async_shorten(bounds, use_future);
    auto v = wait(changed, "changing the difficulty");
    return v ? v->value : prefix();
  }

  void abandon_current() {
    if (!work_ || !waiting_ || work_challenge_ != *waiting_) return;
    work_->async_abandon([name = options_.name](std::error_code ec) {
      if (ec && ec != errc::cancelled) std::cerr << "[" << name << "] abandoning the block's space: " << ec.message() << "\n";
    });
  }

  // The next challenge, only if the challenge is still the one we decided on.
  void publish(const std::optional<challenge>& seen, std::int64_t block) {
    challenge next{block, random_tag()};
    auto expected = seen ? seen->text() : std::string();
    auto written = challenge_.async_update(
        [expected, next](const versioned_value& current) -> std::optional<std::string> {
          if ((current.exists() ? current.value : std::string()) != expected) return std::nullopt;
          return next.text();
        },
        use_future);
    if (auto v = wait(written, "publishing a challenge"); v && v->value == next.text()) {
      waiting_ = next;
      started_ = clock_type::now();
    }
  }

  session& zk_;
  const pow_options options_;
  // Before the shared values: their callbacks use these.
  std::mutex mutex_;
  std::condition_variable changed_;
  bool dirty_ = false;
  shared_value challenge_;
  shared_value difficulty_;
  shared_value solution_;
  std::unique_ptr<candidate> coordinator_;
  std::atomic<bool> coordinating_{false};

  // Worker side (main thread only).
  std::unique_ptr<space_split> work_;
  challenge work_challenge_;
  std::shared_ptr<std::atomic<bool>> work_solved_;

  // Coordinator side (main thread only).
  std::optional<challenge> waiting_;
  clock_type::time_point started_;
  clock_type::time_point last_progress_;
};

}  // namespace

int main(int argc, char** argv) {
  pow_options options;
  try {
    options = parse_options(argc, argv);
  } catch (const help_requested& help) {
    std::cout << help.text;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nominee-pow: " << e.what() << "\n(see nominee-pow --help)\n";
    return 2;
  }
  // Blocked before any thread exists; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::atomic<bool> stop{false}, done{false};
  std::thread signals([&] {
    timespec period{0, 200 * 1000 * 1000};
    while (!done)
      if (sigtimedwait(&stop_signals, nullptr, &period) > 0) stop = true;
  });

  int status = 0;
  try {
    session_options so;
    so.hosts = options.hosts;
    so.session_timeout = std::chrono::milliseconds(options.session_timeout_ms);
    session zk(so);
    zk.wait_connected(30s);
    pow_node node(zk, options);
    bool finished = node.run(stop);
    if (!finished) std::cout << "[" << options.name << "] signal: handing the ranges over and leaving" << std::endl;
    node.leave();
    if (finished) std::cout << "[" << options.name << "] done" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "nominee-pow: " << e.what() << "\n";
    status = 1;
  }
  done = true;
  signals.join();
  return status;
}
