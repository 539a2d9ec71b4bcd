#include "contender.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <nominee/log.hpp>

namespace nominee::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

std::int64_t sequence_of(const std::string& name) {
  // ZooKeeper appends ten digits; read the trailing digits, whatever precedes them.
  std::size_t end = name.size();
  std::size_t start = end;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(name[start - 1]))) --start;
  if (start == end) return -1;
  return std::stoll(name.substr(start, std::min<std::size_t>(end - start, 18)));
}

std::vector<std::string> sorted_by_sequence(std::vector<std::string> names) {
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    auto sa = sequence_of(a), sb = sequence_of(b);
    return sa != sb ? sa < sb : a < b;
  });
  return names;
}

namespace {
std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }
}  // namespace

contender::contender(session& s, contender_options options, contender_callbacks callbacks, strand_type strand)
    : link_(s),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      strand_(std::move(strand)),
      heartbeat_timer_(strand_),
      lease_timer_(strand_),
      retry_timer_(strand_) {}

template <class F>
void contender::on_strand(F f) {
  asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
    if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
  });
}

// Wraps a completion handler: it runs on the strand, through the gate, and
// only if no restart happened since it was issued (same epoch).
template <class F>
auto contender::guarded(F f) {
  return asio::bind_executor(strand_, [weak = weak_from_this(), epoch = epoch_, f = std::move(f)](auto&&... args) mutable {
    auto self = weak.lock();
    if (!self) return;
    self->gate_.run([&] {
      if (epoch == self->epoch_) f(*self, std::forward<decltype(args)>(args)...);
    });
  });
}

void contender::start() {
  start_listening();
  stand();
}

void contender::start_listening() {
  listener_ = link_.add_listener([weak = weak_from_this()](const session_event& e) {
    if (auto self = weak.lock()) self->on_strand([e](contender& me) { me.on_session_event(e); });
  });
}

void contender::stand() {
  on_strand([](contender& me) {
    me.standing_ = true;
    if (me.node_.empty() && !me.creating_) me.create();
  });
}

void contender::resign() {
  on_strand([](contender& me) {
    me.standing_ = false;
    me.lose(contender_loss::resigned);
    me.forget_node();
  });
}

void contender::stop() {
  gate_.close();  // waits for a running handler; none runs after this
  link_.remove_listener(listener_);
  holding_flag_ = false;
  owned_node node;
  {
    std::lock_guard lock(node_mutex_);
    node = std::move(node_for_cleanup_);
  }
  if (!node.path.empty()) delete_node(node);
  alive_.reset();  // a create still unanswered: the session deletes what it makes
  asio::post(strand_, [self = shared_from_this()] {
    self->heartbeat_timer_.cancel();
    self->lease_timer_.cancel();
    self->retry_timer_.cancel();
  });
}

void contender::on_session_event(const session_event& e) {
  switch (e.state) {
    case session_state::suspended:
      // The server may expire us while we cannot hear it: stop holding now.
      lose(contender_loss::suspended);
      break;
    case session_state::reconnected:
      if (standing_ && !node_.empty()) check();  // verifies ownership before holding again
      break;
    case session_state::expired:
      lose(contender_loss::expired);
      ++epoch_;  // the old session's replies no longer matter
      node_.clear();
      creating_ = false;
      {
        std::lock_guard lock(node_mutex_);
        node_for_cleanup_ = {};
      }
      if (!options_.renominate_after_expiry) standing_ = false;
      break;
    case session_state::connected:  // a new session (after an expiry)
      if (standing_ && node_.empty() && !creating_) create();
      break;
    case session_state::closed:
    case session_state::auth_failed:
      lose(contender_loss::closed);
      standing_ = false;
      break;
    case session_state::connecting:
      break;
  }
}

void contender::create() {
  creating_ = true;
  auto epoch = ++epoch_;
  // Not guarded(): a node made for a contender that resigned in the
  // meantime must still be deleted, or it would hold the queue. One made
  // after stop() is the session's to delete (its holder, alive_, is gone).
  auto on_created = [weak = weak_from_this(), epoch](std::error_code ec, created_node made) {
    auto self = weak.lock();
    if (!self) return;
    bool current = false;
    bool ran = self->gate_.run([&] {
      current = epoch == self->epoch_ && self->standing_;
      if (current) self->on_created(ec, std::move(made));
    });
    if (ran && !current && !ec) self->delete_node({made.path, made.stat.ephemeral_owner, made.stat.czxid});
  };
  link_.create(options_.directory + "/" + options_.name, options_.data, {create_mode::ephemeral_sequential, {}, {}},
               true, asio::bind_executor(strand_, std::move(on_created)), request_scope{alive_, 0});
}

void contender::on_created(std::error_code ec, created_node made) {
  creating_ = false;
  if (ec == errc::no_node) {  // the directory is missing: make it, then try again
    link_.ensure_path(options_.directory, guarded([](contender& me, std::error_code e) {
                        if (e) return me.retry_later(&contender::create);
                        me.create();
                      }));
    return;
  }
  if (ec) {
    log(log_level::warn, "candidate in '" + options_.directory + "': create failed: " + ec.message());
    return retry_later(&contender::create);
  }
  retries_ = 0;
  node_ = made.path;
  token_ = made.stat.czxid;
  node_session_ = made.stat.ephemeral_owner;
  {
    std::lock_guard lock(node_mutex_);
    node_for_cleanup_ = {made.path, node_session_, token_};
  }
  check();
}

void contender::check() {
  auto sent = clock::now();
  link_.get_children(options_.directory, {}, guarded([sent](contender& me, std::error_code ec, children kids) {
                       if (ec) return me.retry_later(&contender::check);
                       auto mine = basename_of(me.node_);
                       auto order = sorted_by_sequence(std::move(kids.names));
                       auto at = std::find(order.begin(), order.end(), mine);
                       // Our node is gone (deleted by someone, or its session ended).
                       if (at == order.end()) return me.node_gone();
                       if (at == order.begin()) {
                         // A listing answered on the session that owns our node
                         // proves both that the node is there and that the
                         // session was alive when it was sent: no need for
                         // another round trip to check ownership.
                         if (me.node_session_ != 0 && me.node_session_ == me.link_.session_id())
                           return me.acquire(sent);
                         return me.verify_and_acquire();
                       }
                       // Nodes are only ever added behind ours, so a holder stays first;
                       // should it ever not be, it must not go on holding.
                       me.lose(contender_loss::node_deleted);
                       me.watch_predecessor(*(at - 1));
                     }));
}

void contender::watch_predecessor(const std::string& predecessor) {
  auto epoch = epoch_;
  session::watcher on_gone = [weak = weak_from_this(), epoch](const watch_event& e) {
    auto self = weak.lock();
    if (!self || e.type == watch_event_type::session_lost) return;  // session events restart us anyway
    self->predecessor_events_++;
    self->on_strand([epoch](contender& me) {
      if (epoch == me.epoch_ && !me.node_.empty()) me.check();
    });
  };
  link_.exists(options_.directory + "/" + predecessor, std::move(on_gone),
               guarded([](contender& me, std::error_code ec, std::optional<stat> st) {
                 if (ec) return me.retry_later(&contender::check);
                 if (!st) me.check();  // already gone: look again
               }));
}

void contender::verify_and_acquire() {
  auto sent = clock::now();
  link_.exists(node_, {}, guarded([sent](contender& me, std::error_code ec, std::optional<stat> st) {
                 if (ec) return me.retry_later(&contender::check);
                 // Not ours (any more): an older session's node, or deleted.
                 if (!st || st->ephemeral_owner != me.link_.session_id()) return me.node_gone();
                 me.token_ = st->czxid;
                 me.node_session_ = st->ephemeral_owner;
                 {
                   std::lock_guard lock(me.node_mutex_);
                   me.node_for_cleanup_ = {me.node_, me.node_session_, me.token_};
                 }
                 me.acquire(sent);
               }));
}

void contender::acquire(clock::time_point confirmed_at) {
  if (clock::now() >= confirmed_at + link_.session_timeout() * 2 / 3) {
    // The confirming reply sat in a queue (or we were frozen) past the
    // lease it would grant: it proves nothing about now. Look again.
    return check();
  }
  extend_lease(confirmed_at);
  schedule_heartbeat();
  if (holding_) return;
  holding_ = true;
  holding_flag_ = true;
  watch_own_node();
  if (callbacks_.acquired) callbacks_.acquired(token_, node_);
}

// While holding, our own node is watched: a delete from outside (an admin,
// a repair) revokes the hold within one notification, not at the next
// heartbeat, while the successor's predecessor watch fires at once.
void contender::watch_own_node() {
  auto epoch = epoch_;
  session::watcher on_change = [weak = weak_from_this(), epoch](const watch_event& e) {
    auto self = weak.lock();
    if (!self || e.type == watch_event_type::session_lost) return;  // session events decide
    self->on_strand([epoch, type = e.type](contender& me) {
      if (epoch != me.epoch_ || me.node_.empty() || !me.holding_) return;
      if (type == watch_event_type::deleted) return me.node_gone();
      me.watch_own_node();  // its data changed: watch on
    });
  };
  link_.exists(node_, std::move(on_change), guarded([](contender& me, std::error_code ec, std::optional<stat> st) {
                 if (!ec && (!st || st->czxid != me.token_) && me.holding_) me.node_gone();
               }));
}

// Our node is not there (deleted from outside, or its session ended):
// stop holding, and stand again with a new one.
void contender::node_gone() {
  // After a freeze the lease lapsed before we heard of the node: that is
  // what ended the hold (the server deleted the node with the session).
  lose(holding_ && clock::now() >= lease_end() ? contender_loss::suspended : contender_loss::node_deleted);
  ++epoch_;
  node_.clear();
  node_session_ = 0;
  {
    std::lock_guard lock(node_mutex_);
    node_for_cleanup_ = {};
  }
  if (standing_ && !creating_) create();
}

void contender::lose(contender_loss reason) {
  heartbeat_timer_.cancel();
  lease_timer_.cancel();
  if (!holding_) return;
  holding_ = false;
  holding_flag_ = false;
  if (callbacks_.lost) callbacks_.lost(reason);
}

void contender::forget_node() {
  ++epoch_;
  creating_ = false;
  if (!node_.empty()) delete_node({node_, node_session_, token_});
  node_session_ = 0;
  node_.clear();
  std::lock_guard lock(node_mutex_);
  node_for_cleanup_ = {};
}

// Only while the node is provably ours (owned removal): never a blind
// delete of the path, which could be a successor's after a lost reply.
void contender::delete_node(const owned_node& node) {
  if (node.session_id == 0) return;  // its session ended: the server deleted it
  link_.remove_owned(node);
}

void contender::extend_lease(clock::time_point confirmed_at) {
  // The server heard from us no earlier than when the confirming read was
  // sent; it cannot expire the session before that + the session timeout.
  auto timeout = link_.session_timeout();
  lease_until_ns_ = (confirmed_at + timeout * 2 / 3).time_since_epoch().count();
  lease_session_ = node_session_;
  watch_lease_end();
}

clock::time_point contender::lease_end() const {
  auto by_heartbeat = clock::time_point(clock::duration(lease_until_ns_.load()));
  auto answered = link_.answered_sent_at(lease_session_.load());
  if (answered == clock::time_point{}) return by_heartbeat;
  return std::max(by_heartbeat, answered + link_.session_timeout() * 2 / 3);
}

void contender::watch_lease_end() {
  lease_timer_.expires_at(lease_end());
  lease_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    self->gate_.run([&] {
      if (!self->holding_) return;
      if (clock::now() < self->lease_end()) return self->watch_lease_end();  // replies moved it on
      log(log_level::warn, "lease on '" + self->node_ + "' lapsed before the server confirmed it: giving it up");
      self->lose(contender_loss::suspended);
      if (self->standing_ && !self->node_.empty()) self->check();
    });
  });
}

void contender::schedule_heartbeat() {
  heartbeat_timer_.expires_after(link_.session_timeout() / 4);
  heartbeat_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->gate_.run([&] { self->heartbeat(); });
  });
}

void contender::heartbeat() {
  if (!holding_) return;
  auto sent = clock::now();
  link_.exists(node_, {}, guarded([sent](contender& me, std::error_code ec, std::optional<stat> st) {
                 if (!me.holding_) return;
                 if (ec) return me.schedule_heartbeat();  // the lease timer decides
                 if (!st || st->ephemeral_owner != me.link_.session_id()) return me.node_gone();
                 me.extend_lease(sent);
                 me.schedule_heartbeat();
               }));
}

void contender::retry_later(void (contender::*step)()) {
  if (link_.state() == session_state::closed || !standing_) return;
  auto delay = std::chrono::milliseconds(std::min(1000, 20 << std::min(retries_++, 6)));
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([weak = weak_from_this(), step, epoch = epoch_](const std::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    self->gate_.run([&] {
      if (epoch == self->epoch_) ((*self).*step)();
    });
  });
}

}  // namespace nominee::detail
