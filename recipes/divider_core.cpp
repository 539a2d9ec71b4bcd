#include "divider_core.hpp"

#include <algorithm>
#include <unordered_set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <nominee/log.hpp>

#include "key_codec.hpp"
#include "recipe_paths.hpp"
#include "user_callback.hpp"
#include "validate.hpp"
#include "work_layout.hpp"

namespace nominee::detail {

namespace asio = boost::asio;

divider_core::divider_core(session& s, divider_options options, divider::callbacks cb, std::string base)
    : session_(&s), link_(s), executor_(s.get_executor()), strand_(asio::make_strand(s.get_executor())),
      options_(std::move(options)), callbacks_(std::move(cb)), base_(std::move(base)), coalesce_timer_(strand_),
      members_timer_(strand_), audit_timer_(strand_), fetch_timer_(strand_), let_go_timer_(strand_), flush_affinity_timer_(strand_),
      ready_timer_(strand_), creates_timer_(strand_), heartbeat_timer_(strand_), lease_timer_(strand_),
      affinity_(options_.affinity) {
  group_options g;
  g.root = base_;
  g.member_id = options_.member_id;
  g.affinity = options_.affinity;
  g.endpoint = options_.endpoint;
  member_ = std::make_unique<group_member>(s, std::move(g));
}

// Runs f on the strand under our gate, after the current handler: the views
// call us while holding their own gate, and we destroy views while holding
// ours; deferring keeps the only lock order ours -> theirs.
template <class F>
void divider_core::later(F f) {
  asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
    if (auto self = weak.lock())
      self->gate_.run([&] {
        self->check_lease();
        f(*self);
      });
  });
}

template <class F>
auto divider_core::on_strand(F f) {
  return asio::bind_executor(strand_, [weak = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
    if (auto self = weak.lock())
      self->gate_.run([&] {
        self->check_lease();  // after a freeze, the lapse comes before anything else
        f(*self, std::forward<decltype(args)>(args)...);
      });
  });
}

// Creates, deletes and first looks are queued for the rest of the strand
// turn and sent together; `flush` runs once per turn however many came.
void divider_core::flush_at_turn_end(bool& scheduled, void (divider_core::*flush)()) {
  if (scheduled) return;
  scheduled = true;
  later([flush](divider_core& me) { (me.*flush)(); });
}

std::string divider_core::owner_path(const std::string& key) const {
  return detail::owner_path(base_, key);
}

std::string divider_core::exclusion_path(const std::string& key) const {
  return detail::exclusion_path(base_, key, options_.member_id);
}

// --- the public entry points ------------------------------------------------

void divider_core::start(done_type done) {
  later([done = std::move(done)](divider_core& me) mutable {
    if (me.cancelling_) return done(errc::in_progress);
    if (!me.listener_) {
      me.listener_ = me.link_.add_listener([weak = me.weak_from_this()](const session_event& e) {
        if (auto self = weak.lock()) self->later([e](divider_core& core) { core.on_session_event(e); });
      });
      me.connected_ = me.link_.state() == session_state::connected || me.link_.state() == session_state::reconnected;
    }
    me.started_ = true;
    if (!me.heartbeating_) me.heartbeat();
    me.open_views();
    if (me.joined_) return done({});
    me.start_waiters_.push_back(std::move(done));
    me.join_when_ready();
  });
}

// Joining and listing the keys go on together: the others start stopping
// the keys that come to us as soon as they see us, while we list; waiting
// for our listing first (tried: divider_bench) made a join 35 ms slower and
// no key's unowned time shorter. reconcile() acts only on a complete view.
void divider_core::join_when_ready() {
  if (!started_ || joined_ || joining_ || cancelling_ || start_waiters_.empty()) return;
  joining_ = true;
  member_->async_join(on_strand([](divider_core& me, std::error_code ec) {
    me.joining_ = false;
    me.joined_ = !ec;
    if (ec) me.started_ = false;
    auto waiters = std::move(me.start_waiters_);
    me.start_waiters_.clear();
    for (auto& w : waiters) w(ec);
    me.reconcile_everything_soon();
    me.publish();
  }));
}

void divider_core::flush(done_type done, bool then_cancel) {
  if (then_cancel) {
    auto weak = weak_from_this();
    done = done_type(
        [weak, done = std::move(done)](std::error_code ec) mutable {
          auto self = weak.lock();
          if (!self) return done(errc::cancelled);
          if (ec) return done(ec);
          self->cancel(std::move(done));
        },
        executor_);
  }
  later([done = std::move(done)](divider_core& me) mutable {
    if (!me.started_) return done(errc::not_started);
    me.flushing_ = true;
    me.flush_waiters_.push_back(std::move(done));
    me.let_go_later();
    me.write_flush_affinity();
    me.reconcile_everything_now();
  });
}

// Affinity 0 is what tells the others to take our keys. A flush that could
// not write it (the connection lost, a leader election under way, our node
// being recreated after an expiry) tries again, with backoff, until it is
// written or the flush is over: otherwise the keys we let go would sit
// unowned, ours by everyone's assignment but worked by nobody, until the
// flush timed out (the fault runner caught that: 8 s). Other errors (no
// auth, a malformed node) will not pass by trying again: logged, given up.
void divider_core::write_flush_affinity(int attempt) {
  member_->async_set_affinity(0, on_strand([attempt](divider_core& me, std::error_code ec) {
    if (!ec || !me.flushing_ || me.cancelling_ || !me.started_) return;
    bool transient = is_retriable(ec) || is_session_expired(ec) || is_no_node(ec) || ec == errc::deadline_exceeded;
    constexpr int max_attempts = 150;  // with the backoff below, about two minutes
    if (!transient || attempt + 1 >= max_attempts) {
      log(log_level::warn, "divider flush: could not set affinity 0: " + ec.message() + "; giving up");
      return;
    }
    log(log_level::warn, "divider flush: could not set affinity 0 (" + ec.message() + "); trying again");
    me.flush_affinity_timer_.expires_after(std::chrono::milliseconds(std::min(1000, 200 * (attempt + 1))));
    me.flush_affinity_timer_.async_wait(me.on_strand([attempt](divider_core& self, const std::error_code& e) {
      if (e || !self.flushing_ || self.cancelling_ || !self.started_) return;
      self.write_flush_affinity(attempt + 1);
    }));
  }));
}

void divider_core::cancel(done_type done) {
  later([done = std::move(done)](divider_core& me) mutable {
    if (!me.started_ && !me.cancelling_) return done({});
    me.cancelling_ = true;
    me.cancel_waiters_.push_back(std::move(done));
    me.member_->leave();
    me.let_go_later();
    me.reconcile_everything_now();
  });
}

std::error_code divider_core::confirm_stop(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    if (timed_out_.erase(key)) return {};
    if (!stopping_.erase(key)) return errc::not_stopping;
  }
  later([key](divider_core& me) { me.on_confirmed(key, false); });
  return {};
}

void divider_core::release(std::string key, bool exclude, done_type done) {
  if (auto ec = check_key(key)) return done(ec);
  later([key = std::move(key), exclude, done = std::move(done)](divider_core& me) mutable {
    auto path = me.exclusion_path(key);
    if (!exclude) {
      auto node = me.my_exclusions_.count(key) ? me.my_exclusions_.at(key)
                                                : owned_node{path, me.link_.session_id(), 0};
      me.link_.remove_owned(node, me.on_strand([key, done = std::move(done)](divider_core& self,
                                                                             std::error_code ec) mutable {
        // not_owner: an exclusion of our member id from an earlier session,
        // which the server deletes with that session.
        if (ec && ec != errc::not_owner && !is_session_expired(ec)) return done(ec);
        self.my_exclusions_.erase(key);
        done({});
      }));
      return;
    }
    me.link_.ensure_path(exclusions_directory(me.base_),
                         me.on_strand([key, done = std::move(done)](divider_core& self, std::error_code ec) mutable {
                           if (ec) return done(ec);
                           self.create_exclusion(key, 0, std::move(done));
                         }));
  });
}

// A lost reply leaves the exclusion there or not: sending the create again
// tells which (node_exists: it landed), so the caller never hears an error
// for an exclusion that stands.
void divider_core::create_exclusion(const std::string& key, int attempt, done_type done) {
  auto path = exclusion_path(key);
  link_.create(path, {}, {create_mode::ephemeral, {}, {}}, false,
               on_strand([key, path, attempt, done = std::move(done)](divider_core& me, std::error_code ec,
                                                                      const created_node& made) mutable {
                 if (is_connection_loss(ec) && attempt < 10) return me.create_exclusion(key, attempt + 1, std::move(done));
                 if (ec && ec != errc::node_exists) return done(ec);
                 // node_exists: ours from before, or an earlier session's (a
                 // removal checks which before it deletes).
                 me.my_exclusions_[key] = ec ? owned_node{path, me.link_.session_id(), 0}
                                             : owned_node{path, made.stat.ephemeral_owner, made.stat.czxid};
                 done({});
               }),
               request_scope{alive_, 0});
}

void divider_core::set_affinity(std::int64_t affinity, done_type done) {
  if (affinity < 0) return done(errc::invalid_option);
  later([affinity, done = std::move(done)](divider_core& me) mutable {
    if (affinity > 0) me.flushing_ = false;
    me.member_->async_set_affinity(affinity, std::move(done));
  });
}

void divider_core::alter_affinity(std::int64_t delta, completion<std::error_code, std::int64_t> done) {
  later([delta, done = std::move(done)](divider_core& me) mutable {
    me.member_->async_alter_affinity(
        delta, me.on_strand([done = std::move(done)](divider_core& self, std::error_code ec, std::int64_t now) mutable {
          if (!ec && now > 0) self.flushing_ = false;
          done(ec, now);
        }));
  });
}

void divider_core::change_work(std::vector<std::string> keys, bool remove, done_type done) {
  detail::change_work(*session_, base_, std::move(keys), remove, std::move(done));
}

// A lapsed lease empties these at once, before the strand has run the
// stops: a thread asking after a freeze must not be told the keys are ours.
std::set<std::string> divider_core::assigned() const {
  std::lock_guard lock(mutex_);
  if (!lease_valid()) return {};
  return assigned_;
}

bool divider_core::still_valid(const key_lease& lease) const {
  std::lock_guard lock(mutex_);
  auto it = assigned_tokens_.find(lease.key);
  return it != assigned_tokens_.end() && it->second == lease.token && lease_valid();
}

divider_status divider_core::status() const {
  std::lock_guard lock(mutex_);
  auto s = status_;
  s.assigned = lease_valid() ? assigned_.size() : 0;  // these two change between publishes
  s.stopping = stopping_.size();
  return s;
}

std::int64_t divider_core::affinity() const {
  std::lock_guard lock(mutex_);
  return affinity_;
}

// --- views -------------------------------------------------------------------

void divider_core::open_views() {
  if (members_view_) return;
  auto weak = weak_from_this();
  auto changed = [weak](const member_info&) {
    if (auto self = weak.lock()) self->later([](divider_core& me) { me.on_members_changed(); });
  };
  members_view_ = std::make_unique<group_view>(
      *session_, base_,
      group_view::callbacks{changed, changed, [changed](const member_info& now, const member_info&) { changed(now); }});
  keys_view_ = std::make_unique<key_set_view>(
      *session_, base_,
      [weak](const std::vector<std::string>& added, const std::vector<std::string>& removed, bool listed) {
        if (auto self = weak.lock())
          self->later([added, removed, listed](divider_core& me) { me.on_keys_changed(added, removed, listed); });
      },
      key_set_view::copy::none);  // table_ holds them
  exclusions_view_ = std::make_unique<watched_children>(*session_, exclusions_directory(base_), [weak](const children_change& c) {
    if (auto self = weak.lock()) self->later([names = c.current](divider_core& me) { me.on_exclusions(names); });
  });
  if (options_.work_fetcher) {
    election_options role;
    role.root = options_.root;
    role.role = "divider:" + encode_key(options_.prefix);
    role.member_id = options_.member_id;
    role.endpoint = options_.endpoint;
    fetch_role_ = std::make_unique<candidate>(
        *session_, std::move(role),
        candidate::callbacks{[weak](const term&) {
                               if (auto self = weak.lock()) self->later([](divider_core& me) {
                                 me.fetching_ = true;
                                 me.fetch();
                               });
                             },
                             [weak](revoke_reason) {
                               if (auto self = weak.lock()) self->later([](divider_core& me) {
                                 me.fetching_ = false;
                                 me.fetch_timer_.cancel();
                               });
                             }});
  }
  arm_audit();
}

void divider_core::on_members_changed() {
  // A burst of joins and leaves (a deploy, a crash of several) is handled
  // as one change: fewer recomputations, and no key moves twice.
  if (members_pending_) return;
  members_pending_ = true;
  members_timer_.expires_after(options_.coalesce_window);
  members_timer_.async_wait(on_strand([](divider_core& me, const std::error_code&) {
    me.members_pending_ = false;
    me.apply_members();
  }));
}

void divider_core::apply_members() {
  if (!members_view_) return;
  std::vector<weighted_member> members;
  for (auto& [id, info] : members_view_->members()) {
    members.push_back({id, info.affinity});
    if (id == options_.member_id) {
      member_->adopt(info);  // an admin's write to our node outlives an expiry
      std::lock_guard lock(mutex_);
      affinity_ = info.affinity;
    }
  }
  note_changes(table_.set_members(members));
  reconcile();
}

void divider_core::on_keys_changed(const std::vector<std::string>& added, const std::vector<std::string>& removed,
                                   bool listed) {
  // Keys in the first listing were there before us, and may be owned.
  note_changes(table_.add_keys(added), keys_listed_);
  note_changes(table_.remove_keys(removed));
  keys_listed_ = keys_listed_ || listed;
  // A removed key's exclusion has nothing left to exclude.
  for (auto& key : removed) {
    remove_exclusion(key);
  }
  schedule_reconcile();
}

void divider_core::on_exclusions(const std::vector<std::string>& names) {
  exclusions_listed_ = true;
  std::map<std::string, std::set<std::string>> exclusions;
  for (auto& name : names)
    if (auto e = parse_exclusion(name)) exclusions[e->first].insert(e->second);
  note_changes(table_.set_exclusions(exclusions));
  schedule_reconcile();
}

void divider_core::note_changes(const std::vector<assignment_table::change>& changes, bool new_keys) {
  for (auto& c : changes) {
    if (c.before) {
      auto it = keys_per_member_.find(*c.before);
      if (it != keys_per_member_.end() && --it->second == 0) keys_per_member_.erase(it);
    }
    if (c.after) ++keys_per_member_[*c.after];
    if (c.before && c.after) ++keys_moved_;
    if (c.after == options_.member_id)
      mine_changed_ |= mine_.insert(c.key).second;
    else if (c.before == options_.member_id)
      mine_changed_ |= mine_.erase(c.key) != 0;
    // Only a key that is or was ours, or that we still hold, can need us.
    bool ours = c.before == options_.member_id || c.after == options_.member_id;
    if (ours || held_.count(c.key)) mark_unsettled(c.key);
    // Unless the key is new to the work set, its owner node may be there:
    // look before creating (look_first). A create that meets one fails its
    // whole multi, and the keys then go one by one (a test's joiner sent
    // 1,500 creates that way).
    if (c.after == options_.member_id && c.before != options_.member_id && (c.before || !new_keys))
      maybe_owned_[c.key] = c.before ? lone_key::watch : lone_key::create;
    else
      maybe_owned_.erase(c.key);
  }
}

bool divider_core::ready() const {
  return members_view_ && members_view_->ready() && keys_listed_ && exclusions_listed_;
}

// --- the assignment against what we hold ---------------------------------------

void divider_core::schedule_reconcile() {
  if (reconcile_pending_) return;
  reconcile_pending_ = true;
  coalesce_timer_.expires_after(options_.coalesce_window);
  coalesce_timer_.async_wait(on_strand([](divider_core& me, const std::error_code&) {
    me.reconcile_pending_ = false;
    me.reconcile();
  }));
}

// A flushing or leaving member keeps its keys until its own view shows its
// affinity 0 (or its node gone): the others see that at about the same
// moment, so the keys are let go when someone is ready to take them, not
// a propagation delay earlier. If the view never shows it, let_go_timer_
// forces the matter.
void divider_core::let_go_later() {
  letting_go_now_ = false;
  let_go_timer_.expires_after(std::max<std::chrono::milliseconds>(std::chrono::seconds(1), 10 * options_.coalesce_window));
  let_go_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    if (ec || (!me.flushing_ && !me.cancelling_)) return;
    me.letting_go_now_ = true;
    me.reconcile_everything_now();
  }));
}

bool divider_core::holding_on() const {
  return started_ && joined_ && connected_ && !((flushing_ || cancelling_) && letting_go_now_);
}

bool divider_core::wants(const std::string& key) const { return holding_on() && mine_.count(key) != 0; }

const std::set<std::string>& divider_core::desired() const {
  static const std::set<std::string> none;
  return holding_on() && ready() ? mine_ : none;
}

stop_reason divider_core::reason_for(const std::string& key) const {
  if (cancelling_ || !started_) return stop_reason::cancelled;
  if (!table_.contains(key)) return stop_reason::removed;
  if (table_.excluded(key, options_.member_id)) return stop_reason::released;
  if (flushing_) return stop_reason::flushing;
  return stop_reason::moved;
}

void divider_core::reconcile() {
  // Until every view has its first listing, a partial picture would grab
  // keys that are someone else's: act only on the whole one (unless we are
  // letting go, which never needs it).
  if (!ready() && !flushing_ && !cancelling_) {
    check_waiters();
    look_again_when_ready();
    return publish();
  }
  bool holding = holding_on() && ready();
  if (holding != was_holding_ || (holding && mine_changed_)) {
    std::lock_guard lock(mutex_);
    ++status_.rebalances;
  }
  if (holding != was_holding_) settle_everything_ = true;
  was_holding_ = holding;
  mine_changed_ = false;
  if (settle_everything_) {
    settle_everything_ = false;
    unsettled_.clear();
    for (auto& key : desired()) settle(key);
    std::vector<std::string> held;
    for (auto& [key, st] : held_) held.push_back(key);
    for (auto& key : held) settle(key);
  } else {
    auto keys = std::move(unsettled_);
    unsettled_.clear();
    for (auto& key : keys) settle(key);
  }
  join_when_ready();
  check_waiters();
  publish();
}

// Every key, not only the touched ones: for changes that are not one key's.
void divider_core::reconcile_everything_soon() {
  settle_everything_ = true;
  schedule_reconcile();
}

void divider_core::reconcile_everything_now() {
  settle_everything_ = true;
  reconcile();
}

// For the next reconcile (which looks at everything anyway if so marked).
void divider_core::mark_unsettled(const std::string& key) {
  if (!settle_everything_) unsettled_.insert(key);
}

// One key against the assignment: acquire it if wanted and not held; let
// it go if held and not wanted (keys in between phases settle themselves
// when the phase ends: took(), on_created() and on_confirmed() ask wants()).
void divider_core::settle(const std::string& key) {
  auto it = held_.find(key);
  if (ready() && wants(key)) {
    if (it == held_.end() && !removing_.count(key)) acquire(key);
    return;
  }
  if (it == held_.end()) return;
  switch (it->second.at) {
    case phase::running: begin_stop(key, reason_for(key)); break;
    case phase::acquiring: forget(key); break;  // its watch, when it fires, finds a newer generation
    // Paused: a stop or delete whose outcome we could not see. The node
    // may be gone, and the path another member's: look before deleting.
    case phase::paused:
      if (connected_ && !lease_lapsed_ && lease_valid()) resume_or_delete(key);
      break;
    case phase::creating:                         // on_created deletes what it made
    case phase::stopping:
    case phase::deleting: break;
  }
}

// Not every way a view becomes ready calls us (a member node that cannot be
// parsed, say): until it is, look again every coalesce window rather than
// leave the keys unowned until the audit.
void divider_core::look_again_when_ready() {
  if (ready_check_armed_) return;
  ready_check_armed_ = true;
  ready_timer_.expires_after(std::max(options_.coalesce_window, std::chrono::milliseconds(10)));
  ready_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    me.ready_check_armed_ = false;
    if (!ec && me.started_) me.reconcile();
  }));
}

// --- one key's life -----------------------------------------------------------

void divider_core::acquire(const std::string& key) {
  auto& st = held_[key];
  st = key_state{};
  st.generation = ++generation_;
  auto maybe = maybe_owned_.find(key);
  if (maybe != maybe_owned_.end())
    look_first(key, st.generation, maybe->second);
  else
    create_owner(key, st.generation);
}

// A key that may have an owner node: is it still there? Asked per key,
// the answer is an exists each, and a joiner's looks all queue ahead of
// its creates in the session (the server answers one session in order):
// at 10,000 keys, 4 -> 5, the joiner's 2,000 exists took 130 ms, and its
// first create was answered only after the last of them. One listing of
// the key's owner shard answers for every key of that shard we wait for;
// a bare-client probe here listed 256 shards of 39 names in 30 ms and
// answered 2,000 exists in 180-250 ms. So the keys are gathered per shard
// for the rest of the strand turn, and a shard with enough of them is
// listed instead (an exists costs about as much as a listing of 100
// names). A key alone in its shard goes as if_alone says.
void divider_core::look_first(const std::string& key, std::uint64_t generation, lone_key if_alone) {
  held_.at(key).at = phase::acquiring;
  pending_looks_[shard_of(key)].push_back({key, generation, if_alone});
  flush_at_turn_end(looks_scheduled_, &divider_core::flush_looks);
}

void divider_core::flush_looks() {
  looks_scheduled_ = false;
  auto by_shard = std::move(pending_looks_);
  pending_looks_.clear();
  const double names_per_shard = static_cast<double>(table_.size()) / key_shards;
  for (auto& [shard, keys] : by_shard) {
    if (static_cast<double>(keys.size()) * 100 < names_per_shard + 100) {
      for (auto& [key, generation, if_alone] : keys) {
        if (!still_acquiring(key, generation)) continue;
        if (if_alone == lone_key::watch)
          watch_owner(key, generation);
        else
          create_owner(key, generation);
      }
      continue;
    }
    ++looks_in_flight_;
    link_.get_children(owners_directory(base_, shard), {},
                       on_strand([keys = std::move(keys)](divider_core& me, std::error_code ec, children kids) {
                         me.listed_owners(keys, ec, kids.names);
                       }));
  }
}

// The listing is a hint, not a decision: the create that follows an absent
// name is what makes the key ours (node_exists: someone was quicker, and
// we watch), and a present name is watched as before.
void divider_core::listed_owners(const std::vector<first_look>& keys, std::error_code ec,
                                 const std::vector<std::string>& names) {
  std::unordered_set<std::string> present(names.begin(), names.end());
  for (auto& [key, generation, if_alone] : keys) {
    if (!still_acquiring(key, generation)) continue;
    // A failed listing: the key's own look finds out.
    bool maybe_there = (ec && ec != errc::no_node) || present.count(encode_key(key)) != 0;
    if (maybe_there)
      watch_owner(key, generation);
    else
      create_owner(key, generation);
  }
  look_answered();  // after the creates are queued: they go out together
}

// The key is still being acquired by the attempt this reply or watch belongs
// to: same generation, and nothing decided yet. A reply that comes after the
// decision (a second create's node_exists, a look that raced the create)
// must not restart the chain: that gave a running key a second on_start
// with the same token (worker fleet test, CI).
bool divider_core::still_acquiring(const std::string& key, std::uint64_t generation) const {
  auto it = held_.find(key);
  return it != held_.end() && it->second.generation == generation &&
         (it->second.at == phase::acquiring || it->second.at == phase::creating);
}

void divider_core::create_owner(const std::string& key, std::uint64_t generation) {
  auto& st = held_.at(key);
  st.at = phase::creating;
  // One create at a time: the one out there answers for this one too, and
  // two would end in one success and one node_exists that looks like a rival.
  if (st.create_pending) return;
  if (++st.attempts > 20) {
    // Something keeps failing (a lost race each time, say): leave it to the
    // next audit rather than spin.
    log(log_level::warn, describe("divider: giving up acquiring key", key) + " for now; the audit retries");
    return forget(key);
  }
  st.create_pending = true;
  pending_creates_.emplace_back(key, generation);
  schedule_creates();
}

// A joining member looks at each key it is to take (an exists each), and
// the answers come one per strand turn: flushing each turn sent hundreds of
// single creates (divider_bench, 10,000 keys, 4 -> 5: 600 flushes for 1,994
// keys, the first start 84 ms after the first create). Gather while looks
// are still out, up to a full multi or create_gather_window, whichever
// comes first; with nothing out, flush this turn as before.
void divider_core::schedule_creates() {
  if (pending_creates_.empty()) return;
  if (pending_creates_.size() >= max_multi_operations - 1 || looks_in_flight_ == 0) {
    return flush_at_turn_end(creates_scheduled_, &divider_core::flush_creates);
  }
  if (creates_timer_armed_) return;
  creates_timer_armed_ = true;
  creates_timer_.expires_after(create_gather_window);
  creates_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    me.creates_timer_armed_ = false;
    if (!ec) me.flush_creates();
  }));
}

// The answer to one of the looks schedule_creates waits for.
void divider_core::look_answered() {
  if (--looks_in_flight_ == 0) schedule_creates();
}

void divider_core::create_one(const std::string& key, std::uint64_t generation) {
  link_.create(owner_path(key), options_.member_id, {create_mode::ephemeral, {}, {}}, false,
               on_strand([key, generation](divider_core& me, std::error_code ec, const created_node& made) {
                 me.on_created(key, generation, ec, made);
               }),
               request_scope{alive_, 0});
}

// The creates of one strand turn go out together: a rebalance hands a
// member its keys in bursts (the old owners delete in batches too), and one
// multi is one request and one transaction-log write instead of a hundred.
// A multi's creates return no Stat, but they all share the transaction's
// zxid, which is each new node's czxid: the fencing token. A set of the
// owners directory's data in the same multi returns it (its mzxid).
void divider_core::flush_creates() {
  creates_scheduled_ = false;
  if (pending_creates_.empty()) return;
  auto all = std::move(pending_creates_);
  pending_creates_.clear();
  const std::size_t per_batch = max_multi_operations - 1;  // and the set that tells the zxid
  for (std::size_t i = 0; i < all.size(); i += per_batch) {
    std::vector<std::pair<std::string, std::uint64_t>> batch(
        all.begin() + static_cast<std::ptrdiff_t>(i),
        all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + per_batch)));
    auto core = link_.lock();
    if (batch.size() == 1 || !core) {
      for (auto& [key, generation] : batch) create_one(key, generation);
      continue;
    }
    std::vector<operation> ops;
    for (auto& [key, generation] : batch)
      ops.push_back(op::create{owner_path(key), options_.member_id, {create_mode::ephemeral, {}, {}}});
    ops.push_back(op::set{base_ + "/owners", {}, any_version});
    auto session_id = link_.session_id();
    link_.multi(std::move(ops),
                on_strand([batch, session_id](divider_core& me, std::error_code ec,
                                              const std::vector<operation_result>& results) {
                  me.created_in_batch(batch, session_id, ec, results);
                }),
                request_scope{alive_, session_id});
  }
}

void divider_core::created_in_batch(const std::vector<std::pair<std::string, std::uint64_t>>& batch,
                                    std::int64_t session_id, std::error_code ec,
                                    const std::vector<operation_result>& results) {
  bool made = !ec && results.size() == batch.size() + 1 && results.back().stat;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& [key, generation] = batch[i];
    auto it = held_.find(key);
    bool current = it != held_.end() && it->second.generation == generation && it->second.at == phase::creating;
    if (current) it->second.create_pending = false;
    if (made) {
      if (!current) {
        drop_stale_node(key, {results[i].path, session_id, results.back().stat->mzxid});
        continue;
      }
      stat st;
      st.czxid = results.back().stat->mzxid;
      st.ephemeral_owner = session_id;
      took(key, st);
      continue;
    }
    if (!current) continue;
    if (is_connection_loss(ec)) {
      check_ours(key, generation);  // the multi may or may not have happened
      continue;
    }
    // All or nothing: one key owned already (say) failed them all. One by
    // one, each finds its own outcome.
    it->second.create_pending = true;
    create_one(key, generation);
  }
}

void divider_core::on_created(const std::string& key, std::uint64_t generation, std::error_code ec,
                              const created_node& made) {
  auto it = held_.find(key);
  bool current = it != held_.end() && it->second.generation == generation;
  if (!current) {
    if (!ec) drop_stale_node(key, {made.path, made.stat.ephemeral_owner, made.stat.czxid});
    return;
  }
  it->second.create_pending = false;
  if (!still_acquiring(key, generation)) return;
  if (!ec) return took(key, made.stat);
  if (ec == errc::node_exists) return watch_owner(key, generation);
  if (ec == errc::no_node) {
    auto path = owner_path(key);
    return link_.ensure_path(path.substr(0, path.rfind('/')),
                             on_strand([key, generation](divider_core& me, std::error_code e) {
                               if (!me.still_acquiring(key, generation)) return;
                               if (e) return me.forget(key);
                               me.create_owner(key, generation);
                             }));
  }
  // The create may or may not have happened: look.
  if (is_connection_loss(ec)) return check_ours(key, generation);
  if (ec != errc::session_expired && ec != errc::session_closed)
    log(log_level::warn, describe("divider: cannot create the owner node of key", key) + ": " + ec.message());
  forget(key);
}

void divider_core::check_ours(const std::string& key, std::uint64_t generation) {
  ++looks_in_flight_;
  link_.exists(owner_path(key), {},
               on_strand([key, generation](divider_core& me, std::error_code ec, std::optional<stat> st) {
                 me.look_answered();
                 if (!me.still_acquiring(key, generation)) return;
                 if (ec) return me.look_again_later(key, generation);  // our create may have landed
                 if (!st) return me.create_owner(key, generation);
                 if (st->ephemeral_owner == me.link_.session_id()) return me.took(key, *st);
                 me.watch_owner(key, generation);
               }));
}

void divider_core::watch_owner(const std::string& key, std::uint64_t generation) {
  held_.at(key).at = phase::acquiring;
  auto watcher = [weak = weak_from_this(), key, generation](const watch_event& e) {
    auto self = weak.lock();
    if (!self) return;
    self->later([key, generation, type = e.type](divider_core& me) {
      auto it = me.held_.find(key);
      if (it == me.held_.end() || it->second.generation != generation || it->second.at != phase::acquiring) return;
      if (type == watch_event_type::session_lost) return me.forget(key);  // reconcile re-acquires on the next session
      // Deleted: create at once (a node_exists reply means someone was
      // quicker, and we watch again). Anything else: look again.
      if (type == watch_event_type::deleted) return me.create_owner(key, generation);
      me.check_ours(key, generation);
    });
  };
  ++looks_in_flight_;
  link_.exists(owner_path(key), std::move(watcher),
               on_strand([key, generation](divider_core& me, std::error_code ec, std::optional<stat> st) {
                 me.look_answered();
                 if (!me.still_acquiring(key, generation)) return;
                 if (ec) return me.look_again_later(key, generation);
                 if (!st) return me.create_owner(key, generation);  // gone already
                 if (st->ephemeral_owner == me.link_.session_id()) return me.took(key, *st);
                 // Someone else's: the watch tells us when it goes.
               }));
}

void divider_core::took(const std::string& key, const stat& st) {
  auto& state = held_.at(key);
  // Started already, or letting go: never two on_start in a row.
  if (state.at == phase::running || state.at == phase::deleting) return;
  state.at = phase::running;
  state.token = st.czxid;
  state.node_session = st.ephemeral_owner;
  state.since = std::chrono::system_clock::now();
  state.attempts = 0;
  maybe_owned_.erase(key);
  if (!wants(key)) return delete_owner(key);  // no longer ours while the create was in flight
  if (!lease_valid()) {
    // Ours, but nothing proves our session alive now: hold the node and
    // start when a heartbeat answers (resume_paused).
    state.at = phase::paused;
    return publish_soon();
  }
  {
    std::lock_guard lock(mutex_);
    assigned_.insert(key);
    assigned_tokens_[key] = st.czxid;
    ++status_.starts;
  }
  publish_soon();
  key_lease lease{key, st.czxid, owner_path(key), state.since, lease_until(), st.ephemeral_owner};
  call_user("divider on_start", callbacks_.on_start, lease);
}

void divider_core::begin_stop(const std::string& key, stop_reason reason) {
  auto& st = held_.at(key);
  st.at = phase::stopping;
  st.reason = reason;
  st.stop_began = std::chrono::steady_clock::now();
  auto generation = st.generation;
  st.stop_timer = std::make_shared<asio::steady_timer>(strand_);
  st.stop_timer->expires_after(options_.stop_timeout);
  st.stop_timer->async_wait(on_strand([key, generation](divider_core& me, const std::error_code& ec) {
    if (!ec) me.on_stop_timeout(key, generation);
  }));
  {
    std::lock_guard lock(mutex_);
    assigned_.erase(key);
    assigned_tokens_.erase(key);
    stopping_.insert(key);
    ++status_.stops;
  }
  publish_soon();
  call_user("divider on_stop", callbacks_.on_stop, key, reason);
}

void divider_core::on_stop_timeout(const std::string& key, std::uint64_t generation) {
  auto it = held_.find(key);
  if (it == held_.end() || it->second.generation != generation || it->second.at != phase::stopping) return;
  if (options_.on_stop_timeout == unconfirmed_stop::keep) {
    log(log_level::warn, describe("divider: the stop of key", key) + " is still not confirmed; keeping it");
    it->second.stop_timer->expires_after(options_.stop_timeout);
    it->second.stop_timer->async_wait(on_strand([key, generation](divider_core& me, const std::error_code& ec) {
      if (!ec) me.on_stop_timeout(key, generation);
    }));
    return;
  }
  log(log_level::warn, describe("divider: the stop of key", key) + " was not confirmed in time; handing it over");
  {
    std::lock_guard lock(mutex_);
    if (stopping_.erase(key)) timed_out_.insert(key);
    ++status_.stop_timeouts;
  }
  on_confirmed(key, true);
}

void divider_core::on_confirmed(const std::string& key, bool timed_out) {
  auto it = held_.find(key);
  if (it == held_.end() || it->second.at != phase::stopping) return;
  auto& st = it->second;
  if (st.stop_timer) st.stop_timer->cancel();
  st.stop_timer.reset();
  if (!timed_out) {
    std::lock_guard lock(mutex_);
    status_.stop_confirm_latency.record(std::chrono::steady_clock::now() - st.stop_began);
  }
  if (st.node_session == 0 || st.node_session != link_.session_id()) {
    // The node went with its session: nothing to hand over.
    forget(key);
    return schedule_reconcile();
  }
  if (!connected_ || lease_lapsed_) {
    st.at = phase::paused;  // decide on reconnect (or the lease's renewal): start again, or delete
    return publish();
  }
  if (!timed_out && wants(key)) return resume_or_delete(key);
  delete_owner(key);
}

// A paused (or stopped but still wanted) key whose node we hold: if the node
// is still ours and the key still ours by the assignment, start it again
// with the same token; otherwise let it go.
void divider_core::resume_or_delete(const std::string& key) {
  // A new generation: a second reconnect while this check is in flight
  // (a flapping connection) makes this reply stale instead of a second start.
  auto generation = held_.at(key).generation = ++generation_;
  link_.exists(owner_path(key), {}, on_strand([key, generation](divider_core& me, std::error_code ec, std::optional<stat> st) {
    auto it = me.held_.find(key);
    if (it == me.held_.end() || it->second.generation != generation) return;
    if (ec) {
      it->second.at = phase::paused;
      return;  // the next reconnect or audit decides
    }
    // Ours is the node we made: our session, and our token as its czxid.
    // Any other is a successor's (ours went; another member took the key).
    if (!st || st->ephemeral_owner != it->second.node_session || st->czxid != it->second.token) {
      me.forget(key);
      return me.schedule_reconcile();
    }
    if (!me.wants(key)) return me.delete_owner(key);
    me.took(key, *st);
  }));
}

// Deletes are gathered for one strand turn and sent as multis of up to 100:
// a rebalance lets go of many keys at once, and one request per batch
// instead of per key is what keeps the server's queue, and so each moving
// key's unowned time, short.
void divider_core::delete_owner(const std::string& key) {
  auto& st = held_.at(key);
  st.at = phase::deleting;
  pending_deletes_.emplace_back(key, st.generation);
  flush_at_turn_end(deletes_scheduled_, &divider_core::flush_deletes);
}

void divider_core::flush_deletes() {
  deletes_scheduled_ = false;
  std::vector<std::pair<std::string, std::uint64_t>> all;
  for (auto& [key, generation] : pending_deletes_) {
    // Still to delete, and on the session that owns it (an expiry since
    // took the node, and the path may be another member's by now).
    auto it = held_.find(key);
    if (it != held_.end() && it->second.generation == generation && it->second.at == phase::deleting &&
        it->second.node_session != 0)
      all.emplace_back(key, generation);
  }
  pending_deletes_.clear();
  for (std::size_t i = 0; i < all.size(); i += max_multi_operations) {
    std::vector<std::pair<std::string, std::uint64_t>> batch(
        all.begin() + static_cast<std::ptrdiff_t>(i),
        all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + max_multi_operations)));
    if (batch.size() == 1 || !link_.lock() || !same_session(batch)) {
      for (auto& [key, generation] : batch) remove_one(key, generation);
      continue;
    }
    // The first delete of a node we made and hold needs no look: nobody
    // else deletes it while our session lives. Its retry does (deleted()).
    std::vector<operation> ops;
    for (auto& [key, generation] : batch) ops.push_back(op::remove{owner_path(key), any_version});
    link_.multi(std::move(ops),
                on_strand([batch](divider_core& me, std::error_code ec, const std::vector<operation_result>&) {
                  for (auto& [key, generation] : batch) {
                    // A multi is all or nothing: if one node was gone
                    // already (say), none was deleted; go one by one.
                    if (ec && !is_connection_loss(ec) && !is_session_expired(ec))
                      me.remove_one(key, generation);
                    else
                      me.deleted(key, generation, ec);
                  }
                }),
                request_scope{{}, held_.at(batch.front().first).node_session});
  }
}

bool divider_core::same_session(const std::vector<std::pair<std::string, std::uint64_t>>& batch) const {
  for (auto& [key, generation] : batch)
    if (held_.at(key).node_session != held_.at(batch.front().first).node_session) return false;
  return true;
}

void divider_core::remove_one(const std::string& key, std::uint64_t generation) {
  link_.remove(owner_path(key), any_version,
               on_strand([key, generation](divider_core& me, std::error_code ec) { me.deleted(key, generation, ec); }),
               request_scope{{}, held_.at(key).node_session});
}

void divider_core::deleted(const std::string& key, std::uint64_t generation, std::error_code ec) {
  auto it = held_.find(key);
  if (it == held_.end() || it->second.generation != generation) return;
  if (is_connection_loss(ec)) {
    it->second.at = phase::paused;  // on reconnect: gone (forget) or still ours (delete again)
    return publish_soon();
  }
  if (ec && ec != errc::no_node && ec != errc::session_expired && ec != errc::session_closed)
    log(log_level::warn, describe("divider: cannot delete the owner node of key", key) + ": " + ec.message());
  bool handing_over = flushing_ && !cancelling_;
  forget(key);
  if (handing_over) watch_takeover(key);
  schedule_reconcile();  // wanted again meanwhile?
}

// A look that failed (not on a lost session) leaves the key as it was: our
// create may have landed, and forgetting the key would leave its node to
// nobody. The next look is in a moment.
void divider_core::look_again_later(const std::string& key, std::uint64_t generation) {
  auto& st = held_.at(key);
  if (link_.state() == session_state::expired || link_.state() == session_state::closed) return forget(key);
  st.stop_timer = std::make_shared<asio::steady_timer>(strand_);
  st.stop_timer->expires_after(std::chrono::milliseconds(100));
  st.stop_timer->async_wait(on_strand([key, generation](divider_core& me, const std::error_code& ec) {
    if (!ec && me.still_acquiring(key, generation)) me.check_ours(key, generation);
  }));
}

// A create answered after its attempt was given up made a node nobody
// runs. A newer attempt at the key adopts it (its look finds the node
// ours); with none, it is deleted, and the key waits for that delete
// before anyone here acquires it again.
void divider_core::drop_stale_node(const std::string& key, owned_node node) {
  if (held_.count(key)) return;
  removing_.insert(key);
  link_.remove_owned(std::move(node), on_strand([key](divider_core& me, std::error_code) {
                       me.removing_.erase(key);
                       me.mark_unsettled(key);
                       me.schedule_reconcile();
                     }));
}

owned_node divider_core::owner_node_of(const std::string& key, const key_state& st) const {
  return {owner_path(key), st.node_session, st.token};
}

void divider_core::remove_exclusion(const std::string& key) {
  auto it = my_exclusions_.find(key);
  if (it == my_exclusions_.end()) return;
  link_.remove_owned(it->second);
  my_exclusions_.erase(it);
}

void divider_core::forget(const std::string& key) {
  auto it = held_.find(key);
  if (it == held_.end()) return;
  if (it->second.stop_timer) it->second.stop_timer->cancel();
  held_.erase(it);
  mark_unsettled(key);  // wanted again meanwhile? the next reconcile acquires it
  publish_soon();
  std::lock_guard lock(mutex_);
  assigned_.erase(key);
  assigned_tokens_.erase(key);
  stopping_.erase(key);
}

// The later of two proofs: the heartbeat's, and any reply the server gave
// on our session (noted on the C client's completion thread, so thousands
// of replies queued on our strand do not hide that the session answers).
std::chrono::steady_clock::time_point divider_core::lease_until() const {
  using tp = std::chrono::steady_clock::time_point;
  auto by_heartbeat = tp(std::chrono::steady_clock::duration(lease_until_ns_.load()));
  auto answered = link_.answered_sent_at(link_.session_id());
  if (answered == tp{}) return by_heartbeat;
  return std::max(by_heartbeat, answered + link_.session_timeout() * 2 / 3);
}

bool divider_core::lease_valid() const { return std::chrono::steady_clock::now() < lease_until(); }

// At the lease's end check_lease runs (on_strand); if replies moved the end
// on meanwhile, wait for the new one.
void divider_core::watch_lease_end() {
  lease_timer_.expires_at(lease_until());
  lease_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    if (!ec && me.started_ && me.lease_valid()) me.watch_lease_end();
  }));
}

// A read without a watch every T/4: its reply proves the session was alive
// when it was sent, so the server cannot have expired it (and given our
// keys away) before send time + T. The lease ends at 2/3 of that, leaving
// a third for clock rates and the stop to land. The contender keeps the
// same lease for a role.
void divider_core::heartbeat() {
  heartbeating_ = true;
  auto sent = std::chrono::steady_clock::now();
  auto session_id = link_.session_id();
  link_.exists(base_, {}, on_strand([sent, session_id](divider_core& me, std::error_code ec, std::optional<stat>) {
                 if (!ec && session_id != 0 && session_id == me.link_.session_id()) me.extend_lease(sent);
                 if (!me.started_ && !me.cancelling_) {
                   me.heartbeating_ = false;
                   return;
                 }
                 auto interval = std::max(me.link_.session_timeout() / 4, std::chrono::milliseconds(10));
                 me.heartbeat_timer_.expires_after(ec ? std::min(interval, std::chrono::milliseconds(100)) : interval);
                 me.heartbeat_timer_.async_wait(me.on_strand([](divider_core& self, const std::error_code& e) {
                   if (e) return;
                   self.heartbeat();
                 }));
               }));
}

void divider_core::extend_lease(std::chrono::steady_clock::time_point sent) {
  auto until = sent + link_.session_timeout() * 2 / 3;
  if (until.time_since_epoch().count() <= lease_until_ns_.load()) return;
  bool was_valid = lease_valid();
  lease_until_ns_ = until.time_since_epoch().count();
  watch_lease_end();
  if (lease_lapsed_ || !was_valid) {
    // The first lease, or one after a lapse: keys held back wait no more.
    if (lease_lapsed_) log(log_level::info, "divider: the session answered again; the lease runs again");
    lease_lapsed_ = false;
    resume_paused();
  }
}

// The lease lapsed: every running key stops (lease_lapsed), first thing.
void divider_core::check_lease() {
  if (lease_lapsed_ || !started_ || lease_until_ns_.load() == 0 || lease_valid()) return;
  lease_lapsed_ = true;
  std::vector<std::string> running;
  for (auto& [key, st] : held_)
    if (st.at == phase::running) running.push_back(key);
  if (!running.empty())
    log(log_level::warn, "divider: the lease lapsed (no reply confirmed our session in time); stopping " +
                             std::to_string(running.size()) + " keys");
  for (auto& key : running) begin_stop(key, stop_reason::lease_lapsed);
}

// Keys stopped while they could not be decided (disconnected, or the lease
// lapsed): look at each node again, then start it or let it go.
void divider_core::resume_paused() {
  if (!connected_ || lease_lapsed_) return;
  std::vector<std::string> paused;
  for (auto& [key, st] : held_)
    if (st.at == phase::paused) paused.push_back(key);
  for (auto& key : paused) resume_or_delete(key);
  schedule_reconcile();
}

// --- session, flush, cancel -----------------------------------------------------

void divider_core::on_session_event(const session_event& e) {
  settle_everything_ = true;
  switch (e.state) {
    case session_state::suspended: {
      // The server may expire us and give our keys away: stop them all now
      // (DESIGN.md, suspension rule). They restart if this session returns.
      connected_ = false;
      std::vector<std::string> running;
      for (auto& [key, st] : held_)
        if (st.at == phase::running) running.push_back(key);
      for (auto& key : running) begin_stop(key, stop_reason::suspended);
      break;
    }
    case session_state::reconnected: {
      connected_ = true;
      resume_paused();
      schedule_reconcile();
      break;
    }
    case session_state::expired:
    case session_state::closed: {
      connected_ = false;
      auto reason = e.state == session_state::expired ? stop_reason::expired : stop_reason::cancelled;
      std::vector<std::string> keys;
      for (auto& [key, st] : held_) keys.push_back(key);
      for (auto& key : keys) {
        auto& st = held_.at(key);
        st.node_session = 0;  // the server deletes our nodes with the session
        if (st.at == phase::running)
          begin_stop(key, reason);
        else if (st.at != phase::stopping)
          forget(key);
      }
      my_exclusions_.clear();  // ephemeral: gone with the session
      if (e.state == session_state::expired) joined_ = false;  // group_member rejoins on the next session
      break;
    }
    case session_state::connected: {
      connected_ = true;
      if (started_ && !cancelling_ && !joined_) {
        // group_member rejoins by itself; we follow its lead.
        member_->async_join(on_strand([](divider_core& me, std::error_code ec) {
          if (!ec && me.started_ && !me.cancelling_) me.joined_ = true;
          me.schedule_reconcile();
        }));
      }
      schedule_reconcile();
      break;
    }
    default:
      break;
  }
  check_waiters();
  publish();
}

// A flushed key is handed over once another member's owner node exists.
void divider_core::watch_takeover(const std::string& key) {
  handoff_.insert(key);
  auto watcher = [weak = weak_from_this(), key](const watch_event&) {
    if (auto self = weak.lock())
      self->later([key](divider_core& me) {
        if (me.handoff_.count(key)) me.watch_takeover(key);
      });
  };
  link_.exists(owner_path(key), std::move(watcher),
               on_strand([key](divider_core& me, std::error_code ec, std::optional<stat> st) {
                 if (ec || (st && st->ephemeral_owner != me.link_.session_id())) {
                   me.handoff_.erase(key);
                   me.check_waiters();
                 }
               }));
}

void divider_core::check_waiters() {
  if (flushing_ && !flush_waiters_.empty()) {
    // Done when we hold nothing and every key we let go has a new owner,
    // or nobody else could take it (no other member with affinity > 0, or
    // the key was removed meanwhile).
    bool others = false;
    for (auto& [id, info] : members_view_ ? members_view_->members() : std::map<std::string, member_info>{})
      if (id != options_.member_id && info.affinity > 0) others = true;
    for (auto it = handoff_.begin(); it != handoff_.end();)
      it = (!others || !table_.contains(*it)) ? handoff_.erase(it) : std::next(it);
    if (held_.empty() && handoff_.empty()) {
      auto waiters = std::move(flush_waiters_);
      flush_waiters_.clear();
      for (auto& w : waiters) w({});
    }
  }
  if (cancelling_ && held_.empty()) {
    for (auto& [key, node] : my_exclusions_) link_.remove_owned(node);
    my_exclusions_.clear();
    cancelling_ = false;
    started_ = false;
    joined_ = false;
    flushing_ = false;
    letting_go_now_ = false;
    let_go_timer_.cancel();
    handoff_.clear();
    auto waiters = std::move(cancel_waiters_);
    cancel_waiters_.clear();
    auto flushes = std::move(flush_waiters_);
    flush_waiters_.clear();
    for (auto& w : flushes) w(errc::cancelled);
    for (auto& w : waiters) w({});
  }
}

// Repairs what a missed event could leave behind: a running key whose node
// is gone (deleted from outside) stops; wanted keys are acquired again.
// The owner nodes are looked at a slice per tick, audit_slices ticks per
// reconcile_interval: all at once, a fleet of 50 members with 2,000 keys
// each sent 100,000 exists in one burst every interval, and a join that met
// the burst waited seconds (divider_bench --large).
void divider_core::arm_audit() {
  audit_timer_.expires_after(std::max<std::chrono::milliseconds>(options_.reconcile_interval / audit_slices,
                                                                 std::chrono::milliseconds(1)));
  audit_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    if (ec) return;
    me.audit_owned();
    me.arm_audit();
  }));
}

void divider_core::audit_owned() {
  if (!connected_) return;
  // The running keys in turn, from just after the last one audited.
  std::vector<std::map<std::string, key_state>::iterator> running;
  auto cursor = held_.upper_bound(audit_cursor_);  // keys are never empty: "" means from the start
  for (auto it = cursor; it != held_.end(); ++it)
    if (it->second.at == phase::running) running.push_back(it);
  for (auto it = held_.begin(); it != cursor; ++it)
    if (it->second.at == phase::running) running.push_back(it);
  running.resize((running.size() + audit_slices - 1) / audit_slices);
  if (!running.empty()) audit_cursor_ = running.back()->first;
  for (auto it : running) {
    auto& [key, st] = *it;
    link_.exists(owner_path(key), {},
                 on_strand([key = key, generation = st.generation](divider_core& me, std::error_code ec,
                                                                   std::optional<stat> s) {
                   auto it = me.held_.find(key);
                   if (ec || it == me.held_.end() || it->second.generation != generation ||
                       it->second.at != phase::running)
                     return;
                   if (s && s->ephemeral_owner == it->second.node_session) return;
                   log(log_level::warn, describe("divider: the owner node of key", key) + " is gone; stopping it");
                   it->second.node_session = 0;
                   me.begin_stop(key, stop_reason::lost);
                 }));
  }
  reconcile_everything_now();  // the audit is also the repair of anything an event missed
}

// --- work fetcher -------------------------------------------------------------

void divider_core::arm_fetch() {
  fetch_timer_.expires_after(options_.fetch_interval);
  fetch_timer_.async_wait(on_strand([](divider_core& me, const std::error_code& ec) {
    if (!ec && me.fetching_) me.fetch();
  }));
}

void divider_core::fetch() {
  if (!keys_listed_) return arm_fetch();
  // The fetcher is user code and may block: run it off our strand.
  asio::post(executor_, [weak = weak_from_this(), fetcher = options_.work_fetcher] {
    std::optional<std::vector<std::string>> fetched;
    try {
      fetched = fetcher();
    } catch (const std::exception& e) {
      log(log_level::error, std::string("divider work_fetcher threw: ") + e.what());
    }
    auto self = weak.lock();
    if (!self) return;
    self->later([fetched = std::move(fetched)](divider_core& me) {
      if (!me.fetching_) return;
      me.arm_fetch();
      if (!fetched) return;
      std::set<std::string> want(fetched->begin(), fetched->end());
      std::vector<std::string> add, remove;
      for (auto& k : want)
        if (!me.table_.contains(k)) add.push_back(k);
      for (auto& k : me.table_.keys())
        if (!want.count(k)) remove.push_back(k);
      auto report = [](const char* what) {
        return [what](std::error_code ec) {
          if (ec) log(log_level::warn, std::string("divider work_fetcher: ") + what + " failed: " + ec.message());
        };
      };
      if (!add.empty()) me.change_work(std::move(add), false, done_type(report("adding keys"), me.executor_));
      if (!remove.empty()) me.change_work(std::move(remove), true, done_type(report("removing keys"), me.executor_));
    });
  });
}

// --- what other threads read ----------------------------------------------------

// Once per strand turn, not once per key: a rebalance touches many keys.
void divider_core::publish_soon() {
  if (publish_pending_) return;
  publish_pending_ = true;
  later([](divider_core& me) { me.publish(); });
}

void divider_core::publish() {
  publish_pending_ = false;
  divider_status s;
  s.started = started_;
  s.flushing = flushing_;
  if (members_view_) {
    auto members = members_view_->members();
    s.members = members.size();
    for (auto& [id, m] : members) s.shares[id] = member_share{m.affinity, m.endpoint, 0};
  }
  for (auto& [id, count] : keys_per_member_) s.shares[id].keys = count;
  s.keys_moved = keys_moved_;
  s.members_with_work = table_.eligible_members();
  s.keys = table_.size();
  s.no_eligible_member = s.keys > 0 && s.members_with_work == 0;
  for (auto& [key, st] : held_) {
    if (st.at == phase::running) ++s.assigned;
    if (st.at == phase::acquiring || st.at == phase::creating) ++s.acquiring;
    if (st.at == phase::stopping) ++s.stopping;
  }
  std::lock_guard lock(mutex_);
  s.rebalances = status_.rebalances;
  s.starts = status_.starts;
  s.stops = status_.stops;
  s.stop_timeouts = status_.stop_timeouts;
  s.stop_confirm_latency = status_.stop_confirm_latency;
  status_ = s;
}

void divider_core::close() {
  gate_.close();
  link_.remove_listener(listener_);
  // No strand handler runs any more: what they guarded is ours to touch.
  coalesce_timer_.cancel();
  members_timer_.cancel();
  audit_timer_.cancel();
  fetch_timer_.cancel();
  let_go_timer_.cancel();
  flush_affinity_timer_.cancel();
  ready_timer_.cancel();
  creates_timer_.cancel();
  heartbeat_timer_.cancel();
  lease_timer_.cancel();
  for (auto& [key, st] : held_)
    if (st.stop_timer) st.stop_timer->cancel();
  fetch_role_.reset();
  exclusions_view_.reset();
  keys_view_.reset();
  members_view_.reset();
  member_.reset();  // deletes our member node
  // Owner nodes of our live session, and our exclusions, go at once; a
  // create still unanswered is the session's to delete (alive_).
  for (auto& [key, st] : held_)
    if (st.node_session != 0 && st.node_session == link_.session_id()) link_.remove_owned(owner_node_of(key, st));
  for (auto& [key, node] : my_exclusions_) link_.remove_owned(node);
  alive_.reset();
}

}  // namespace nominee::detail
