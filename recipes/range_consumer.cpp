// A consumer of a range space.
//
// Hot path: positions. pos_ counts every value this consumer object ever
// handed out (plus the tails it cut), and only ever grows; the current lease
// maps the positions [start, end) to the values [lo, lo + end - start).
// next() claims a position with a compare-and-swap on pos_ (never past end),
// so each position, hence each value, goes to exactly one caller. The lease
// descriptor is published under a sequence lock; a reader that sees it
// change, or a position outside it, takes the slow path (a mutex). Because
// positions never repeat, a descriptor read together with a position it
// contains always gives the right value: no ABA, nothing to reclaim.
//
// Cutting a tail (when idle) moves pos_ to end with a compare-and-swap:
// from then on no caller can claim a position in the tail, which is then
// reported back to the coordinator.
#include <nominee/ranges.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>
#include <nominee/watched_node.hpp>

#include "range_layout.hpp"
#include "range_sizing.hpp"
#include "range_space.hpp"
#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "validate.hpp"

namespace nominee {
namespace detail {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// now + wait, saturated: a huge wait means "a very long time", never an
// overflowed (past) deadline.
steady::time_point deadline_after(std::chrono::milliseconds wait) {
  constexpr auto forever = std::chrono::hours(24 * 365 * 100);
  auto now = steady::now();
  if (wait > forever) return now + forever;
  return now + wait;
}

std::uint64_t random_instance() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

class range_consumer_core : public std::enable_shared_from_this<range_consumer_core> {
 public:
  range_consumer_core(session& s, range_consumer_options options)
      : link_(s),
        strand_(asio::make_strand(s.get_executor())),
        tick_timer_(strand_),
        options_(std::move(options)),
        paths_(make_range_paths(options_.root, options_.space)),
        target_(options_.config.target_lease) {}

  void start(session& s) {
    auto weak = weak_from_this();
    lease_watch_ = std::make_unique<watched_node>(
        s, paths_.lease(options_.consumer_id),
        [weak](const node_change& change) {
          if (auto self = weak.lock()) self->on_lease(change);
        },
        strand_);
    listener_ = link_.add_listener([weak](const session_event& e) {
      if (auto self = weak.lock()) asio::post(self->strand_, [self, e] { self->on_session(e); });
    });
    asio::post(strand_, [self = shared_from_this()] { self->open(); });
  }

  // Called by the owner's destructor after stop(): waits until every caller
  // of take() has left (they wake at once with errc::cancelled).
  void wait_callers_left() {
    std::unique_lock lock(mutex_);
    left_.wait(lock, [this] { return callers_ == 0; });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
    lease_watch_.reset();
    link_.remove_listener(listener_);
    asio::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->tick_timer_.cancel();
      // Leave at once rather than at the session's end (the coordinator
      // then stops looking at us, and a new consumer object with our id can
      // register). Only our own registration, by version.
      if (self->registered_ && !self->writing_ && self->link_.session_id() == self->registered_session_)
        self->leave(self->version_, 8);
      else if (self->opened_)
        self->leave_if_ours(8);  // a write in flight (its version is not known yet), or not registered
    });
  }

  // --- leaving (strand, after stop) ------------------------------------------

  // Removes our node at `version`. A bad version (a report written
  // meanwhile) or a lost answer: read the node again and remove it if it is
  // still ours (left as it is if not: it belongs to someone else).
  void leave(std::int32_t version, int attempts) {
    link_.remove(paths_.consumer(options_.consumer_id), version,
                 asio::bind_executor(strand_, [self = shared_from_this(), attempts](std::error_code ec) {
                   if (!ec || is_no_node(ec) || attempts <= 1) return;
                   self->leave_if_ours(attempts - 1);
                 }));
  }

  void leave_if_ours(int attempts) {
    link_.get(paths_.consumer(options_.consumer_id), session::watcher{},
              asio::bind_executor(strand_, [self = shared_from_this(), attempts](std::error_code ec, const node& n) {
                if (is_no_node(ec)) return;
                if (ec) {
                  if (is_retriable(ec) && !is_session_expired(ec) && attempts > 1) self->leave_later(attempts - 1);
                  return;
                }
                // Ours only if this very object wrote it (see check_existing).
                auto report = decode_consumer_report(n.data);
                if (n.stat.ephemeral_owner == 0 || !report || report->instance != self->instance_) return;
                self->leave(n.stat.version, attempts);
              }));
  }

  void leave_later(int attempts) {
    auto timer = std::make_shared<asio::steady_timer>(strand_, std::chrono::milliseconds(100));
    timer->async_wait([self = shared_from_this(), timer, attempts](std::error_code e) {
      if (!e) self->leave_if_ours(attempts);
    });
  }

  // --- the hot path ---------------------------------------------------------

  // Gives up only when the lease is being replaced or has no position left:
  // while values remain, a failed compare-and-swap means another caller got
  // one, so trying again is lock-free (giving up would make the caller wait
  // for a notification that never comes while values are at hand).
  bool fast_take(std::uint64_t& out) {
    std::uint64_t p = pos_.load(std::memory_order_acquire);
    for (;;) {
      auto s1 = seq_.load(std::memory_order_acquire);
      if (s1 & 1) return false;  // being replaced: the slow path waits for the mutex
      auto start = d_start_.load(std::memory_order_relaxed);
      auto end = d_end_.load(std::memory_order_relaxed);
      auto lo = d_lo_.load(std::memory_order_relaxed);
      auto half = d_half_.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) != s1) continue;
      if (p < start || p >= end) return false;
      if (pos_.compare_exchange_weak(p, p + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        out = lo + (p - start);
        if (p == half) poke();  // exactly one caller claims the half-way position
        return true;
      }
    }
  }

  // ok, deadline_exceeded, space_exhausted or cancelled. No deadline: never waits.
  // The caller holds its own reference to this core (see range_consumer::next).
  std::error_code take(std::uint64_t& out, std::optional<steady::time_point> deadline) {
    if (fast_take(out)) return {};
    std::unique_lock lock(mutex_);
    // Counted while inside, so that the owner's destructor returns only once
    // every waiting caller has woken up and left.
    ++callers_;
    struct leave_guard {
      range_consumer_core& core;
      ~leave_guard() {
        if (--core.callers_ == 0 && core.closed_) core.left_.notify_all();
      }
    } leave{*this};  // runs with the lock held (destroyed before `lock`)
    bool asked = false, counted = false;
    for (int round = 0;; ++round) {
      if (closed_) return make_error_code(errc::cancelled);
      if (fast_take(out)) return {};
      if (pos_.load(std::memory_order_acquire) >= d_end_.load(std::memory_order_relaxed) && next_slot_) {
        install_next();
        continue;
      }
      if (exhausted_) {
        // Asked again even so: a tail returned meanwhile (or later) can only
        // be granted to a consumer that asks, and an idle one does not.
        if (idle_) {
          idle_ = false;
          lock.unlock();
          poke();
          lock.lock();
          if (closed_) return make_error_code(errc::cancelled);
          if (fast_take(out)) return {};
        }
        return make_error_code(errc::space_exhausted);
      }
      if (!asked) {
        idle_ = false;  // in use again: ask for leases again
        asked = true;
        lock.unlock();
        poke();
        lock.lock();
        continue;
      }
      if (!deadline || steady::now() >= *deadline) return make_error_code(errc::deadline_exceeded);
      if (!counted) {
        ++stats_.waits;
        counted = true;
      }
      changed_.wait_until(lock, *deadline);
    }
  }

  std::optional<range_lease> current_lease() const {
    std::lock_guard lock(mutex_);
    if (!current_) return std::nullopt;
    range_lease l;
    l.lo = current_->range.lo;
    l.hi = current_->range.hi;
    auto p = std::min(pos_.load(std::memory_order_acquire), d_end_.load(std::memory_order_relaxed));
    l.next = l.lo + (p - d_start_.load(std::memory_order_relaxed));
    l.grant = current_->n;
    l.session_id = current_->session;
    return l;
  }

  std::chrono::milliseconds wait_timeout() const { return options_.wait_timeout; }

  // What next() throws: the error, naming the space and the consumer.
  error failure(std::error_code ec, std::chrono::milliseconds waited) const {
    std::string what = "range space '" + options_.space + "' (" + paths_.base + "), consumer '" +
                       options_.consumer_id + "'";
    if (ec == errc::space_exhausted) {
      auto cfg = stored_config().value_or(options_.config);
      what += ": every value of [" + std::to_string(cfg.lo) + ", " + std::to_string(cfg.hi) + ") has been granted";
    } else if (ec == errc::deadline_exceeded) {
      what += ": no lease granted within " + std::to_string(waited.count()) + " ms";
    }
    return error(ec, what);
  }

  std::optional<range_space_config> stored_config() const {
    std::lock_guard lock(mutex_);
    return stored_;
  }

  range_consumer_statistics statistics() const {
    std::lock_guard lock(mutex_);
    auto s = stats_;
    s.values = pos_.load(std::memory_order_acquire) - skipped_;
    return s;
  }

 private:
  // Under mutex_: the current lease is used up (or cut); the prefetched one
  // becomes current. Records how long the old one lasted, for sizing.
  void install_next() {
    auto now = steady::now();
    if (current_ && !current_cut_) {
      used_n_ = current_->n;
      used_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(now - installed_at_).count();
    }
    current_ = *next_slot_;
    next_slot_.reset();
    current_cut_ = false;
    installed_at_ = now;
    ++stats_.leases;
    auto start = pos_.load(std::memory_order_acquire);  // == the old end: nobody can move it now
    auto size = current_->range.size();
    auto s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    d_start_.store(start, std::memory_order_relaxed);
    d_end_.store(start + size, std::memory_order_relaxed);
    d_lo_.store(current_->range.lo, std::memory_order_relaxed);
    d_half_.store(start + size / 2, std::memory_order_relaxed);
    seq_.store(s + 2, std::memory_order_release);
    // The slot is free again: the caller that claims the half-way position
    // asks for the next lease (fast_take).
  }

  // Ask the strand to reconsider (want a lease? report?). From any thread.
  void poke() {
    asio::post(strand_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->evaluate();
    });
  }

  // A completion handler that runs f(*this, args...) on the strand, unless stopped.
  template <class F>
  auto on_strand(F f) {
    return asio::bind_executor(strand_, [weak = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      auto self = weak.lock();
      if (!self || self->stopped_) return;
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }

  // --- opening and registration (strand) ----------------------------------

  void open() {
    if (stopped_) return;
    open_range_space(link_, strand_, paths_, options_.config,
                     [weak = weak_from_this()](std::error_code ec, std::optional<range_space_config> stored) {
                       auto self = weak.lock();
                       if (!self || self->stopped_) return;
                       if (ec || !stored) {
                         log(log_level::warn, "range consumer " + self->options_.consumer_id + ": could not open " +
                                                  self->paths_.base + " (" + ec.message() + "), trying again");
                         self->retry_open();
                         return;
                       }
                       {
                         std::lock_guard lock(self->mutex_);
                         self->stored_ = *stored;
                       }
                       self->target_ = stored->target_lease;
                       self->opened_ = true;
                       self->last_activity_ = steady::now();
                       self->last_report_at_ = steady::now();
                       self->register_consumer();
                       self->schedule_tick();
                     });
  }

  void retry_open() {
    tick_timer_.expires_after(std::chrono::milliseconds(250));
    tick_timer_.async_wait([weak = weak_from_this()](std::error_code e) {
      auto self = weak.lock();
      if (!self || e || self->stopped_) return;
      self->open();
    });
  }

  void register_consumer() {
    if (stopped_ || !opened_ || registering_ || registered_) return;
    auto sid = link_.session_id();
    if (sid == 0) return;  // the tick tries again
    registering_ = true;
    want_ = wants_lease();
    auto report = build_report(sid);
    // A new node is a new registration: it must not carry the returns of an
    // earlier one (they are processed once per (czxid, seq)). If the node
    // turns out to be our own (a reply lost), registered() sends them again.
    report.returns.clear();
    link_.create(paths_.consumer(options_.consumer_id), encode(report), create_options{create_mode::ephemeral, {}, {}}, false,
                 on_strand([report](range_consumer_core& self, std::error_code ec, const created_node& n) {
                   self.registering_ = false;
                   self.count_write();
                   if (!ec) return self.registered(n.stat, report);
                   if (is_node_exists(ec)) return self.check_existing();
                   log(log_level::debug, "range consumer " + self.options_.consumer_id + ": register: " + ec.message());
                 }));
  }

  // Our own node (a create whose reply was lost), or a previous process
  // with this id whose session has not ended yet (the tick tries again).
  void check_existing() {
    registering_ = true;
    link_.get(paths_.consumer(options_.consumer_id), session::watcher{},
              on_strand([](range_consumer_core& self, std::error_code ec, const node& n) {
                self.registering_ = false;
                if (ec) return;
                auto report = decode_consumer_report(n.data);
                // Ours only if this very object wrote it: another consumer
                // object with the same id on the same session must not
                // share our grants.
                if (n.stat.ephemeral_owner == self.link_.session_id() && n.stat.ephemeral_owner != 0 && report &&
                    report->instance == self.instance_) {
                  self.registered(n.stat, *report);
                  self.write_report();
                  return;
                }
                if (!self.warned_taken_) {
                  self.warned_taken_ = true;
                  log(log_level::info, "range consumer " + self.options_.consumer_id +
                                           ": the id is still registered by session " +
                                           std::to_string(n.stat.ephemeral_owner) + "; waiting for it to end");
                }
              }));
  }

  void registered(const stat& st, const consumer_report& written) {
    // Returns reported under another registration are not ours to send
    // again; under the same one (our node survived a lost reply) they are,
    // and resending is safe: each (czxid, seq) is processed once.
    if (st.czxid != czxid_) pending_returns_.clear();
    registered_ = true;
    warned_taken_ = false;
    registered_session_ = st.ephemeral_owner;
    czxid_ = st.czxid;
    version_ = st.version;
    last_written_ = written;
    if (last_lease_) take_grants(*last_lease_);
    // A report the coordinator would not trust (written under a session id
    // read just before the session changed) is written again at once.
    if (written.session != registered_session_ || written.instance != instance_) return write_report();
    evaluate();
  }

  void on_session(const session_event& e) {
    if (stopped_) return;
    if (e.state == session_state::expired ||
        (e.state == session_state::connected && e.session_id != registered_session_)) {
      if (registered_) log(log_level::info, "range consumer " + options_.consumer_id + ": session changed, registering again");
      registered_ = false;
      register_consumer();
    } else if (e.state == session_state::reconnected) {
      evaluate();
    }
  }

  // --- grants (strand) -------------------------------------------------------

  void on_lease(const node_change& change) {
    if (stopped_ || !change.exists) return;
    auto lease = decode_lease_record(change.data);
    if (!lease) {
      log(log_level::warn, "range lease of " + options_.consumer_id + " cannot be read");
      return;
    }
    last_lease_ = *lease;
    take_grants(*lease);
    evaluate();
  }

  // A grant decided for this registration (the consumer node's czxid): a
  // second object with our id on our session never takes our grants.
  bool for_us(const range_grant& g) const {
    return g.session == registered_session_ && g.czxid == czxid_;
  }

  void take_grants(const lease_record& lease) {
    if (lease.ret_czxid == czxid_ && registered_) {
      std::erase_if(pending_returns_, [&](const range_return& r) { return r.seq <= lease.ret_seq; });
    }
    bool notify = false;
    {
      std::lock_guard lock(mutex_);
      stats_.block_size = lease.block;
      if (registered_) {
        auto grants = lease.grants;
        std::sort(grants.begin(), grants.end(), [](const range_grant& a, const range_grant& b) { return a.n < b.n; });
        for (const auto& g : grants) {
          // Only grants decided for this very registration: a grant for an
          // earlier consumer object with our id (same session, other node)
          // may have been drawn from already.
          if (next_slot_ || !for_us(g) || g.n <= taken_) continue;
          next_slot_ = g;
          taken_ = g.n;
          notify = true;
        }
      }
      bool was = exhausted_;
      exhausted_ = lease.exhausted && !next_slot_;
      notify = notify || (was != exhausted_);
    }
    if (notify) changed_.notify_all();
  }

  // --- requests and reports (strand) --------------------------------------

  bool wants_lease() {
    std::lock_guard lock(mutex_);
    if (closed_ || next_slot_ || idle_) return false;
    auto p = pos_.load(std::memory_order_acquire);
    auto end = d_end_.load(std::memory_order_relaxed);
    if (p >= d_half_.load(std::memory_order_relaxed) || p >= end) return true;
    // By rate: less than half the target lifetime left.
    double left = static_cast<double>(end - p);
    return rate_ > 0 && left < rate_ * std::chrono::duration<double>(target_).count() / 2;
  }

  consumer_report build_report(std::int64_t sid) {
    consumer_report r;
    r.session = sid;
    r.instance = instance_;
    r.taken = taken_;
    r.want = want_;
    r.rate = rate_;
    r.returns = pending_returns_;
    std::lock_guard lock(mutex_);
    r.used_n = used_n_;
    r.used_ms = used_ms_;
    r.drawn = pos_.load(std::memory_order_acquire) - skipped_;
    return r;
  }

  void evaluate() {
    if (stopped_ || !opened_) return;
    if (!registered_) return register_consumer();
    want_ = wants_lease();
    bool returns_unsent = pending_returns_.size() != last_written_.returns.size() ||
                          (!pending_returns_.empty() && pending_returns_.back().seq != last_written_.returns.back().seq);
    bool ask = want_ && (!last_written_.want || last_written_.taken != taken_);
    if (ask || returns_unsent || report_due_) write_report();
  }

  void write_report() {
    if (writing_) {
      rewrite_ = true;
      return;
    }
    if (!registered_ || stopped_) return;
    writing_ = true;
    report_due_ = false;
    auto report = build_report(registered_session_);
    link_.set(paths_.consumer(options_.consumer_id), encode(report), version_,
              on_strand([report](range_consumer_core& self, std::error_code ec, const stat& st) {
                self.writing_ = false;
                self.count_write();
                if (!ec) {
                  self.version_ = st.version;
                  self.last_written_ = report;
                  self.last_report_at_ = steady::now();
                } else if (is_no_node(ec) || is_bad_version(ec)) {
                  // Our node is gone (or is not ours): register again.
                  self.registered_ = false;
                } else {
                  self.report_due_ = true;  // the tick tries again
                }
                if (self.rewrite_ || !ec) {
                  self.rewrite_ = false;
                  self.evaluate();
                }
              }));
  }

  // --- the tick (strand): rate, idleness, periodic reports --------------------

  std::chrono::milliseconds tick_period() const {
    return std::clamp<std::chrono::milliseconds>(target_ / 4, std::chrono::milliseconds(5),
                                                 std::chrono::milliseconds(250));
  }

  void schedule_tick() {
    tick_timer_.expires_after(tick_period());
    tick_timer_.async_wait([weak = weak_from_this()](std::error_code e) {
      auto self = weak.lock();
      if (!self || e || self->stopped_) return;
      self->tick();
      self->schedule_tick();
    });
  }

  void tick() {
    auto now = steady::now();
    auto p = pos_.load(std::memory_order_acquire);
    if (p != last_pos_) {
      auto dt = std::chrono::duration<double>(now - last_tick_at_).count();
      if (dt > 0) rate_ = static_cast<double>(p - last_pos_) / dt;
      last_pos_ = p;
      last_activity_ = now;
    } else {
      rate_ = 0;
      if (now - last_activity_ >= 2 * target_) go_idle();
    }
    last_tick_at_ = now;
    if (!registered_) register_consumer();
    if (now - last_report_at_ >= options_.report_interval) {
      std::uint64_t drawn;
      {
        std::lock_guard lock(mutex_);
        drawn = pos_.load(std::memory_order_acquire) - skipped_;
      }
      if (drawn != last_written_.drawn) report_due_ = true;
    }
    evaluate();
  }

  // Idle for twice the target: give back the unused tail of the current
  // lease and the prefetched one (the coordinator halves our size).
  void go_idle() {
    if (!registered_ || pending_returns_.size() >= 16) return;
    range_return ret;
    {
      std::lock_guard lock(mutex_);
      if (idle_ || !current_) return;
      idle_ = true;
      auto end = d_end_.load(std::memory_order_relaxed);
      auto p = pos_.load(std::memory_order_acquire);
      while (p < end && !pos_.compare_exchange_weak(p, end, std::memory_order_acq_rel, std::memory_order_acquire)) {
      }
      if (p < end) {
        // Positions [p, end) will never be claimed: the values they map to are ours to give back.
        auto start = d_start_.load(std::memory_order_relaxed);
        auto lo = d_lo_.load(std::memory_order_relaxed);
        ret.ranges.push_back(value_range{lo + (p - start), lo + (end - start)});
        skipped_ += end - p;
        current_cut_ = true;
      }
      if (next_slot_) {
        ret.ranges.push_back(next_slot_->range);
        next_slot_.reset();
      }
      for (const auto& r : ret.ranges) stats_.returned_values += r.size();
      last_pos_ = pos_.load(std::memory_order_acquire);  // the cut is not activity
    }
    // A grant queued for us and not taken yet goes back too.
    if (last_lease_) {
      for (const auto& g : last_lease_->grants) {
        if (!for_us(g) || g.n <= taken_) continue;
        taken_ = g.n;
        ret.ranges.push_back(g.range);
        std::lock_guard lock(mutex_);
        stats_.returned_values += g.range.size();
      }
    }
    ret.idle = true;
    ret.seq = ++return_seq_;
    pending_returns_.push_back(std::move(ret));
    write_report();
  }

  void count_write() {
    std::lock_guard lock(mutex_);
    ++stats_.zookeeper_writes;
  }

  // The hot path's own cache lines.
  alignas(64) std::atomic<std::uint64_t> pos_{0};
  alignas(64) std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> d_start_{0};
  std::atomic<std::uint64_t> d_end_{0};
  std::atomic<std::uint64_t> d_lo_{0};
  std::atomic<std::uint64_t> d_half_{0};

  alignas(64) session_link link_;  // (the alignment keeps the hot atomics' line to themselves)
  range_strand strand_;
  asio::steady_timer tick_timer_;
  range_consumer_options options_;
  range_paths paths_;
  std::unique_ptr<watched_node> lease_watch_;  // user thread only (start, stop)
  session::listener_id listener_ = 0;

  // Shared between callers and the strand.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::condition_variable left_;  // callers_ dropped to 0 after closed_
  int callers_ = 0;               // threads inside take() (past fast_take)
  bool closed_ = false;
  std::optional<range_grant> current_;
  std::optional<range_grant> next_slot_;
  bool current_cut_ = false;
  steady::time_point installed_at_;
  std::uint64_t used_n_ = 0;
  std::int64_t used_ms_ = -1;
  bool exhausted_ = false;
  bool idle_ = false;
  std::uint64_t skipped_ = 0;
  std::optional<range_space_config> stored_;
  range_consumer_statistics stats_;

  // Strand only.
  bool stopped_ = false;
  bool opened_ = false;
  bool registering_ = false;
  bool registered_ = false;
  bool warned_taken_ = false;
  std::int64_t registered_session_ = 0;
  std::int64_t czxid_ = 0;
  std::int32_t version_ = -1;
  std::uint64_t taken_ = 0;
  bool want_ = false;
  bool writing_ = false;
  bool rewrite_ = false;
  bool report_due_ = false;
  consumer_report last_written_;
  std::vector<range_return> pending_returns_;
  std::uint64_t return_seq_ = 0;
  const std::uint64_t instance_ = random_instance();
  std::optional<lease_record> last_lease_;
  std::chrono::milliseconds target_;
  double rate_ = 0;
  std::uint64_t last_pos_ = 0;
  steady::time_point last_tick_at_ = steady::now();
  steady::time_point last_activity_ = steady::now();
  steady::time_point last_report_at_ = steady::now();
};

}  // namespace detail

range_consumer::range_consumer(session& s, range_consumer_options options) {
  detail::require_root("range_consumer_options.root", options.root);
  detail::require_name("range_consumer_options.space", options.space);
  detail::require_name("range_consumer_options.consumer_id", options.consumer_id);
  detail::require_valid_space("range_consumer_options.config", options.config);
  if (options.wait_timeout.count() < 0)
    throw error(errc::invalid_option, "range_consumer_options.wait_timeout '" +
                                          std::to_string(options.wait_timeout.count()) + " ms': must not be negative");
  if (options.report_interval.count() <= 0)
    throw error(errc::invalid_option, "range_consumer_options.report_interval '" +
                                          std::to_string(options.report_interval.count()) + " ms': must be positive");
  if (options.stand_for_coordinator) {
    range_coordinator_options c;
    c.root = options.root;
    c.space = options.space;
    c.member_id = options.consumer_id;
    c.config = options.config;
    coordinator_ = std::make_unique<range_coordinator>(s, std::move(c));
  }
  core_ = std::make_shared<detail::range_consumer_core>(s, std::move(options));
  core_->start(s);
}

range_consumer::~range_consumer() {
  core_->stop();
  // Callers waiting in next() wake with errc::cancelled; they hold their
  // own reference to the core and never touch this object again, and we
  // return only once they have left it.
  core_->wait_callers_left();
  coordinator_.reset();
}

std::uint64_t range_consumer::next() { return next(core_->wait_timeout()); }

std::uint64_t range_consumer::next(std::chrono::milliseconds wait) {
  std::uint64_t value = 0;
  if (core_->fast_take(value)) return value;
  // From here on only `core`: this object may be destroyed while we wait.
  auto core = core_;
  auto ec = core->take(value, detail::deadline_after(wait));
  if (ec) throw core->failure(ec, wait);
  return value;
}

std::error_code range_consumer::try_next(std::uint64_t& value) noexcept {
  try {
    if (core_->fast_take(value)) return {};
    auto core = core_;
    return core->take(value, std::nullopt);
  } catch (...) {
    return make_error_code(errc::system_error);  // only an allocation failure can get here
  }
}

std::optional<range_lease> range_consumer::current_lease() const { return core_->current_lease(); }
std::optional<range_space_config> range_consumer::stored_config() const { return core_->stored_config(); }
range_consumer_statistics range_consumer::statistics() const { return core_->statistics(); }
bool range_consumer::is_coordinator() const { return coordinator_ && coordinator_->is_coordinator(); }

}  // namespace nominee
