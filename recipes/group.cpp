#include <nominee/group.hpp>

#include <algorithm>
#include <limits>
#include <cstdint>
#include <mutex>
#include <set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>
#include <nominee/watched_children.hpp>
#include <nominee/watched_node.hpp>

#include "node_data.hpp"
#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "user_callback.hpp"
#include "validate.hpp"
#include "watch_guard.hpp"

namespace nominee {
namespace detail {

namespace asio = boost::asio;

namespace {
std::error_code check_meta(const std::string& meta, std::string& normalized) {
  if (meta.size() > max_member_meta_bytes) return errc::invalid_json;
  auto n = normalize_json_object(meta);
  if (!n) return errc::invalid_json;
  normalized = *n;
  return {};
}
}  // namespace

// The membership's state on one strand: wanted (joined or joining), our
// node's version, the sessions we had (to recognise our own stale node).
class group_member_core : public std::enable_shared_from_this<group_member_core> {
 public:
  group_member_core(session& s, std::string path, group_options options)
      : link_(s), executor_(s.get_executor()), strand_(asio::make_strand(s.get_executor())), retry_timer_(strand_),
        path_(std::move(path)), options_(std::move(options)) {}

  const asio::any_io_executor& executor() const { return executor_; }

  void start() {
    listener_ = link_.add_listener([weak = weak_from_this()](const session_event& e) {
      if (auto self = weak.lock()) self->post([e](group_member_core& me) { me.on_session_event(e); });
    });
  }

  void join(group_member::completion done) {
    post([done = std::move(done)](group_member_core& me) mutable {
      me.wanted_ = true;
      if (me.joined_) return done({});
      me.join_waiters_.push_back(std::move(done));
      if (!me.joining_) me.create();
    });
  }

  void update(std::optional<std::int64_t> affinity, std::optional<std::string> endpoint,
              std::optional<std::string> meta, group_member::completion done) {
    post([change = member_change{affinity, endpoint, meta}, done = std::move(done)](group_member_core& me) mutable {
      if (!me.joined_) {
        me.apply(change);
        return done({});  // the next join carries it
      }
      me.write(std::move(change), 0, std::move(done));
    });
  }

  // Compare-and-set on our node: reads the affinity ZooKeeper has (someone
  // else, an admin say, may have changed it), writes it plus delta, and
  // starts over if the node changed in between.
  void alter_affinity(std::int64_t delta, completion<std::error_code, std::int64_t> done) {
    post([delta, done = std::move(done)](group_member_core& me) mutable {
      if (!me.joined_) {
        me.options_.affinity = plus_clamped(me.options_.affinity, delta);
        return done({}, me.options_.affinity);
      }
      me.alter_attempt(delta, 0, std::move(done));
    });
  }

  void adopt(const member_info& seen) {
    post([seen](group_member_core& me) {
      if (!me.joined_ || seen.session_id != me.link_.session_id() || seen.version <= me.version_) return;
      me.version_ = seen.version;
      me.options_.affinity = seen.affinity;
      me.options_.endpoint = seen.endpoint;
      me.options_.meta = seen.meta;
      std::lock_guard lock(me.mutex_);
      me.self_ = seen;
    });
  }

  void leave() {
    post([](group_member_core& me) { me.leave_now(); });
  }

  void stop() {
    gate_.close();
    link_.remove_listener(listener_);
    // Delete the node from here: no strand handler runs any more.
    std::lock_guard lock(mutex_);
    if (joined_flag_) link_.remove_owned(joined_node_);
    joined_flag_ = false;
    alive_.reset();  // a create still unanswered: the session deletes what it makes
  }

  bool joined() const {
    std::lock_guard lock(mutex_);
    return joined_flag_;
  }
  member_info self() const {
    std::lock_guard lock(mutex_);
    return self_;
  }

 private:
  template <class F>
  void post(F f) {
    asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
    });
  }
  template <class F>
  auto on_strand(F f) {
    return asio::bind_executor(strand_, [weak = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self, std::forward<decltype(args)>(args)...); });
    });
  }

  std::string data() const {
    return encode(member_data{options_.affinity, options_.endpoint, options_.meta});
  }

  void create() {
    joining_ = true;
    link_.create(path_, data(), {create_mode::ephemeral, {}, {}}, false,
                 on_strand([](group_member_core& me, std::error_code ec, created_node made) {
                   if (!ec) return me.joined(made.stat);
                   if (ec == errc::session_expired) {
                     // Its session ended before it was sent: join on the
                     // new one (now, or when on_session_event sees it).
                     me.joining_ = false;
                     if (me.wanted_ && me.link_.state() == session_state::connected) me.create();
                     return;
                   }
                   if (ec == errc::no_node) {
                     return me.link_.ensure_path(me.path_.substr(0, me.path_.rfind('/')),
                                                 me.on_strand([](group_member_core& self, std::error_code e) {
                                                   if (e) return self.fail_join(e);
                                                   self.create();
                                                 }));
                   }
                   if (ec == errc::node_exists) return me.inspect_existing();
                   if (is_connection_loss(ec)) return me.inspect_existing();  // did our create land?
                   me.fail_join(ec);
                 }),
                 request_scope{alive_, 0});
  }

  // The id is taken: by us (a create whose reply was lost), by an earlier
  // session of ours (not yet cleaned up by the server), or by someone else.
  void inspect_existing() {
    link_.get(path_, {}, on_strand([](group_member_core& me, std::error_code ec, node n) {
                if (ec == errc::no_node) return me.create();  // gone meanwhile: try again
                if (ec) return me.fail_join(ec);
                auto owner = n.stat.ephemeral_owner;
                if (owner == me.link_.session_id()) return me.joined(n.stat);
                if (me.past_sessions_.count(owner)) {
                  // Another session's node, if an old one of ours: never
                  // ours to delete. The server deletes it when it expires
                  // that session; we join the moment it does.
                  log(log_level::info, "member '" + me.options_.member_id +
                                           "': waiting for the server to delete our node of an old session");
                  return me.wait_for_old_node();
                }
                me.fail_join(errc::member_id_taken);
              }));
  }

  void wait_for_old_node() {
    auto watcher = [weak = weak_from_this()](const watch_event&) {
      if (auto self = weak.lock())
        self->post([](group_member_core& me) {
          if (me.joining_ && !me.joined_) me.create();
        });
    };
    link_.exists(path_, std::move(watcher), on_strand([](group_member_core& me, std::error_code ec, std::optional<stat> st) {
                   if (ec) return me.fail_join(ec);
                   if (!st) me.create();  // gone already (its watch may fire too: create() answers node_exists then)
                 }));
  }

  // Our node is watched while we are joined: deleted from outside (an
  // admin, a repair), we join again at once instead of running unseen.
  void watch_own_node() {
    auto czxid = joined_node_czxid_;
    auto watcher = [weak = weak_from_this(), czxid](const watch_event& e) {
      if (e.type == watch_event_type::session_lost) return;  // session events decide
      if (auto self = weak.lock())
        self->post([czxid, type = e.type](group_member_core& me) {
          if (!me.joined_ || czxid != me.joined_node_czxid_) return;
          if (type != watch_event_type::deleted) return me.watch_own_node();
          me.own_node_deleted();
        });
    };
    link_.exists(path_, std::move(watcher),
                 on_strand([czxid](group_member_core& me, std::error_code ec, std::optional<stat> st) {
                   if (ec || !me.joined_ || czxid != me.joined_node_czxid_) return;
                   if (!st || st->czxid != czxid) me.own_node_deleted();
                 }));
  }

  void own_node_deleted() {
    log(log_level::warn, "member '" + options_.member_id + "': our member node was deleted; joining again");
    joined_ = false;
    joined_node_czxid_ = 0;
    {
      std::lock_guard lock(mutex_);
      joined_flag_ = false;
    }
    if (wanted_ && !joining_) create();
  }

  void joined(const stat& st) {
    joining_ = false;
    joined_ = true;
    version_ = st.version;
    joined_node_czxid_ = st.czxid;
    past_sessions_.insert(link_.session_id());
    {
      std::lock_guard lock(mutex_);
      joined_flag_ = true;
      joined_node_ = {path_, st.ephemeral_owner, st.czxid};
      self_ = {options_.member_id, options_.affinity, options_.endpoint, options_.meta, link_.session_id(), st.version};
    }
    if (!wanted_) return leave_now();  // left while joining
    watch_own_node();
    auto waiters = std::move(join_waiters_);
    join_waiters_.clear();
    for (auto& w : waiters) w({});
  }

  void fail_join(std::error_code ec) {
    joining_ = false;
    if (ec == errc::member_id_taken)
      log(log_level::error, "member id '" + options_.member_id + "' is taken by another live session");
    auto waiters = std::move(join_waiters_);
    join_waiters_.clear();
    if (waiters.empty() && wanted_ && ec != errc::session_closed) {
      // A rejoin after an expiry: keep trying (our old node may still be
      // waiting for the server to expire it).
      retry_timer_.expires_after(std::chrono::milliseconds(500));
      retry_timer_.async_wait(on_strand([](group_member_core& me, const std::error_code& e) {
        if (!e && me.wanted_ && !me.joined_ && !me.joining_) me.create();
      }));
      return;
    }
    wanted_ = false;
    // A create whose outcome we never learned (its reply lost, the look
    // after it failed) may have made our node: it must not stay as a
    // phantom member. Deleted only if it is this session's.
    if (ec != errc::member_id_taken && !is_session_expired(ec) && ec != errc::session_closed)
      link_.remove_owned({path_, link_.session_id(), 0});
    for (auto& w : waiters) w(ec);
  }

  // The fields one update changes; the others stay as the node has them.
  struct member_change {
    std::optional<std::int64_t> affinity;
    std::optional<std::string> endpoint;
    std::optional<std::string> meta;
  };

  void apply(const member_change& change) {
    if (change.affinity) options_.affinity = *change.affinity;
    if (change.endpoint) options_.endpoint = *change.endpoint;
    if (change.meta) options_.meta = *change.meta;
  }

  // Read-modify-write on our node: the first try assumes we were its last
  // writer (the usual case, no read); if someone else (an admin) wrote it
  // since, take the fields we are not changing from what they wrote and
  // try again, so their change is kept rather than overwritten.
  void write(member_change change, int attempt, group_member::completion done) {
    apply(change);
    link_.set(path_, data(), version_, on_strand([change, attempt, done = std::move(done)](
                                                      group_member_core& me, std::error_code ec, stat st) mutable {
                if (ec == errc::bad_version && attempt < 100) {
                  return me.link_.get(me.path_, {},
                                      me.on_strand([change = std::move(change), attempt, done = std::move(done)](
                                                       group_member_core& self, std::error_code e, node n) mutable {
                                        if (e) return done(e);
                                        auto current = decode_member(n.data);
                                        if (!current) return done(errc::invalid_json);
                                        self.version_ = n.stat.version;
                                        self.options_.affinity = current->affinity;
                                        self.options_.endpoint = current->endpoint;
                                        self.options_.meta = current->meta;
                                        self.write(std::move(change), attempt + 1, std::move(done));
                                      }));
                }
                if (ec) return done(ec);
                me.version_ = st.version;
                {
                  std::lock_guard lock(me.mutex_);
                  me.self_ = {me.options_.member_id, me.options_.affinity, me.options_.endpoint, me.options_.meta,
                              me.link_.session_id(), st.version};
                }
                done({});
              }));
  }

  static std::int64_t plus_clamped(std::int64_t value, std::int64_t delta) {
    std::int64_t sum;
    if (__builtin_add_overflow(value, delta, &sum)) sum = delta > 0 ? std::numeric_limits<std::int64_t>::max() : 0;
    return std::max<std::int64_t>(0, sum);
  }

  void alter_attempt(std::int64_t delta, int attempt, completion<std::error_code, std::int64_t> done) {
    link_.get(path_, {}, on_strand([delta, attempt, done = std::move(done)](group_member_core& me, std::error_code ec,
                                                                            node n) mutable {
      if (ec) return done(ec, me.options_.affinity);
      auto current = decode_member(n.data);
      if (!current) return done(errc::invalid_json, me.options_.affinity);
      auto next = plus_clamped(current->affinity, delta);
      member_data written{next, current->endpoint, current->meta};
      me.link_.set(me.path_, encode(written), n.stat.version,
                   me.on_strand([delta, attempt, next, written, done = std::move(done)](
                                    group_member_core& self, std::error_code e, stat st) mutable {
                     if (e == errc::bad_version && attempt < 100) return self.alter_attempt(delta, attempt + 1, std::move(done));
                     if (e) return done(e, self.options_.affinity);
                     self.version_ = st.version;
                     self.options_.affinity = next;
                     self.options_.endpoint = written.endpoint;
                     self.options_.meta = written.meta;
                     {
                       std::lock_guard lock(self.mutex_);
                       self.self_ = {self.options_.member_id, next, written.endpoint, written.meta,
                                     self.link_.session_id(), st.version};
                     }
                     done({}, next);
                   }));
    }));
  }

  void leave_now() {
    wanted_ = false;
    retry_timer_.cancel();
    joined_node_czxid_ = 0;
    std::lock_guard lock(mutex_);
    if (joined_) link_.remove_owned(joined_node_);
    joined_ = false;
    joined_flag_ = false;
  }

  void on_session_event(const session_event& e) {
    if (e.state == session_state::expired) {
      joined_ = false;
      joining_ = false;
      std::lock_guard lock(mutex_);
      joined_flag_ = false;
    } else if (e.state == session_state::connected && wanted_ && !joined_ && !joining_) {
      create();  // rejoin on the new session
    } else if (e.state == session_state::closed) {
      wanted_ = false;
      joined_ = false;
      std::lock_guard lock(mutex_);
      joined_flag_ = false;
    }
  }

  session_link link_;
  asio::any_io_executor executor_;
  watched_node::strand_type strand_;
  asio::steady_timer retry_timer_;
  callback_gate gate_;
  session::listener_id listener_ = 0;
  std::string path_;

  // Strand state.
  group_options options_;
  bool wanted_ = false;
  bool joining_ = false;
  bool joined_ = false;
  std::int32_t version_ = 0;
  std::set<std::int64_t> past_sessions_;
  std::vector<group_member::completion> join_waiters_;
  std::int64_t joined_node_czxid_ = 0;  // our node while joined_ (0: none)
  // Holds the nodes our creates make (ephemeral_ledger): reset by stop(),
  // so a create answered after that is deleted by the session.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  mutable std::mutex mutex_;
  bool joined_flag_ = false;
  owned_node joined_node_;  // what stop() deletes
  member_info self_;
};

// Children of /members, and a watched_node per member, all on one strand.
class group_view_impl : public std::enable_shared_from_this<group_view_impl> {
 public:
  group_view_impl(session& s, std::string directory, group_view::callbacks cb)
      : session_(&s), directory_(std::move(directory)), callbacks_(std::move(cb)),
        strand_(asio::make_strand(s.get_executor())) {}

  void start() {
    children_ = std::make_unique<watched_children>(
        *session_, directory_,
        [weak = weak_from_this()](const children_change& change) {
          if (auto self = weak.lock()) self->later([change](group_view_impl& me) { me.on_children(change); });
        },
        strand_);
  }

  void stop() {
    gate_.close();
    children_.reset();
    nodes_.clear();
  }

  // Runs f on the strand under our gate, after the current handler: the
  // caches call us while holding their own gate, and we destroy caches while
  // holding ours; deferring keeps the only lock order ours -> theirs.
  template <class F>
  void later(F f) {
    asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
    });
  }

  std::map<std::string, member_info> members() const {
    std::lock_guard lock(mutex_);
    return members_;
  }
  bool ready() const {
    std::lock_guard lock(mutex_);
    return listed_ && unread_.empty();
  }

 private:
  void on_children(const children_change& change) {
    {
      std::lock_guard lock(mutex_);
      listed_ = true;
      for (auto& name : change.removed) unread_.erase(name);
      for (auto& name : change.added)
        if (!nodes_.count(name)) unread_.insert(name);
    }
    for (auto& name : change.removed) {
      nodes_.erase(name);
      forget(name);
    }
    for (auto& name : change.added) {
      if (nodes_.count(name)) continue;
      // Node watches need the session; the view is only ever built from a live one.
      nodes_[name] = std::make_unique<watched_node>(
          *session_, directory_ + "/" + name,
          [weak = weak_from_this(), name](const node_change& n) {
            if (auto self = weak.lock()) self->later([name, n](group_view_impl& me) { me.on_node(name, n); });
          },
          strand_);
    }
  }

  void on_node(const std::string& name, const node_change& n) {
    {
      std::lock_guard lock(mutex_);
      unread_.erase(name);
    }
    if (!n.exists) return forget(name);
    auto data = decode_member(n.data);
    if (!data) {
      log(log_level::warn, "group member '" + name + "' has malformed data; ignoring it");
      return;
    }
    member_info info{name, data->affinity, data->endpoint, data->meta, n.stat.ephemeral_owner, n.stat.version};
    std::optional<member_info> before;
    {
      std::lock_guard lock(mutex_);
      auto it = members_.find(name);
      if (it != members_.end()) {
        if (it->second == info) return;
        before = it->second;
      }
      members_[name] = info;
    }
    if (before)
      call("on_update", callbacks_.on_update, info, *before);
    else
      call("on_join", callbacks_.on_join, info);
  }

  void forget(const std::string& name) {
    std::optional<member_info> gone;
    {
      std::lock_guard lock(mutex_);
      auto it = members_.find(name);
      if (it == members_.end()) return;
      gone = it->second;
      members_.erase(it);
    }
    call("on_leave", callbacks_.on_leave, *gone);
  }

  template <class F, class... Args>
  static void call(const char* what, const F& f, const Args&... args) {
    call_user((std::string("group_view ") + what).c_str(), f, args...);
  }

  session* session_;
  std::string directory_;
  group_view::callbacks callbacks_;
  watched_children::strand_type strand_;
  callback_gate gate_;
  std::unique_ptr<watched_children> children_;
  std::map<std::string, std::unique_ptr<watched_node>> nodes_;  // strand only
  mutable std::mutex mutex_;
  std::map<std::string, member_info> members_;
  bool listed_ = false;
  std::set<std::string> unread_;  // listed, data not read yet
};

}  // namespace detail

group_member::group_member(session& s, group_options options) {
  detail::require_root("group_options.root", options.root);
  detail::require_name("group_options.member_id", options.member_id);
  if (options.affinity < 0)
    throw error(errc::invalid_option, detail::describe("group_options.affinity", std::to_string(options.affinity)));
  if (detail::check_text(options.endpoint))
    throw error(errc::invalid_option, detail::describe("group_options.endpoint", options.endpoint));
  std::string meta;
  if (auto ec = detail::check_meta(options.meta, meta)) throw error(ec, detail::describe("group_options.meta", options.meta));
  options.meta = meta;
  path_ = detail::under(options.root, "members", options.member_id);
  core_ = std::make_shared<detail::group_member_core>(s, path_, std::move(options));
  core_->start();
}

group_member::~group_member() { core_->stop(); }

boost::asio::any_io_executor group_member::executor() const { return core_->executor(); }

void group_member::start_join(completion done) { core_->join(std::move(done)); }

void group_member::start_set_affinity(std::int64_t affinity, completion done) {
  if (affinity < 0) return done(errc::invalid_option);
  core_->update(affinity, std::nullopt, std::nullopt, std::move(done));
}

void group_member::start_update(std::string endpoint, std::string meta, completion done) {
  std::string normalized;
  if (auto ec = detail::check_meta(meta, normalized)) return done(ec);
  if (detail::check_text(endpoint)) return done(errc::invalid_option);
  core_->update(std::nullopt, std::move(endpoint), std::move(normalized), std::move(done));
}

void group_member::adopt(const member_info& seen) { core_->adopt(seen); }

void group_member::start_alter_affinity(std::int64_t delta, detail::completion<std::error_code, std::int64_t> done) {
  core_->alter_affinity(delta, std::move(done));
}

void group_member::leave() { core_->leave(); }
bool group_member::joined() const { return core_->joined(); }
member_info group_member::self() const { return core_->self(); }

group_view::group_view(session& s, std::string root, callbacks on_change) {
  detail::require_root("group_view root", root);
  impl_ = std::make_shared<detail::group_view_impl>(s, detail::under(root, "members"), std::move(on_change));
  impl_->start();
}

group_view::~group_view() { impl_->stop(); }

std::map<std::string, member_info> group_view::members() const { return impl_->members(); }
bool group_view::ready() const { return impl_->ready(); }

}  // namespace nominee
