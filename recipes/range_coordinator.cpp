// The coordinator of a range space: while this process holds the role
// space-manager:<space>, it reads each consumer's report and lease node and
// writes the consumer's next grant, size and acknowledged returns.
//
// It keeps no state of its own that matters: every decision is made from a
// fresh read of the consumer's report, its lease node, the cursor and the
// free list, and written back in one multi guarded by versions (lease node,
// cursor) and existence (the free node a grant consumes). A stale
// coordinator's write therefore fails, and one whose outcome is unknown (a
// connection loss) is settled by the next read.
#include <nominee/ranges.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/election.hpp>
#include <nominee/log.hpp>
#include <nominee/watched_children.hpp>

#include "range_layout.hpp"
#include "range_sizing.hpp"
#include "range_space.hpp"
#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "validate.hpp"

namespace nominee {
namespace detail {

namespace asio = boost::asio;

class range_coordinator_core : public std::enable_shared_from_this<range_coordinator_core> {
 public:
  range_coordinator_core(session& s, range_coordinator_options options)
      : link_(s),
        strand_(asio::make_strand(s.get_executor())),
        retry_timer_(strand_),
        sweep_timer_(strand_),
        options_(std::move(options)),
        paths_(make_range_paths(options_.root, options_.space)) {}

  void start(session& s) {
    auto weak = weak_from_this();
    children_ = std::make_unique<watched_children>(
        s, paths_.consumers_dir,
        [weak](const children_change& change) {
          if (auto self = weak.lock()) self->on_children(change);
        },
        strand_);
    candidate::callbacks cb;
    cb.on_elected = [weak](const term& t) {
      if (auto self = weak.lock()) asio::post(self->strand_, [self, t] { self->on_elected(t); });
    };
    cb.on_revoked = [weak](revoke_reason why) {
      if (auto self = weak.lock()) asio::post(self->strand_, [self, why] { self->on_revoked(why); });
    };
    election_options e;
    e.root = options_.root;
    e.role = range_role(options_.space);
    e.member_id = options_.member_id;
    e.endpoint = options_.endpoint;
    candidate_ = std::make_unique<candidate>(s, std::move(e), std::move(cb));
  }

  // From the owner's destructor: nothing is sent or decided afterwards.
  void stop() {
    candidate_.reset();  // withdraws; no election callback after this
    children_.reset();
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      holding_ = false;
    }
    asio::post(strand_, [self = shared_from_this()] {
      self->active_ = false;
      ++self->epoch_;
      self->retry_timer_.cancel();
      self->sweep_timer_.cancel();
    });
  }

  bool is_coordinator() const {
    std::lock_guard lock(mutex_);
    return holding_;
  }
  range_coordinator_statistics statistics() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  bool stopped() const {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

  // --- term -----------------------------------------------------------------

  void on_elected(const term& t) {
    if (stopped()) return;
    active_ = true;
    auto epoch = ++epoch_;
    busy_ = false;
    clear_queue();
    armed_.clear();  // a get dropped with the last term may have set no watch: arm again
    log(log_level::info, "range space " + paths_.base + ": coordinating (token " + std::to_string(t.token) + ")");
    open_range_space(link_, strand_, paths_, options_.config,
                     [weak = weak_from_this(), epoch](std::error_code ec, std::optional<range_space_config> stored) {
                       auto self = weak.lock();
                       if (!self || self->epoch_ != epoch || !self->active_) return;
                       self->on_opened(ec, stored);
                     });
  }

  void on_opened(std::error_code ec, std::optional<range_space_config> stored) {
    if (ec || !stored) {
      log(log_level::warn, "range space " + paths_.base + ": could not open (" + ec.message() + "), trying again");
      auto epoch = epoch_;
      retry_timer_.expires_after(std::chrono::milliseconds(200));
      retry_timer_.async_wait([weak = weak_from_this(), epoch](std::error_code e) {
        auto self = weak.lock();
        if (!self || e || self->epoch_ != epoch || !self->active_) return;
        self->open_again();
      });
      return;
    }
    config_ = *stored;
    opened_ = true;
    {
      std::lock_guard lock(mutex_);
      holding_ = true;
      ++stats_.terms;
    }
    mark_all();
    schedule_sweep();
    pump();
  }

  void open_again() {
    auto epoch = epoch_;
    open_range_space(link_, strand_, paths_, options_.config,
                     [weak = weak_from_this(), epoch](std::error_code ec, std::optional<range_space_config> stored) {
                       auto self = weak.lock();
                       if (!self || self->epoch_ != epoch || !self->active_) return;
                       self->on_opened(ec, stored);
                     });
  }

  void on_revoked(revoke_reason why) {
    {
      std::lock_guard lock(mutex_);
      holding_ = false;
    }
    if (!active_) return;
    log(log_level::info, "range space " + paths_.base + ": no longer coordinating (" + std::string(to_string(why)) + ")");
    active_ = false;
    opened_ = false;
    ++epoch_;
    busy_ = false;
    backing_off_ = false;
    clear_queue();
    retry_timer_.cancel();
    sweep_timer_.cancel();
  }

  // A re-read of every consumer now and then, in case a watch was missed
  // (for example while the session was between two servers).
  void schedule_sweep() {
    auto period = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(2000), 2 * config_.target_lease);
    auto epoch = epoch_;
    sweep_timer_.expires_after(period);
    sweep_timer_.async_wait([weak = weak_from_this(), epoch](std::error_code e) {
      auto self = weak.lock();
      if (!self || e || self->epoch_ != epoch || !self->active_) return;
      self->mark_all();
      self->pump();
      self->schedule_sweep();
    });
  }

  // --- what to look at --------------------------------------------------------

  void on_children(const children_change& change) {
    known_ = std::set<std::string>(change.current.begin(), change.current.end());
    for (auto it = armed_.begin(); it != armed_.end();)
      it = known_.count(*it) ? std::next(it) : armed_.erase(it);
    for (auto it = failures_.begin(); it != failures_.end();)
      it = known_.count(it->first) ? std::next(it) : failures_.erase(it);
    if (!active_ || !opened_) return;
    for (const auto& id : change.added) mark(id);
    pump();
  }

  // First come, first served: each consumer at most once in the queue.
  void mark(const std::string& id) {
    if (queued_.insert(id).second) queue_.push_back(id);
  }

  void clear_queue() {
    queue_.clear();
    queued_.clear();
    failures_.clear();
  }

  void mark_all() {
    for (const auto& id : known_) mark(id);
  }

  session::watcher consumer_watcher(const std::string& id) {
    return [weak = weak_from_this(), id](const watch_event&) {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->strand_, [self, id] {
        self->armed_.erase(id);
        if (!self->active_ || !self->opened_) return;
        self->mark(id);
        self->pump();
      });
    };
  }

  void pump() {
    if (!active_ || !opened_ || busy_ || backing_off_ || queue_.empty() || stopped()) return;
    auto id = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(id);
    busy_ = true;
    auto job = std::make_shared<work>();
    job->id = id;
    job->epoch = epoch_;
    read_report(job);
  }

  // --- one consumer: read, decide, write --------------------------------------

  struct work {
    std::string id;
    std::uint64_t epoch = 0;
    consumer_report report;
    stat report_stat;
    lease_record lease;
    std::int32_t lease_version = -1;  // -1: no lease node yet
    std::uint64_t cursor = 0;
    std::int32_t cursor_version = 0;
    std::vector<value_range> free_ranges;
  };
  using work_ptr = std::shared_ptr<work>;

  template <class F>
  auto step(const work_ptr& job, F f) {
    return asio::bind_executor(strand_, [weak = weak_from_this(), job, f = std::move(f)](auto&&... args) {
      auto self = weak.lock();
      if (!self || self->epoch_ != job->epoch || !self->active_) return;
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }

  void read_report(const work_ptr& job) {
    // Marked armed when the get is issued, not in its completion: on a
    // multi-threaded executor the watch may fire (and unmark it) before the
    // completion runs, which would leave it marked with no watch set.
    bool arm = armed_.insert(job->id).second;
    link_.get(paths_.consumer(job->id), arm ? consumer_watcher(job->id) : session::watcher{},
              step(job, [job, arm](range_coordinator_core& self, std::error_code ec, const node& n) {
                if (ec && arm) self.armed_.erase(job->id);  // a failed get sets no watch
                if (is_no_node(ec)) return self.done(job, {});  // gone: the children watch sees it come back
                if (ec) return self.done(job, ec);
                auto report = decode_consumer_report(n.data);
                if (!report) {
                  log(log_level::warn, "range consumer " + n.path + " holds a report that cannot be read");
                  return self.done(job, {});
                }
                job->report = std::move(*report);
                job->report_stat = n.stat;
                self.read_lease(job);
              }));
  }

  void read_lease(const work_ptr& job) {
    link_.get(paths_.lease(job->id), session::watcher{},
              step(job, [job](range_coordinator_core& self, std::error_code ec, const node& n) {
                if (is_no_node(ec)) {
                  job->lease = lease_record{};
                  job->lease.block = self.config_.min_block;
                  // Recreated (say, removed by hand): number on from what the
                  // consumer has taken, or it would ignore every grant.
                  if (self.owner_matches(*job)) job->lease.next_n = std::max<std::uint64_t>(1, job->report.taken + 1);
                  job->lease_version = -1;
                } else if (ec) {
                  return self.done(job, ec);
                } else {
                  auto lease = decode_lease_record(n.data);
                  if (!lease) {
                    // Never overwrite what we cannot read: values could be lost twice over.
                    log(log_level::error, "range lease " + n.path + " cannot be read; leaving it alone");
                    return self.done(job, {});
                  }
                  job->lease = std::move(*lease);
                  job->lease_version = n.stat.version;
                }
                self.read_cursor(job);
              }));
  }

  void read_cursor(const work_ptr& job) {
    link_.get(paths_.cursor, session::watcher{},
              step(job, [job](range_coordinator_core& self, std::error_code ec, const node& n) {
                if (ec) return self.done(job, ec);
                auto cursor = decode_cursor(n.data);
                if (!cursor) {
                  log(log_level::error, "range cursor " + n.path + " cannot be read; granting nothing");
                  return self.done(job, {});
                }
                job->cursor = *cursor;
                job->cursor_version = n.stat.version;
                if (!self.needs_grant(*job)) return self.decide(job);
                self.read_free(job);
              }));
  }

  void read_free(const work_ptr& job) {
    link_.get_children(paths_.free_dir, session::watcher{},
                       step(job, [job](range_coordinator_core& self, std::error_code ec, const children& c) {
                         if (ec) return self.done(job, ec);
                         for (const auto& name : c.names)
                           if (auto r = parse_free_name(name)) job->free_ranges.push_back(*r);
                         self.decide(job);
                       }));
  }

  bool owner_matches(const work& job) const {
    return job.report.session != 0 && job.report.session == job.report_stat.ephemeral_owner;
  }

  bool needs_grant(const work& job) const {
    if (!owner_matches(job) || !job.report.want) return false;
    for (const auto& g : job.lease.grants)
      if (g.session == job.report.session && g.czxid == job.report_stat.czxid && g.n > job.report.taken)
        return false;  // one is waiting for it
    return true;
  }

  bool in_space(const value_range& r) const { return !r.empty() && r.lo >= config_.lo && r.hi <= config_.hi; }

  void decide(const work_ptr& job) {
    auto& report = job->report;
    auto lease = job->lease;
    const auto czxid = job->report_stat.czxid;
    std::vector<operation> ops;
    std::uint64_t returned = 0, returns = 0;
    const bool owner = owner_matches(*job);

    // Returned tails: each processed once per registration (czxid, seq).
    if (owner && lease.ret_czxid <= czxid) {
      auto returns_sorted = report.returns;
      std::sort(returns_sorted.begin(), returns_sorted.end(),
                [](const range_return& a, const range_return& b) { return a.seq < b.seq; });
      for (const auto& ret : returns_sorted) {
        if (lease.ret_czxid == czxid && ret.seq <= lease.ret_seq) continue;
        if (ops.size() + ret.ranges.size() + 4 > max_multi_operations) break;  // the rest next time
        for (const auto& r : ret.ranges) {
          if (!in_space(r)) {
            log(log_level::error, "range consumer " + job->id + " returned " + free_name(r) +
                                      ", outside the space; ignored");
            continue;
          }
          ops.push_back(op::create{paths_.free_node(r), "", {}});
          returned += r.size();
          ++returns;
        }
        if (ret.idle) lease.block = size_after_idle(lease.block, config_);
        lease.ret_czxid = czxid;
        lease.ret_seq = ret.seq;
      }
    }
    const bool created_free = !ops.empty();

    // Grants queued for another registration (another session, or another
    // consumer object with this id on the same session), or taken already,
    // leave the queue (their values stay granted: never handed out again).
    if (owner) {
      std::erase_if(lease.grants, [&](const range_grant& g) {
        return g.session != report.session || g.czxid != czxid || g.n <= report.taken;
      });
      // Size: once per used-up grant.
      if (report.used_n > lease.sized_n && report.used_n < lease.next_n && report.used_ms >= 0) {
        lease.block = size_after_use(lease.block, std::chrono::milliseconds(report.used_ms), config_);
        lease.sized_n = report.used_n;
      }
    }
    lease.block = clamp_block(lease.block, config_);

    std::uint64_t fresh = 0, reclaimed = 0;
    bool granted = false;
    if (needs_grant(*job)) {
      auto plan = plan_grant(job->cursor, job->free_ranges, lease.block, config_);
      if (plan.granted.empty()) {
        lease.exhausted = true;
      } else {
        lease.exhausted = false;
        lease.grants.push_back(range_grant{lease.next_n++, report.session, plan.granted, czxid});
        granted = true;
        if (plan.taken_free) {
          ops.push_back(op::remove{paths_.free_node(*plan.taken_free), 0});  // free nodes are never set
          if (plan.free_remainder) ops.push_back(op::create{paths_.free_node(*plan.free_remainder), "", {}});
          reclaimed = plan.granted.size();
        }
        if (plan.new_cursor) {
          ops.push_back(op::set{paths_.cursor, encode_cursor(*plan.new_cursor), job->cursor_version});
          fresh = plan.granted.size();
        }
      }
    }

    auto encoded = encode(lease);
    bool lease_changed = job->lease_version < 0 || encoded != encode(job->lease);
    if (!lease_changed && ops.empty()) return done(job, {});
    if (job->lease_version < 0)
      ops.push_back(op::create{paths_.lease(job->id), encoded, {}});
    else
      ops.push_back(op::set{paths_.lease(job->id), encoded, job->lease_version});

    range_multi(link_, std::move(ops),
                step(job, [job, created_free, granted, fresh, reclaimed, returned, returns](
                              range_coordinator_core& self, std::error_code ec, const std::vector<operation_result>&) {
                  {
                    std::lock_guard lock(self.mutex_);
                    ++self.stats_.zookeeper_writes;
                    if (!ec) {
                      self.stats_.grants += granted ? 1 : 0;
                      self.stats_.fresh_values += fresh;
                      self.stats_.reclaimed_values += reclaimed;
                      self.stats_.returns += returns;
                    } else if (is_bad_version(ec) || is_node_exists(ec) || is_no_node(ec)) {
                      ++self.stats_.conflicts;
                    }
                  }
                  (void)returned;
                  if (!ec && created_free) self.mark_all();  // waiting consumers may be served now
                  // Once more: returns over the multi limit, or a report that came meanwhile.
                  if (!ec && created_free) self.mark(job->id);
                  self.done(job, ec);
                }));
  }

  // A job ends: on an error the consumer is looked at again after a pause
  // (everything is re-read, so a write that did land is seen as done).
  // A failed consumer goes to the back of the queue (the others are served
  // first); after park_after identical failures in a row (same error, same
  // report) it is parked: not queued again until its report changes (its
  // watch), the children change, or the next sweep.
  static constexpr int park_after = 5;

  void done(const work_ptr& job, std::error_code ec) {
    busy_ = false;
    if (!ec) failures_.erase(job->id);
    if (ec) {
      if (!is_bad_version(ec) && !is_node_exists(ec) && !is_no_node(ec))
        log(log_level::debug, "range coordinator " + paths_.base + " " + job->id + ": " + ec.message());
      auto& f = failures_[job->id];
      const auto report_mzxid = job->report_stat.mzxid;  // 0: the report was not read
      if (f.count > 0 && f.ec == ec && f.report_mzxid == report_mzxid) {
        ++f.count;
      } else {
        f = failure{ec, report_mzxid, 1};
      }
      // A lost connection is not the consumer's fault: never parked for it.
      if (f.count < park_after || is_retriable(ec) || is_session_expired(ec)) {
        mark(job->id);
      } else if (f.count == park_after) {
        log(log_level::warn, "range coordinator " + paths_.base + ": consumer " + job->id + " failed " +
                                 std::to_string(f.count) + " times in a row (" + ec.message() +
                                 "); parked until its report changes or the next sweep");
      }
      backing_off_ = true;
      std::uniform_int_distribution<int> jitter(10, 60);
      retry_timer_.expires_after(std::chrono::milliseconds(jitter(random_)));
      retry_timer_.async_wait([weak = weak_from_this(), epoch = epoch_](std::error_code e) {
        auto self = weak.lock();
        if (!self || e || self->epoch_ != epoch) return;
        self->backing_off_ = false;
        self->pump();
      });
      return;
    }
    pump();
  }

  session_link link_;
  range_strand strand_;
  asio::steady_timer retry_timer_;
  asio::steady_timer sweep_timer_;
  range_coordinator_options options_;
  range_paths paths_;
  std::unique_ptr<candidate> candidate_;         // user thread only (start, stop)
  std::unique_ptr<watched_children> children_;   // user thread only (start, stop)

  // strand only
  bool active_ = false;
  bool opened_ = false;
  std::uint64_t epoch_ = 0;
  range_space_config config_;
  std::set<std::string> known_;  // consumers listed
  std::set<std::string> armed_;  // consumers whose node has our data watch
  std::deque<std::string> queue_;  // consumers to look at, first come first served
  std::set<std::string> queued_;   // what queue_ holds
  struct failure {
    std::error_code ec;
    std::int64_t report_mzxid = 0;
    int count = 0;
  };
  std::map<std::string, failure> failures_;  // consecutive identical failures, per consumer
  bool busy_ = false;
  bool backing_off_ = false;
  std::minstd_rand random_{std::random_device{}()};

  mutable std::mutex mutex_;
  bool stopped_ = false;
  bool holding_ = false;
  range_coordinator_statistics stats_;
};

}  // namespace detail

range_coordinator::range_coordinator(session& s, range_coordinator_options options) {
  detail::require_root("range_coordinator_options.root", options.root);
  detail::require_name("range_coordinator_options.space", options.space);
  detail::require_name("range_coordinator_options.member_id", options.member_id);
  detail::require_name("range_coordinator_options.space (as the role space-manager:<space>)",
                       detail::range_role(options.space));
  detail::require_valid_space("range_coordinator_options.config", options.config);
  core_ = std::make_shared<detail::range_coordinator_core>(s, std::move(options));
  core_->start(s);
}

range_coordinator::~range_coordinator() { core_->stop(); }

bool range_coordinator::is_coordinator() const { return core_->is_coordinator(); }
range_coordinator_statistics range_coordinator::statistics() const { return core_->statistics(); }

}  // namespace nominee
