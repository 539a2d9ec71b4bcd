#include "space_split_core.hpp"

#include <algorithm>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <nominee/log.hpp>

#include "key_codec.hpp"
#include "recipe_paths.hpp"
#include "session_operations.hpp"
#include "validate.hpp"

namespace nominee::detail {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Apart from the range allocator's /<root>/spaces: a split and a range space
// of the same name must not read each other's nodes.
constexpr const char* split_directory = "splits";
// Reads in flight at once while listing every range's status.
constexpr std::size_t read_window = 500;
// Compare-and-set rounds for a claim or a space-node update.
constexpr int max_cas_rounds = 50;
// Resends of an outcome whose first write ended in a connection loss.
constexpr int max_outcome_resends = 20;
// Tries of a work-key removal or release that fails.
constexpr int max_key_tries = 8;

// 200 ms, doubling, at most 5 s.
std::chrono::milliseconds backoff(int tries) {
  return std::min<std::chrono::milliseconds>(200ms * (1 << std::min(tries, 5)), 5s);
}

std::string range_label(const std::string& key) { return "range " + key; }

}  // namespace

space_split_core::space_split_core(session& s, space_split_options options, space_split::range_function on_range)
    : session_(&s), link_(s), executor_(s.get_executor()), strand_(asio::make_strand(s.get_executor())),
      options_(std::move(options)), on_range_(std::move(on_range)),
      space_{options_.lo, options_.hi, options_.range_size},
      space_path_(under(options_.root, split_directory, options_.space)), ranges_path_(space_path_ + "/ranges"),
      work_base_(work_base(options_.root, space_prefix(options_.space))) {}

void space_split_core::open() {
  divider_options d;
  d.root = options_.root;
  d.prefix = space_prefix(options_.space);
  d.member_id = options_.member_id;
  d.affinity = options_.affinity;
  d.endpoint = options_.endpoint;
  d.coalesce_window = options_.coalesce_window;
  d.reconcile_interval = options_.reconcile_interval;
  d.stop_timeout = options_.stop_timeout;
  divider::callbacks events;
  auto weak = weak_from_this();
  events.on_start = [weak](const key_lease& lease) {
    if (auto self = weak.lock()) self->later([lease](space_split_core& me) { me.on_start(lease); });
  };
  events.on_stop = [weak](const std::string& key, stop_reason reason) {
    if (auto self = weak.lock()) self->later([key, reason](space_split_core& me) { me.on_stop(key, reason); });
  };
  divider_ = std::make_unique<divider>(*session_, std::move(d), std::move(events));
  for (unsigned i = 0; i < options_.concurrency; ++i) threads_.emplace_back([this] { work(); });
}

void space_split_core::close() {
  gate_.close();  // waits for a strand handler that runs now; none runs after
  {
    std::lock_guard lock(queue_mutex_);
    shutting_down_ = true;
    for (auto& j : queue_) j->cancel();
    queue_.clear();
  }
  queue_changed_.notify_all();
  for (auto& [key, r] : runs_) r.stop.request_stop();
  for (auto& t : threads_) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach();  // destroyed from inside a range function: it cannot wait for itself
    else if (t.joinable())
      t.join();
  }
  threads_.clear();
  divider_.reset();
  keys_view_.reset();
  for (auto& [key, r] : runs_)
    if (r.timer) r.timer->cancel();
  for (auto& [key, r] : released_) r.timer->cancel();
  if (finish_timer_) finish_timer_->cancel();
  std::map<std::uint64_t, std::function<void()>> pending;
  {
    std::lock_guard lock(pending_mutex_);
    closed_ = true;
    pending.swap(pending_);
  }
  for (auto& [id, cancel] : pending) cancel();
}

// Runs f on the strand under our gate, after the current handler (the
// divider calls us from its own strand and gate).
template <class F>
void space_split_core::later(F f) {
  asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
    if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
  });
}

template <class F>
auto space_split_core::on_strand(F f) {
  return asio::bind_executor(strand_, [weak = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
    if (auto self = weak.lock()) self->gate_.run([&] { f(*self, std::forward<decltype(args)>(args)...); });
  });
}

void space_split_core::after(std::chrono::milliseconds delay, std::function<void(space_split_core&)> f) {
  auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
  timer->async_wait(on_strand([timer, f = std::move(f)](space_split_core& me, boost::system::error_code ec) {
    if (!ec) f(me);
  }));
}

// A completion that runs once: from its path, or from close() with cancelled.
template <class... Args>
auto space_split_core::track(completion<std::error_code, Args...> done) -> tracked<Args...> {
  struct cell {
    std::mutex mutex;
    completion<std::error_code, Args...> done;
  };
  auto c = std::make_shared<cell>();
  c->done = std::move(done);
  auto fire = [c](std::error_code ec, Args... args) {
    completion<std::error_code, Args...> d;
    {
      std::lock_guard lock(c->mutex);
      d = std::move(c->done);
      c->done = {};
    }
    if (d) d(ec, std::move(args)...);
  };
  std::uint64_t id = 0;
  {
    std::lock_guard lock(pending_mutex_);
    if (closed_) {
      fire(errc::cancelled, Args{}...);
      return [](std::error_code, Args...) {};
    }
    id = ++next_pending_;
    pending_[id] = [fire] { fire(errc::cancelled, Args{}...); };
  }
  return [fire, id, weak = weak_from_this()](std::error_code ec, Args... args) {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->pending_mutex_);
      self->pending_.erase(id);
    }
    fire(ec, std::move(args)...);
  };
}

std::string space_split_core::status_path(const std::string& key) const {
  return ranges_path_ + "/" + encode_key(key);
}

void space_split_core::note(const std::function<void(space_split_stats&)>& change) {
  std::lock_guard lock(mutex_);
  change(stats_);
}

// --- the public entry points ------------------------------------------------

void space_split_core::start(done_type done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    auto join = [finish](space_split_core& self) {
      self.divider_->async_start(self.on_strand([finish](space_split_core&, std::error_code ec) { finish(ec); }));
    };
    if (!me.options_.seed) return join(me);
    auto seeded = me.track(completion<std::error_code>(
        me.on_strand([finish, join](space_split_core& self, std::error_code ec) {
          if (ec) return finish(ec);
          join(self);
        }),
        me.executor_));
    me.seed_ranges(seeded);
  });
}

void space_split_core::seed(done_type done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) { me.seed_ranges(finish); });
}

void space_split_core::stop(done_type done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    me.divider_->async_flush_and_cancel(me.on_strand([finish](space_split_core&, std::error_code ec) {
      finish(ec == errc::not_started ? std::error_code() : ec);
    }));
  });
}

void space_split_core::abandon(done_type done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    auto marked = me.track(completion<std::error_code>(
        me.on_strand([finish](space_split_core& self, std::error_code ec) {
          if (ec) return finish(ec);
          self.read_statuses([finish](space_split_core& s, std::error_code rec, status_list list) {
            if (rec) return finish(rec);
            std::vector<std::string> keys;
            for (auto& [range, status] : list)
              if (!status || status->state == range_state::pending || status->state == range_state::running)
                keys.push_back(range.key);
            if (keys.empty()) return finish({});
            s.divider_->async_remove_work(std::move(keys),
                                          s.on_strand([finish](space_split_core&, std::error_code wec) { finish(wec); }));
          });
        }),
        me.executor_));
    me.update_space([](space_record& r) { r.abandoned = true; }, 0, marked);
  });
}

void space_split_core::progress(progress_done done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    me.read_progress([finish](space_split_core&, std::error_code ec, space_progress p) { finish(ec, p); });
  });
}

void space_split_core::read_progress(std::function<void(space_split_core&, std::error_code, space_progress)> then) {
  read_space([then](space_split_core& me, std::error_code ec, std::optional<space_record> record, std::int32_t) {
    if (ec && ec != errc::no_node) return then(me, ec, space_progress{});
    bool abandoned = record && record->abandoned;
    me.read_statuses([then, abandoned](space_split_core& self, std::error_code rec, status_list list) {
      if (rec) return then(self, rec, space_progress{});
      space_progress p;
      p.abandoned = abandoned;
      p.total = list.size();
      for (auto& [range, status] : list) {
        switch (status ? status->state : range_state::pending) {
          case range_state::pending: ++p.pending; break;
          case range_state::running: ++p.running; break;
          case range_state::done: ++p.done; break;
          case range_state::failed: ++p.failed; break;
        }
      }
      then(self, {}, p);
    });
  });
}

void space_split_core::statuses(statuses_done done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    me.read_statuses([finish](space_split_core&, std::error_code ec, status_list list) {
      std::vector<std::pair<space_range, range_status>> out;
      if (!ec)
        for (auto& [range, status] : list) out.emplace_back(range, status.value_or(range_status{}));
      finish(ec, std::move(out));
    });
  });
}

void space_split_core::wait_finished(progress_done done) {
  auto finish = track(std::move(done));
  later([finish](space_split_core& me) {
    me.finish_waiters_.push_back(finish);
    if (!me.keys_view_) {
      auto weak = me.weak_from_this();
      me.keys_view_ = std::make_unique<key_set_view>(
          *me.session_, me.work_base_, [weak](const std::vector<std::string>&, const std::vector<std::string>& removed, bool) {
            if (removed.empty()) return;
            if (auto self = weak.lock()) self->later([](space_split_core& core) { core.check_finished(); });
          });
    }
    me.arm_finish_check(0ms);
  });
}

std::set<std::string> space_split_core::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

space_split_stats space_split_core::stats() const {
  std::lock_guard lock(mutex_);
  auto s = stats_;
  s.running = running_.size();
  return s;
}

divider_status space_split_core::members() const {
  // The divider is set in open() and reset in close(): both on the owner's
  // thread, never concurrently with this accessor (the public class owns us).
  return divider_ ? divider_->status() : divider_status{};
}

// --- one range's life ---------------------------------------------------------

space_split_core::run_state* space_split_core::find(const std::string& key, std::uint64_t id) {
  auto it = runs_.find(key);
  return it != runs_.end() && it->second.id == id ? &it->second : nullptr;
}

void space_split_core::on_start(const key_lease& lease) {
  released_.erase(lease.key);  // it is ours again: our exclusion is gone
  auto& r = runs_[lease.key];
  r = run_state{};
  r.id = ++next_run_;
  r.lease = lease;
  r.range = parse_range_key(space_, lease.key);
  if (!r.range) {
    log(log_level::error, "space " + options_.space + ": work key '" + lease.key +
                              "' is not one of this space's ranges; it is not run");
    r.at = step::idle;
    return;
  }
  claim(lease.key, r.id);
}

void space_split_core::on_stop(const std::string& key, stop_reason reason) {
  auto it = runs_.find(key);
  if (it == runs_.end()) return confirm(key);
  auto& r = it->second;
  r.stopping = true;
  if (reason == stop_reason::removed) r.removed = true;
  r.stop.request_stop();
  log(log_level::debug, "space " + options_.space + ": " + range_label(key) + " stops (" +
                            std::string(to_string(reason)) + ")");
  switch (r.at) {
    case step::claiming:
      // Removed (abandoned): the claim may have written running; it ends
      // first (claim, claimed), then the status goes back to pending.
      if (r.removed) return;
      // Otherwise replies for this run find nothing and are dropped.
      [[fallthrough]];
    case step::idle:
      runs_.erase(it);
      return confirm(key);
    case step::queued:
      if (r.queued && !r.queued->cancel()) {
        // A thread took it already: its function runs (or is about to), so
        // the stop is confirmed once it returned, as for an executing run.
        note([](space_split_stats& s) { ++s.stopped; });
        return;
      }
      if (r.removed) {
        // Claimed (running) but never run: back to pending if abandoned.
        r.queued.reset();
        r.at = step::recording;
        return recorded_stop(key, r.id);
      }
      runs_.erase(it);
      return confirm(key);
    case step::executing:
      note([](space_split_stats& s) { ++s.stopped; });
      return;  // confirmed once the function returned and its outcome is written
    case step::recording:
      return;
  }
}

void space_split_core::claim(const std::string& key, std::uint64_t id) {
  auto* r = find(key, id);
  if (!r) return;
  if (r->stopping) {  // removed while claiming, before anything was written
    runs_.erase(key);
    return confirm(key);
  }
  if (++r->claims > max_cas_rounds) {
    log(log_level::error, "space " + options_.space + ": could not claim " + range_label(key) + "; releasing it");
    r->at = step::idle;
    return release_key(key, id, r->lease.node);
  }
  link_.get(status_path(key), {}, on_strand([key, id](space_split_core& me, std::error_code ec, node n) {
              auto* run = me.find(key, id);
              if (!run) return;
              if (run->stopping) {  // removed while claiming
                me.runs_.erase(key);
                return me.confirm(key);
              }
              if (ec == errc::no_node) {
                // Seeding adds the status before the work key: the space was
                // removed or seeded by hand. Nothing to run against.
                log(log_level::error, "space " + me.options_.space + ": " + range_label(key) + " has no status node");
                run->at = step::idle;
                return;
              }
              if (ec) {
                log(log_level::warn, "space " + me.options_.space + ": reading " + range_label(key) + ": " +
                                         ec.message() + "; trying again");
                return me.after(200ms, [key, id](space_split_core& self) { self.claim(key, id); });
              }
              me.claimed(key, id, n);
            }));
}

void space_split_core::claimed(const std::string& key, std::uint64_t id, const node& n) {
  auto* r = find(key, id);
  if (!r) return;
  if (r->stopping) {
    runs_.erase(key);
    return confirm(key);
  }
  auto current = decode_status(n.data).value_or(range_status{});
  if (current.state == range_state::done || current.state == range_state::failed) {
    // Finished while its key was (re)added: take it out of the work set again.
    note([](space_split_stats& s) { ++s.skipped; });
    r->at = step::idle;
    return remove_key(key);
  }
  bool resume = current.state == range_state::running && current.by == options_.member_id &&
                current.token == r->lease.token;
  auto next = current;
  next.state = range_state::running;
  next.by = options_.member_id;
  next.token = r->lease.token;
  if (!resume) ++next.attempts;
  link_.set(status_path(key), encode_status(next), n.stat.version,
            on_strand([key, id, next](space_split_core& me, std::error_code ec, stat st) {
              auto* run = me.find(key, id);
              if (!run) return;
              if (ec) {
                // bad_version: another writer got in first; a connection loss
                // leaves it unknown. Either way: read again and decide again.
                if (!is_bad_version(ec))
                  log(log_level::warn, "space " + me.options_.space + ": claiming " + range_label(key) + ": " +
                                           ec.message());
                auto delay = is_bad_version(ec) ? 0ms : 200ms;
                return me.after(delay, [key, id](space_split_core& self) { self.claim(key, id); });
              }
              run->version = st.version;
              run->status = next;
              if (run->stopping) {  // removed while the claim was in flight
                run->at = step::recording;
                return me.recorded_stop(key, id);
              }
              me.enqueue(key, *run);
            }));
}

void space_split_core::enqueue(const std::string& key, run_state& r) {
  auto j = std::make_shared<job>();
  j->key = key;
  j->run_id = r.id;
  j->run.range = *r.range;
  j->run.token = r.lease.token;
  j->run.owner_node = r.lease.node;
  j->run.attempt = r.status.attempts;
  j->run.stop = r.stop.get_token();
  r.queued = j;
  r.at = step::queued;
  {
    std::lock_guard lock(queue_mutex_);
    if (shutting_down_) return;
    queue_.push_back(std::move(j));
  }
  queue_changed_.notify_one();
}

void space_split_core::work() {
  while (true) {
    std::shared_ptr<job> j;
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [&] { return shutting_down_ || !queue_.empty(); });
      if (shutting_down_) return;
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!j->take()) continue;
    later([key = j->key, id = j->run_id](space_split_core& me) { me.began(key, id); });
    {
      std::lock_guard lock(mutex_);
      ++stats_.started;
      running_.insert(j->key);
    }
    range_outcome outcome;
    try {
      outcome = on_range_(j->run);
    } catch (const std::exception& e) {
      outcome = range_outcome::failed(std::string("the range function threw: ") + e.what());
    } catch (...) {
      outcome = range_outcome::failed("the range function threw a non-exception");
    }
    {
      std::lock_guard lock(mutex_);
      running_.erase(j->key);
    }
    later([key = j->key, id = j->run_id, outcome = std::move(outcome)](space_split_core& me) mutable {
      me.finished(key, id, std::move(outcome));
    });
  }
}

void space_split_core::began(const std::string& key, std::uint64_t id) {
  auto* r = find(key, id);
  if (!r || r->at != step::queued) return;
  r->at = step::executing;
  r->queued.reset();
  r->timer = std::make_shared<asio::steady_timer>(strand_, options_.range_timeout);
  r->timer->async_wait(on_strand([key, id](space_split_core& me, boost::system::error_code ec) {
    if (!ec) me.timed_out(key, id);
  }));
}

void space_split_core::timed_out(const std::string& key, std::uint64_t id) {
  auto* r = find(key, id);
  if (!r || r->at != step::executing || r->timed_out) return;
  r->timed_out = true;
  r->stop.request_stop();
  note([](space_split_stats& s) { ++s.timed_out; });
  auto why = "timed out after " + std::to_string(options_.range_timeout.count()) + " ms on " + options_.member_id;
  log(log_level::info, "space " + options_.space + ": " + range_label(key) + " " + why);
  // Recorded now, while the function winds down: its outcome, if it still
  // finishes, is written after this one (the version is ours).
  record_failure(key, id, std::move(why), {});
}

void space_split_core::finished(const std::string& key, std::uint64_t id, range_outcome outcome) {
  auto* r = find(key, id);
  if (!r) return;
  if (r->timer) r->timer->cancel();
  r->timer.reset();
  r->at = step::recording;
  if (r->writing) {
    // The timeout's failure is being written: the outcome goes after it, at
    // the version that write leaves (two writes at one version: one refused).
    r->after_write = [key, id, outcome = std::move(outcome)](space_split_core& me) mutable {
      me.finished(key, id, std::move(outcome));
    };
    return;
  }
  if (outcome.what == range_outcome::kind::done) {
    if (outcome.text.size() > max_range_result_bytes) {
      outcome = range_outcome::failed("result of " + std::to_string(outcome.text.size()) + " bytes, over " +
                                      std::to_string(max_range_result_bytes));
    } else {
      auto next = r->status;
      next.state = range_state::done;
      next.by = options_.member_id;
      next.result = std::move(outcome.text);
      return write_fenced(key, id, std::move(next), 0, [key, id](space_split_core& me, bool accepted) {
        if (accepted) {
          me.note([](space_split_stats& s) { ++s.completed; });
          me.remove_key(key);
        }
        me.settle(key, id);
      });
    }
  }
  if (outcome.what == range_outcome::kind::stopped && !r->stop.stop_requested())
    outcome = range_outcome::failed("the range function returned stopped() without a stop request");
  if (outcome.what == range_outcome::kind::stopped && r->removed && !r->failure_recorded)
    return recorded_stop(key, id);
  if (outcome.what == range_outcome::kind::stopped || r->failure_recorded) return settle(key, id);
  auto why = cut_utf8(outcome.text, max_range_result_bytes);
  record_failure(key, id, std::move(why), [key, id](space_split_core& me) { me.settle(key, id); });
}

// failures + 1; failed for good at max_failures (out of the work set), else
// pending again and released to the next member.
void space_split_core::record_failure(const std::string& key, std::uint64_t id, std::string why,
                                      std::function<void(space_split_core&)> then) {
  auto* r = find(key, id);
  if (!r) return;
  r->failure_recorded = true;
  auto next = r->status;
  ++next.failures;
  bool final = next.failures >= options_.max_failures;
  next.state = final ? range_state::failed : range_state::pending;
  next.by = options_.member_id;
  next.error = std::move(why);
  auto node = r->lease.node;
  write_fenced(key, id, std::move(next), 0, [key, id, final, node, then](space_split_core& me, bool accepted) {
    if (accepted) {
      me.note([](space_split_stats& s) { ++s.failed; });
      if (final)
        me.remove_key(key);
      else
        me.release_key(key, id, node);
    }
    if (then) then(me);
  });
}

// A stopped run whose key left the work set: when the space was abandoned,
// its status goes back from running to pending (fenced, as an outcome), so
// it does not show running for good.
void space_split_core::recorded_stop(const std::string& key, std::uint64_t id) {
  read_space([key, id](space_split_core& me, std::error_code ec, std::optional<space_record> record, std::int32_t) {
    auto* r = me.find(key, id);
    if (!r) return;
    if (ec || !record || !record->abandoned || r->status.state != range_state::running) return me.settle(key, id);
    auto next = r->status;
    next.state = range_state::pending;
    next.by = me.options_.member_id;
    me.write_fenced(key, id, std::move(next), 0, [key, id](space_split_core& self, bool) { self.settle(key, id); });
  });
}

// The outcome, only if nobody wrote the status since our last write: the
// fence is the status's version (a start elsewhere writes it). The multi
// also checks that our own owner node exists: [check owner node, set status
// @ version]. One write per run at a time; `then` runs once, with whether
// the status now holds `next`.
void space_split_core::write_fenced(const std::string& key, std::uint64_t id, range_status next, int tries,
                                   std::function<void(space_split_core&, bool)> then) {
  auto* r = find(key, id);
  if (!r) return;
  r->writing = true;
  auto done = [key, id, then = std::move(then)](space_split_core& me, bool accepted) {
    std::function<void(space_split_core&)> queued;
    if (auto* run = me.find(key, id)) {
      run->writing = false;
      queued = std::move(run->after_write);
      run->after_write = nullptr;
    }
    if (then) then(me, accepted);
    if (queued && me.find(key, id)) queued(me);
  };
  send_fenced(key, id, std::move(next), tries, std::move(done));
}

void space_split_core::send_fenced(const std::string& key, std::uint64_t id, range_status next, int tries,
                                  std::function<void(space_split_core&, bool)> then) {
  auto* r = find(key, id);
  if (!r) return;
  auto c = link_.lock();
  if (!c) {
    log(log_level::warn, "space " + options_.space + ": the outcome of " + range_label(key) +
                             " was not written: the session is gone");
    return then(*this, false);
  }
  std::vector<operation> ops;
  ops.push_back(op::check{r->lease.node, any_version});
  ops.push_back(op::set{status_path(key), encode_status(next), r->version});
  auto refused = [key](space_split_core& me, std::error_code ec) {
    me.note([](space_split_stats& s) { ++s.refused; });
    log(log_level::info, "space " + me.options_.space + ": the outcome of " + range_label(key) + " was refused (" +
                             ec.message() + "): another member started it, or our ownership ended");
  };
  start_multi(
      c, std::move(ops),
      completion<std::error_code, std::vector<operation_result>>(
          on_strand([key, id, next, tries, then, refused](space_split_core& me, std::error_code ec,
                                                          std::vector<operation_result> results) mutable {
            auto* run = me.find(key, id);
            if (!run) return;
            if (!ec) {
              if (results.size() == 2 && results[1].stat) run->version = results[1].stat->version;
              run->status = stored_form(next);
              return then(me, true);
            }
            // The first send's refusal is final. A resend's is not: the
            // earlier send, whose answer was lost, may have landed (then the
            // version moved, by our own write).
            if (tries == 0 && !is_connection_loss(ec)) {
              refused(me, ec);
              return then(me, false);
            }
            if (tries >= max_outcome_resends) {
              refused(me, ec);
              return then(me, false);
            }
            // Unknown outcome: look, then decide.
            me.link_.get(me.status_path(key), {},
                         me.on_strand([key, id, next, tries, then, refused, ec](space_split_core& self,
                                                                                std::error_code rec, node n) mutable {
                           auto* again = self.find(key, id);
                           if (!again) return;
                           if (!rec && n.stat.version == again->version + 1 && holds_status(n.data, next)) {
                             again->version = n.stat.version;
                             again->status = stored_form(next);
                             return then(self, true);
                           }
                           if (!rec && n.stat.version != again->version) {
                             refused(self, ec);
                             return then(self, false);
                           }
                           if (!rec && !is_connection_loss(ec)) {
                             // Still at our version, and the fence said no
                             // (our owner node is gone): not ours to write.
                             refused(self, ec);
                             return then(self, false);
                           }
                           self.after(200ms, [key, id, next, tries, then](space_split_core& s2) mutable {
                             s2.send_fenced(key, id, std::move(next), tries + 1, std::move(then));
                           });
                         }));
          }),
          c->executor()));
}

void space_split_core::settle(const std::string& key, std::uint64_t id) {
  auto* r = find(key, id);
  if (!r) return;
  r->at = step::idle;
  if (!r->stopping) return;
  runs_.erase(key);
  confirm(key);
}

void space_split_core::confirm(const std::string& key) {
  if (!divider_) return;
  auto ec = divider_->confirm_stop(key);
  if (ec && ec != errc::not_stopping)
    log(log_level::warn, "space " + options_.space + ": confirming the stop of " + range_label(key) + ": " +
                             ec.message());
}

// A finished range leaves the work set; a failed removal is tried again
// (the removal is idempotent), a few times with backoff.
void space_split_core::remove_key(const std::string& key, int tries) {
  divider_->async_remove_work({key}, on_strand([key, tries](space_split_core& me, std::error_code ec) {
                                if (!ec) return;
                                bool again = tries + 1 < max_key_tries && ec != errc::cancelled &&
                                             ec != errc::session_closed;
                                log(log_level::warn, "space " + me.options_.space + ": removing the work key of " +
                                                         range_label(key) + ": " + ec.message() +
                                                         (again ? "; trying again" : ""));
                                if (again)
                                  me.after(backoff(tries), [key, tries](space_split_core& self) {
                                    self.remove_key(key, tries + 1);
                                  });
                              }));
}

// A failed range goes to the next member. While the run is still ours (not
// stopped by the divider), a failed release is tried again; when it keeps
// failing, the range runs here again instead of sitting owned and idle.
void space_split_core::release_key(const std::string& key, std::uint64_t id, const std::string& owner_node,
                                   int tries) {
  divider_->async_release(key, on_strand([key, id, owner_node, tries](space_split_core& me, std::error_code ec) {
                            if (ec) {
                              log(log_level::warn, "space " + me.options_.space + ": releasing " + range_label(key) +
                                                       ": " + ec.message());
                              if (ec == errc::cancelled || ec == errc::session_closed) return;
                              auto* r = me.find(key, id);
                              if (!r || r->stopping) return;  // not ours any more: nothing to hand over
                              if (tries + 1 < max_key_tries)
                                return me.after(backoff(tries), [key, id, owner_node, tries](space_split_core& self) {
                                  self.release_key(key, id, owner_node, tries + 1);
                                });
                              return me.restart(key, id);
                            }
                            auto& rel = me.released_[key];
                            rel.owner_node = owner_node;
                            rel.absent = 0;
                            if (!rel.timer) rel.timer = std::make_shared<asio::steady_timer>(me.strand_);
                            auto interval = std::clamp<std::chrono::milliseconds>(me.options_.range_timeout, 1s, 30s);
                            rel.timer->expires_after(interval);
                            rel.timer->async_wait(
                                me.on_strand([key](space_split_core& self, boost::system::error_code tec) {
                                  if (!tec) self.check_released(key);
                                }));
                          }));
}

// A range we could not release: a fresh run of it here (it claims the
// status again, counting a new attempt). Once the run settled; while its
// function still runs (a timeout), after it returned.
void space_split_core::restart(const std::string& key, std::uint64_t id) {
  auto* r = find(key, id);
  if (!r || r->stopping) return;
  if (r->at != step::idle) return after(backoff(max_key_tries), [key, id](space_split_core& me) { me.restart(key, id); });
  log(log_level::warn, "space " + options_.space + ": could not release " + range_label(key) + "; running it again here");
  auto lease = r->lease;
  on_start(lease);
}

// Released ranges go to the next member in their ranking. When every member
// released one, nobody owns it: seen twice in a row (a handoff takes
// milliseconds, the checks are a range_timeout apart), we take it back.
void space_split_core::check_released(const std::string& key) {
  if (!released_.count(key)) return;
  link_.get(status_path(key), {}, on_strand([key](space_split_core& me, std::error_code ec, node n) {
              auto it = me.released_.find(key);
              if (it == me.released_.end()) return;
              auto status = ec ? std::nullopt : decode_status(n.data);
              if (ec == errc::no_node ||
                  (status && (status->state == range_state::done || status->state == range_state::failed))) {
                me.released_.erase(it);
                return;
              }
              me.link_.exists(it->second.owner_node, {},
                              me.on_strand([key](space_split_core& self, std::error_code eec, std::optional<stat> st) {
                                auto rel = self.released_.find(key);
                                if (rel == self.released_.end()) return;
                                if (!eec) rel->second.absent = st ? 0 : rel->second.absent + 1;
                                if (rel->second.absent >= 2) {
                                  log(log_level::info, "space " + self.options_.space + ": nobody took " +
                                                           range_label(key) + " after our release; taking it back");
                                  self.released_.erase(rel);
                                  self.divider_->async_reclaim(key, self.on_strand([](space_split_core&, std::error_code) {}));
                                  return;
                                }
                                auto interval = std::clamp<std::chrono::milliseconds>(self.options_.range_timeout, 1s, 30s);
                                rel->second.timer->expires_after(interval);
                                rel->second.timer->async_wait(
                                    self.on_strand([key](space_split_core& s2, boost::system::error_code tec) {
                                      if (!tec) s2.check_released(key);
                                    }));
                              }));
            }));
}

// --- reads and seeding --------------------------------------------------------------

void space_split_core::read_statuses(status_reply reply) {
  struct reading {
    std::vector<space_range> ranges;
    status_list out;
    std::size_t next = 0;
    std::size_t in_flight = 0;
    std::error_code error;
    status_reply reply;
    bool replied = false;
  };
  auto st = std::make_shared<reading>();
  st->ranges = split_space(space_);
  st->out.resize(st->ranges.size());
  st->reply = std::move(reply);
  auto pump = std::make_shared<std::function<void(space_split_core&)>>();
  *pump = [st, pump_weak = std::weak_ptr<std::function<void(space_split_core&)>>(pump)](space_split_core& me) {
    auto pump_self = pump_weak.lock();
    while (!st->error && st->next < st->ranges.size() && st->in_flight < read_window) {
      auto i = st->next++;
      ++st->in_flight;
      st->out[i].first = st->ranges[i];
      me.link_.get(me.status_path(st->ranges[i].key), {},
                   me.on_strand([st, i, pump_self](space_split_core& self, std::error_code ec, node n) {
                     --st->in_flight;
                     if (ec && ec != errc::no_node && !st->error) st->error = ec;
                     if (!ec) st->out[i].second = decode_status(n.data);
                     (*pump_self)(self);
                   }));
    }
    if (st->in_flight == 0 && !st->replied && (st->error || st->next >= st->ranges.size())) {
      st->replied = true;
      auto reply = std::move(st->reply);
      reply(me, st->error, st->error ? status_list{} : std::move(st->out));
    }
  };
  (*pump)(*this);
}

void space_split_core::read_space(
    std::function<void(space_split_core&, std::error_code, std::optional<space_record>, std::int32_t)> then) {
  link_.get(space_path_, {}, on_strand([then](space_split_core& me, std::error_code ec, node n) {
              if (ec) return then(me, ec, std::nullopt, -1);
              auto record = decode_space(n.data);
              if (!record) {
                log(log_level::error, describe("space node " + me.space_path_, n.data) + " is not a space definition");
                return then(me, errc::invalid_option, std::nullopt, n.stat.version);
              }
              then(me, {}, record, n.stat.version);
            }));
}

// Read-modify-CAS of the space node.
void space_split_core::update_space(std::function<void(space_record&)> change, int tries, tracked<> done) {
  read_space([change, tries, done](space_split_core& me, std::error_code ec, std::optional<space_record> record,
                                   std::int32_t version) {
    if (ec) return done(ec);
    change(*record);
    me.link_.set(me.space_path_, encode_space(*record), version,
                 me.on_strand([change, tries, done](space_split_core& self, std::error_code sec, stat) {
                   if (is_bad_version(sec) && tries < max_cas_rounds) return self.update_space(change, tries + 1, done);
                   done(sec);
                 }));
  });
}

void space_split_core::seed_ranges(tracked<> done) {
  auto definition = space_record{space_, false, false};
  link_.ensure_path(under(options_.root, split_directory), on_strand([done, definition](space_split_core& me,
                                                                                 std::error_code ec) {
    if (ec) return done(ec);
    me.link_.create(
        me.space_path_, encode_space(definition), {}, false,
        me.on_strand([done](space_split_core& self, std::error_code cec, const created_node&) {
          if (cec && !is_node_exists(cec)) return done(cec);
          self.read_space([done](space_split_core& s, std::error_code rec, std::optional<space_record> record,
                                 std::int32_t) {
            if (rec) return done(rec);
            if (record->space != s.space_) {
              log(log_level::error,
                  "space " + s.options_.space + " exists as [" + std::to_string(record->space.lo) + ", " +
                      std::to_string(record->space.hi) + ") in ranges of " + std::to_string(record->space.range_size) +
                      "; these options say [" + std::to_string(s.space_.lo) + ", " + std::to_string(s.space_.hi) +
                      ") in ranges of " + std::to_string(s.space_.range_size));
              return done(errc::invalid_option);
            }
            if (record->seeded) return done({});
            s.link_.ensure_path(s.ranges_path_, s.on_strand([done](space_split_core& s2, std::error_code pec) {
              if (pec) return done(pec);
              s2.read_statuses([done](space_split_core& seeder, std::error_code lec, status_list list) {
                auto* self2 = &seeder;
                if (lec) return done(lec);
                std::vector<std::string> missing;
                for (auto& [range, status] : list)
                  if (!status) missing.push_back(self2->status_path(range.key));
                auto added = self2->track(completion<std::error_code>(
                    self2->on_strand([done, list](space_split_core& s3, std::error_code aec) {
                      if (aec) return done(aec);
                      // Work keys for every range not finished (a done range
                      // that a concurrent seeder re-adds is skipped at its start).
                      std::vector<std::string> keys;
                      for (auto& [range, status] : list)
                        if (!status || status->state == range_state::pending || status->state == range_state::running)
                          keys.push_back(range.key);
                      s3.divider_->async_add_work(
                          std::move(keys), s3.on_strand([done](space_split_core& s4, std::error_code wec) {
                            if (wec) return done(wec);
                            s4.update_space([](space_record& r) { r.seeded = true; }, 0, done);
                          }));
                    }),
                    self2->executor_));
                self2->create_statuses(std::move(missing), 0, added);
              });
            }));
          });
        }));
  }));
}

// Creates pending status nodes in multis of at most max_multi_operations; a
// batch that trips over one that exists (a concurrent seeder) goes one by one.
void space_split_core::create_statuses(std::vector<std::string> paths, std::size_t from, tracked<> done) {
  if (from >= paths.size()) return done({});
  auto end = std::min(paths.size(), from + max_multi_operations);
  std::vector<operation> ops;
  auto pending = encode_status(range_status{});
  for (auto i = from; i < end; ++i) ops.push_back(op::create{paths[i], pending, {}});
  auto c = link_.lock();
  if (!c) return done(errc::session_closed);
  start_multi(c, std::move(ops),
              completion<std::error_code, std::vector<operation_result>>(
                  on_strand([paths, from, end, done](space_split_core& me, std::error_code ec,
                                                     std::vector<operation_result>) mutable {
                    if (!ec) return me.create_statuses(std::move(paths), end, done);
                    if (is_node_exists(ec)) return me.create_one_by_one(std::move(paths), from, end, from, done);
                    done(ec);
                  }),
                  c->executor()));
}

void space_split_core::create_one_by_one(std::vector<std::string> paths, std::size_t i, std::size_t end,
                                         std::size_t from, tracked<> done) {
  if (i >= end) return create_statuses(std::move(paths), end, done);
  auto path = paths[i];
  link_.create(path, encode_status(range_status{}), {}, false,
               on_strand([paths = std::move(paths), i, end, from, done](space_split_core& me, std::error_code ec,
                                                                         const created_node&) mutable {
                 if (ec && !is_node_exists(ec)) return done(ec);
                 me.create_one_by_one(std::move(paths), i + 1, end, from, done);
               }));
}

void space_split_core::arm_finish_check(std::chrono::milliseconds delay) {
  if (!finish_timer_) finish_timer_ = std::make_shared<asio::steady_timer>(strand_);
  finish_timer_->expires_after(delay);
  finish_timer_->async_wait(on_strand([](space_split_core& me, boost::system::error_code ec) {
    if (!ec) me.check_finished();
  }));
}

// Cheap until the work set looks empty (our view of it), then one read of
// every status to be sure; at most one such read a second.
void space_split_core::check_finished() {
  if (finish_waiters_.empty() || finish_read_in_flight_) return;
  if (!keys_view_ || !keys_view_->complete() || !keys_view_->keys().empty()) return arm_finish_check(250ms);
  finish_read_in_flight_ = true;
  read_progress([](space_split_core& me, std::error_code ec, space_progress p) {
    me.finish_read_in_flight_ = false;
    if (!ec && (p.finished() || p.abandoned)) {
      auto waiters = std::move(me.finish_waiters_);
      me.finish_waiters_.clear();
      me.keys_view_.reset();
      for (auto& w : waiters) w({}, p);
      return;
    }
    me.arm_finish_check(1s);
  });
}

}  // namespace nominee::detail
