#include "session_core.hpp"

#include <boost/asio/post.hpp>

#include <nominee/error.hpp>
#include <nominee/log.hpp>

#include "backoff.hpp"
#include "fault_injection.hpp"
#include "session_operations.hpp"
#include "validate.hpp"

namespace nominee::detail {

namespace asio = boost::asio;

std::shared_ptr<session_core> session_core::create(asio::any_io_executor executor, session_options options) {
  auto problem = check_session_options(options);
  if (problem.error) throw error(problem.error, describe(problem.field, problem.value));
  std::shared_ptr<session_core> core(new session_core(std::move(executor), std::move(options)));
  core->open_handle();
  return core;
}

session_core::session_core(asio::any_io_executor executor, session_options options)
    : executor_(std::move(executor)),
      strand_(asio::make_strand(executor_)),
      options_(std::move(options)),
      default_acl_(options_.default_acl  ? *options_.default_acl
                   : options_.digest.empty() ? open_acl()
                                             : creator_all_world_read_acl()),
      orphan_timer_(strand_) {}

session_core::~session_core() {
  // session::~session closed us already; this covers a core that never got
  // that far. Nothing may be posted from here (no shared_from_this).
  std::shared_ptr<zookeeper_handle> handle;
  std::vector<closer> closers;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    handle = std::move(handle_);
    closers = std::move(closers_);
  }
  if (handle) handle->close();  // here, even if a sender still holds a reference
  handle.reset();
  for (auto& c : closers) c.thread.join();
}

void session_core::open_handle() {
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    generation = ++generation_;
    early_states_.clear();
  }
  auto handle = std::make_shared<zookeeper_handle>(options_, generation, weak_from_this());
  fault_injection::delay_handle_publication();
  bool early = false;
  {
    std::lock_guard lock(mutex_);
    handle_ = std::move(handle);
    early = !early_states_.empty();
  }
  // The C client may have connected already (the first open is not on the
  // strand): have what it said applied, in order, even if it says no more.
  if (early) post_session_state(generation, no_new_state);
}

session_state session_core::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::int64_t session_core::session_id() const {
  std::lock_guard lock(mutex_);
  return session_id_;
}

std::string session_core::session_password() const {
  std::lock_guard lock(mutex_);
  return password_;
}

std::chrono::milliseconds session_core::negotiated_timeout() const {
  std::lock_guard lock(mutex_);
  return negotiated_timeout_;
}

std::string session_core::current_server() const {
  auto handle = current_handle();
  if (!handle || state() == session_state::suspended) return {};
  return handle->current_server();
}

bool session_core::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

session_statistics session_core::statistics() const {
  std::lock_guard lock(statistics_mutex_);
  return statistics_;
}

void session_core::record_operation(std::chrono::nanoseconds elapsed, bool failed) {
  std::lock_guard lock(statistics_mutex_);
  statistics_.operations.record(elapsed);
  if (failed) ++statistics_.failed;
}

std::shared_ptr<zookeeper_handle> session_core::current_handle() const {
  std::lock_guard lock(mutex_);
  return handle_;
}

std::uint64_t session_core::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::uint64_t session_core::generation_of(std::int64_t session_id) const {
  std::lock_guard lock(mutex_);
  if (closed_ || session_id == 0 || session_id != session_id_ || session_generation_ != generation_) return 0;
  return session_generation_;
}

std::chrono::steady_clock::time_point session_core::answered_sent_at(std::int64_t session_id) const {
  std::lock_guard lock(mutex_);
  if (closed_ || !handle_ || session_id == 0 || session_id != session_id_ || handle_->generation() != session_generation_)
    return {};
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(handle_->answered_sent_ns()));
}

void session_core::record_ephemeral(const owned_node& node, const node_holder& holder) {
  if (holder.expired()) {
    // Its recipe is gone: nobody will take this node, so the request that
    // made it deletes it (the recipe could not: it no longer exists).
    ledger_.releasing(node);
    count_orphan_removed();
    start_owned_removal(shared_from_this(), node, {});
    return;
  }
  ledger_.record(node.path, {node.session_id, node.czxid, holder, false, false});
  arm_orphan_audit();
}

void session_core::count_orphan_removed() {
  std::lock_guard lock(statistics_mutex_);
  ++statistics_.orphans_removed;
}

void session_core::arm_orphan_audit() {
  if (orphan_audit_armed_ || closed()) return;
  orphan_audit_armed_ = true;
  orphan_timer_.expires_after(options_.orphan_audit_interval);
  orphan_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (!self) return;
    self->orphan_audit_armed_ = false;
    if (ec) return;
    self->audit_orphans();
  });
}

// Nodes whose holder went, or that a recipe released and could not delete
// yet (its removal gave up): delete each while it is provably ours.
void session_core::audit_orphans() {
  for (auto& [node, abandoned] : ledger_.take_orphans()) {
    if (abandoned) {
      log(log_level::warn, "removing '" + node.path + "': an ephemeral node of this session that no recipe holds");
      count_orphan_removed();
    }
    start_owned_removal(shared_from_this(), node, {});
  }
  if (ledger_.size() > 0) arm_orphan_audit();
}

session::listener_id session_core::add_listener(session::listener on_event) {
  std::lock_guard lock(mutex_);
  auto id = next_listener_id_++;
  listeners_.emplace(id, std::make_shared<session::listener>(std::move(on_event)));
  return id;
}

void session_core::remove_listener(session::listener_id id) {
  std::lock_guard lock(mutex_);
  listeners_.erase(id);
}

void session_core::close() {
  std::shared_ptr<zookeeper_handle> handle;
  std::vector<closer> closers;
  session_event event;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    state_ = session_state::closed;  // state() says so as soon as close() returns
    event = {state_, session_id_, negotiated_timeout_};
    handle = std::move(handle_);
    closers = std::move(closers_);
  }
  // zookeeper_close tells the server (so our ephemerals go now) and fails
  // the requests in flight with ZCLOSING; their replies reach the strand.
  if (handle) handle->close();  // here, even if a sender still holds a reference
  handle.reset();
  for (auto& c : closers) c.thread.join();
  asio::post(strand_, [self = shared_from_this(), event] {
    if (self->reopen_timer_) self->reopen_timer_->cancel();
    self->orphan_timer_.cancel();
    self->flush_watches(0, true);
    self->finish_waiters(errc::session_closed);
    self->notify(event);
  });
}

void session_core::wait_connected(std::chrono::milliseconds timeout, completion<std::error_code> done) {
  asio::post(strand_, [self = shared_from_this(), timeout, done = std::move(done)]() mutable {
    auto s = self->state();
    if (s == session_state::connected || s == session_state::reconnected) return done(std::error_code{});
    if (s == session_state::closed) return done(errc::session_closed);
    if (s == session_state::auth_failed) return done(errc::auth_failed);
    auto timer = std::make_unique<asio::steady_timer>(self->strand_, timeout);
    auto* timer_ptr = timer.get();
    self->waiters_.push_back({std::move(done), std::move(timer)});
    timer_ptr->async_wait([weak = self->weak_from_this(), timer_ptr](const std::error_code& ec) {
      auto core = weak.lock();
      if (ec || !core) return;
      auto& waiters = core->waiters_;
      for (auto it = waiters.begin(); it != waiters.end(); ++it) {
        if (it->timer.get() != timer_ptr) continue;
        auto done = std::move(it->done);
        waiters.erase(it);
        done(errc::deadline_exceeded);
        return;
      }
    });
  });
}

void session_core::finish_waiters(std::error_code ec) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) {
    w.timer->cancel();
    w.done(ec);
  }
}

void session_core::post_session_state(std::uint64_t generation, int zoo_state) {
  asio::post(strand_, [weak = weak_from_this(), generation, zoo_state] {
    if (auto core = weak.lock()) core->on_session_state(generation, zoo_state);
  });
}

// A state can come before the handle that reports it is published (the C
// client connects on its own thread while open_handle is still running):
// it waits in early_states_ rather than be dropped as a retired handle's.
// Dropping it left the session "connecting" for good while connected, and a
// divider on it never acquiring a key (worker fleet test, under ASan).
void session_core::on_session_state(std::uint64_t generation, int zoo_state) {
  std::vector<int> states;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || generation != generation_) return;  // a retired handle's late news
    if (!handle_) {
      if (zoo_state != no_new_state) early_states_.push_back(zoo_state);
      return;
    }
    states.swap(early_states_);
  }
  if (zoo_state != no_new_state) states.push_back(zoo_state);
  for (int state : states) apply_session_state(generation, state);
}

void session_core::apply_session_state(std::uint64_t generation, int zoo_state) {
  std::shared_ptr<zookeeper_handle> handle;
  session_state current;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || generation != generation_ || !handle_) return;  // a retired handle's late news
    handle = handle_;
    current = state_;
  }

  if (zoo_state == ZOO_CONNECTED_STATE) {
    auto id = handle->session_identity();
    bool same_session = false;
    {
      std::lock_guard lock(mutex_);
      same_session = id.session_id == session_id_ && session_id_ != 0;
      if (!same_session && session_id_ != 0) ledger_.forget_session(session_id_);
      session_id_ = id.session_id;
      session_generation_ = generation;
      password_ = id.password;
      negotiated_timeout_ = id.timeout;
    }
    set_state(same_session && current == session_state::suspended ? session_state::reconnected
                                                                    : session_state::connected);
    finish_waiters({});
  } else if (zoo_state == ZOO_CONNECTING_STATE || zoo_state == ZOO_ASSOCIATING_STATE) {
    if (current == session_state::connected || current == session_state::reconnected)
      set_state(session_state::suspended);
  } else if (zoo_state == ZOO_EXPIRED_SESSION_STATE) {
    log(log_level::warn, "ZooKeeper session 0x" + [&] {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(session_id()));
      return std::string(buf);
    }() + " expired");
    flush_watches(generation, false);
    ledger_.forget_session(session_id());  // the server deleted them with the session
    set_state(session_state::expired);
    std::shared_ptr<zookeeper_handle> old;
    {
      std::lock_guard lock(mutex_);
      old = std::move(handle_);
    }
    retire_handle(std::move(old));
    if (options_.reconnect_after_expiry) {
      set_state(session_state::connecting);
      reopen_after_expiry(0);
    } else {
      finish_waiters(errc::session_expired);
    }
  } else if (zoo_state == ZOO_AUTH_FAILED_STATE) {
    log(log_level::error, "ZooKeeper refused the digest credentials for " + options_.hosts);
    flush_watches(generation, false);
    set_state(session_state::auth_failed);
    finish_waiters(errc::auth_failed);
  }
}

void session_core::reopen_after_expiry(int attempt) {
  if (closed()) return;
  try {
    open_handle();
    return;
  } catch (const std::exception& e) {
    // zookeeper_init resolves the hosts: a DNS blip must not strand the session.
    log(log_level::error, std::string("could not open a new ZooKeeper session (will retry): ") + e.what());
  }
  auto delay = backoff_delay(options_.retry, attempt, random_);
  reopen_timer_ = std::make_unique<asio::steady_timer>(strand_, std::max(delay, std::chrono::milliseconds(10)));
  reopen_timer_->async_wait([weak = weak_from_this(), attempt](const std::error_code& ec) {
    if (auto core = weak.lock(); core && !ec) core->reopen_after_expiry(attempt + 1);
  });
}

void session_core::set_state(session_state next) {
  session_event event;
  {
    std::lock_guard lock(mutex_);
    state_ = next;
    event = {next, session_id_, negotiated_timeout_};
  }
  notify(event);
}

void session_core::notify(const session_event& event) {
  std::vector<std::shared_ptr<session::listener>> listeners;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, l] : listeners_) listeners.push_back(l);
  }
  log(log_level::info, std::string("session state: ") + std::string(to_string(event.state)));
  for (auto& l : listeners) {
    try {
      (*l)(event);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("session listener threw: ") + e.what());
    }
  }
}

void session_core::retire_handle(std::shared_ptr<zookeeper_handle> handle) {
  if (!handle) return;
  std::lock_guard lock(mutex_);
  for (auto it = closers_.begin(); it != closers_.end();) {  // reap the finished ones
    if (it->done->load()) {
      it->thread.join();
      it = closers_.erase(it);
    } else {
      ++it;
    }
  }
  // zookeeper_close joins the C client's threads: never on the strand.
  auto done = std::make_shared<std::atomic<bool>>(false);
  closers_.push_back({std::thread([h = std::move(handle), done]() mutable {
                        h->close();  // here, even if a sender still holds a reference
                        h.reset();
                        done->store(true);
                      }),
                      done});
}

std::uint64_t session_core::register_watch(session::watcher on_change, std::string path) {
  std::lock_guard lock(mutex_);
  auto id = next_watch_id_++;
  watches_.emplace(id, watch_entry{std::move(on_change), std::move(path), 0});
  return id;
}

void session_core::arm_watch(std::uint64_t id, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (auto it = watches_.find(id); it != watches_.end()) it->second.generation = generation;
}

void session_core::cancel_watch(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  watches_.erase(id);
}

void session_core::watch_trampoline(zhandle_t* zh, int type, int, const char* path, void* context) {
  if (type == ZOO_SESSION_EVENT) return;  // the session watcher handles these; the watch stays armed
  auto* handle = zookeeper_handle::from(zh);
  if (!handle) return;
  auto core = handle->core().lock();
  if (!core) return;
  auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context));
  watch_event event{to_watch_event_type(type), path ? path : ""};
  asio::post(core->strand_, [core, id, event = std::move(event)]() mutable { core->fire_watch(id, std::move(event)); });
}

void session_core::fire_watch(std::uint64_t id, watch_event event) {
  session::watcher on_change;
  {
    std::lock_guard lock(mutex_);
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    on_change = std::move(it->second.on_change);
    watches_.erase(it);
  }
  // Through the strand, then the executor: a watch event never overtakes
  // the reply of the read that set it.
  asio::post(executor_, [on_change = std::move(on_change), event = std::move(event)] {
    try {
      on_change(event);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("watcher threw: ") + e.what());
    }
  });
}

void session_core::flush_watches(std::uint64_t generation, bool all) {
  std::vector<std::pair<session::watcher, std::string>> lost;
  {
    std::lock_guard lock(mutex_);
    for (auto it = watches_.begin(); it != watches_.end();) {
      // generation 0: registered but its request not sent yet; that request
      // will go to the next handle, so the watch survives an expiry.
      if (all || (it->second.generation != 0 && it->second.generation <= generation)) {
        lost.emplace_back(std::move(it->second.on_change), std::move(it->second.path));
        it = watches_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [on_change, path] : lost) {
    asio::post(executor_, [on_change = std::move(on_change), path = std::move(path)] {
      try {
        on_change(watch_event{watch_event_type::session_lost, path});
      } catch (const std::exception& e) {
        log(log_level::error, std::string("watcher threw: ") + e.what());
      }
    });
  }
}

}  // namespace nominee::detail
