#include "worker.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <nominee/divider.hpp>
#include <nominee/election.hpp>
#include <nominee/key_names.hpp>
#include <nominee/log.hpp>
#include <nominee/ranges.hpp>
#include <nominee/session.hpp>
#include <nominee/status.hpp>

#include "history_file.hpp"
#include "key_records.hpp"
#include "session_file.hpp"

namespace nominee::worker {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using testing::history_word;

std::string join_keys(const std::vector<std::string>& keys) {
  std::ostringstream out;
  for (std::size_t i = 0; i < keys.size(); ++i) out << (i ? " " : "") << keys[i];
  return out.str();
}

}  // namespace

class worker::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(asio::io_context& io, worker_options options)
      : io_(io),
        options_(std::move(options)),
        strand_(asio::make_strand(io)),
        print_timer_(strand_),
        join_timer_(strand_) {
    if (!options_.history.empty())
      history_.emplace(options_.history, options_.name, "nominee-worker");
    note("started pid=" + std::to_string(::getpid()) + " affinity=" + std::to_string(options_.affinity));

    session_options s;
    s.hosts = options_.hosts;
    s.session_timeout = options_.session_timeout;
    s.digest = options_.digest;
    session_ = std::make_unique<session>(io_.get_executor(), s);
    session_->add_listener([this](const session_event& e) {
      note("session " + std::string(to_string(e.state)));
      std::cout << "[" << options_.name << "] session " << to_string(e.state) << std::endl;
      // The listener runs after the state changed: the id and password read
      // here are e's session's unless a newer one replaced it already (then
      // its own event writes the file again).
      if (e.state == session_state::connected && !options_.session_file.empty() && session_->session_id() == e.session_id)
        testing::write_session_file(options_.session_file, e.session_id, session_->session_password(), "nominee-worker");
      if (e.state == session_state::closed && !closed_seen_.exchange(true)) closed_.set_value();
    });

    records_ = std::make_unique<key_records>(
        *session_, records_dir(), options_.name, options_.tick,
        key_records::observer{
            [this](const std::string& key, std::int64_t value, std::int64_t token) {
              note("write " + history_word(key) + " " + std::to_string(value) + " " + std::to_string(token));
            },
            [this](const std::string& key, std::int64_t token, std::int64_t newer) {
              note("refused " + history_word(key) + " " + std::to_string(token) + " " + std::to_string(newer));
            }});

    election_options e;
    e.root = options_.root;
    e.role = options_.role;
    e.member_id = options_.name;
    e.endpoint = endpoint();
    candidate_ = std::make_unique<candidate>(
        *session_, e,
        candidate::callbacks{
            [this](const term& t) {
              note("elected " + options_.role + " " + std::to_string(t.token));
              std::cout << "[" << options_.name << "] holds " << options_.role << " (token " << t.token << ")"
                        << std::endl;
            },
            [this](revoke_reason why) { note("revoked " + options_.role + " " + std::string(to_string(why))); }});

    divider_options d;
    d.root = options_.root;
    d.prefix = options_.prefix;
    d.member_id = options_.name;
    d.affinity = options_.affinity;
    d.endpoint = endpoint();
    divider_ = std::make_unique<divider>(
        *session_, d,
        divider::callbacks{[this](const key_lease& lease) {
                             note("start " + history_word(lease.key) + " " + std::to_string(lease.token));
                             show("key", "start " + lease.key + " token " + std::to_string(lease.token));
                             records_->start(lease);
                           },
                           [this](const std::string& key, stop_reason why) { on_stop(key, why); }});

    if (!options_.range_space.empty()) {
      range_consumer_options r;
      r.root = options_.root;
      r.space = options_.range_space;
      r.consumer_id = options_.name;
      // Used only by whoever creates the space first.
      r.config.lo = 1;
      r.config.hi = std::uint64_t{1} << 62;
      r.config.min_block = 8;
      r.config.max_block = 4096;
      r.config.target_lease = 2s;
      r.stand_for_coordinator = true;
      ranges_ = std::make_unique<range_consumer>(*session_, r);
    }

    role_watch_ = std::make_unique<role_observer>(*session_, options_.root, options_.role,
                                                  [](const std::optional<role_holder>&) {});
    if (options_.status_port >= 0) {
      board_ = std::make_unique<status_board>(options_.name);
      board_->show_session(*session_);
      board_->show_candidate(*candidate_);
      board_->show_role(options_.role, *role_watch_);
      board_->show_divider(*divider_);
      status_options so;
      so.address = options_.status_address;
      so.port = static_cast<std::uint16_t>(options_.status_port);
      server_ = std::make_unique<status_server>(*board_, so);
    }
  }

  ~impl() { stop_drawing(); }

  void start() {
    try_join();
    if (ranges_) draw_thread_ = std::thread([this] { draw_values(); });
    asio::post(strand_, [self = shared_from_this()] { self->print_soon(); });
  }

  bool shutdown() {
    note("leaving");
    {
      std::lock_guard lock(mutex_);
      leaving_ = true;
    }
    // The timers belong to the strand: cancel them there, and wait.
    std::promise<void> cancelled;
    asio::post(strand_, [this, &cancelled] {
      print_timer_.cancel();
      join_timer_.cancel();
      cancelled.set_value();
    });
    cancelled.get_future().wait();
    auto flushed = divider_->async_flush_and_cancel(asio::use_future);
    std::string outcome = "ok";
    if (flushed.wait_for(options_.session_timeout * 3) != std::future_status::ready) {
      outcome = "timeout";
    } else {
      try {
        flushed.get();
      } catch (const std::exception& e) {
        outcome = history_word(e.what());
      }
    }
    stop_drawing();
    note("exiting flush=" + outcome);
    {
      std::lock_guard lock(mutex_);
      confirms_open_ = false;  // a late on_stop's confirm has nowhere to go
    }
    server_.reset();  // no request reads the sources below any more
    board_.reset();
    role_watch_.reset();
    candidate_.reset();
    records_->close();
    ranges_.reset();
    divider_.reset();
    // close() reports `closed` to the listener above from the I/O thread,
    // later: wait for it, so it never runs after this object is gone.
    auto closed = closed_.get_future();
    session_->close();
    closed.wait_for(std::chrono::seconds(10));
    print_keys(true);
    return outcome == "ok";
  }

  std::string status_url() const { return server_ ? server_->url() : std::string(); }

 private:
  std::string endpoint() const { return "pid:" + std::to_string(::getpid()); }
  std::string records_dir() const {
    return (options_.root == "/" ? std::string() : options_.root) + "/records/" + key_node_name(options_.prefix);
  }

  void note(const std::string& words) {
    if (history_) history_->write(words);
  }
  // What the dashboard's event list shows (key starts and stops included).
  void show(const std::string& kind, const std::string& detail) {
    if (board_) board_->record_event(kind, detail);
  }

  void on_stop(const std::string& key, stop_reason why) {
    note("stop " + history_word(key) + " " + std::string(to_string(why)));
    show("key", "stop " + key + " (" + std::string(to_string(why)) + ")");
    // Confirm once no record write of ours for the key is in flight: from
    // then on only the next owner writes it.
    records_->stop(key, [weak = weak_from_this(), key] {
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard lock(self->mutex_);
      if (!self->confirms_open_) return;
      self->note("confirm " + history_word(key));
      self->divider_->confirm_stop(key);
    });
  }

  // One value per draw_interval, on a thread of its own: the range
  // consumer's grants arrive on the session's executor, and a history line
  // per value is what the fault runner checks for values handed out twice.
  void draw_values() {
    std::unique_lock lock(draw_mutex_);
    while (!draw_wake_.wait_for(lock, options_.draw_interval, [this] { return draw_stopping_; })) {
      lock.unlock();
      std::uint64_t value = 0;
      if (auto ec = ranges_->try_next(value); !ec)
        note("drew " + options_.range_space + " " + std::to_string(value));
      else if (ec == errc::space_exhausted && !exhausted_reported_.exchange(true))
        note("exhausted " + options_.range_space);
      lock.lock();
    }
  }

  void stop_drawing() {
    {
      std::lock_guard lock(draw_mutex_);
      draw_stopping_ = true;
    }
    draw_wake_.notify_all();
    if (draw_thread_.joinable()) draw_thread_.join();
  }

  // A restarted worker's name may still be held by its killed predecessor's
  // session until the server expires it: retry the join until it is free.
  void try_join() {
    divider_->async_start(asio::bind_executor(strand_, [weak = weak_from_this()](std::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard lock(self->mutex_);
      if (self->leaving_) return;
      if (!ec) {
        self->note("joined");
        std::cout << "[" << self->options_.name << "] joined " << self->options_.prefix << std::endl;
        return;
      }
      self->note("join_failed " + history_word(ec.message()));
      std::cerr << "[" << self->options_.name << "] join failed (" << ec.message() << "); retrying" << std::endl;
      self->join_timer_.expires_after(500ms);
      self->join_timer_.async_wait([weak](const std::error_code& e) {
        if (auto me = weak.lock(); me && !e) me->try_join();
      });
    }));
  }

  void print_soon() {
    print_timer_.expires_after(options_.print_interval);
    print_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->print_keys(false);
      self->print_soon();
    });
  }

  void print_keys(bool final) {
    if (options_.quiet && !final) return;
    auto keys = records_->keys();
    std::cout << "[" << options_.name << "] " << (final ? "left; " : "") << keys.size() << " keys: " << join_keys(keys)
              << std::endl;
  }

  asio::io_context& io_;
  worker_options options_;
  std::optional<testing::history_writer> history_;
  std::unique_ptr<session> session_;
  std::promise<void> closed_;  // set by the session listener on `closed`
  std::atomic<bool> closed_seen_{false};
  std::unique_ptr<key_records> records_;
  std::unique_ptr<candidate> candidate_;
  std::unique_ptr<divider> divider_;
  std::unique_ptr<range_consumer> ranges_;
  std::thread draw_thread_;
  std::mutex draw_mutex_;
  std::condition_variable draw_wake_;
  bool draw_stopping_ = false;
  std::atomic<bool> exhausted_reported_{false};
  std::unique_ptr<role_observer> role_watch_;
  std::unique_ptr<status_board> board_;
  std::unique_ptr<status_server> server_;
  asio::strand<asio::io_context::executor_type> strand_;  // the timers' own
  asio::steady_timer print_timer_;
  asio::steady_timer join_timer_;
  std::mutex mutex_;
  bool leaving_ = false;
  bool confirms_open_ = true;
};

worker::worker(asio::io_context& io, worker_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}
worker::~worker() = default;
void worker::start() { impl_->start(); }
bool worker::shutdown() { return impl_->shutdown(); }
std::string worker::status_url() const { return impl_->status_url(); }

}  // namespace nominee::worker
