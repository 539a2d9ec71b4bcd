#include <nominee/divider_admin.hpp>

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>
#include <nominee/watched_children.hpp>
#include <nominee/watched_node.hpp>

#include "assignment_table.hpp"
#include "contender.hpp"
#include "key_codec.hpp"
#include "node_data.hpp"
#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "user_callback.hpp"
#include "validate.hpp"
#include "watch_guard.hpp"
#include "work_keys.hpp"
#include "work_layout.hpp"

namespace nominee {

namespace asio = boost::asio;

// --- the prefix's layout (divider.hpp) ------------------------------------------
namespace detail {
namespace {

std::optional<member_info> to_member(const std::string& id, const node& n) {
  auto data = decode_member(n.data);
  if (!data) {
    log(log_level::warn, describe("divider admin: member", id) + " has malformed data; leaving it out");
    return std::nullopt;
  }
  return member_info{id, data->affinity, data->endpoint, data->meta, n.stat.ephemeral_owner, n.stat.version};
}

bool same_holder(const std::optional<role_holder>& a, const std::optional<role_holder>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->member_id == b->member_id && a->endpoint == b->endpoint && a->token == b->token && a->node == b->node;
}

// Many reads at once, at most `window` in flight, on one strand. Each
// reply goes to its continuation (on the strand), which may queue more
// reads or fail the whole thing; done(ec, failed path) comes once, when
// nothing is left or at the first failure.
class reader : public std::enable_shared_from_this<reader> {
  using core_ptr = std::shared_ptr<session_core>;

  // A reply handler: on the strand, to its continuation, then more reads.
  // (Defined before its users: they need its deduced type.)
  template <class F>
  auto reply(F then) {
    return asio::bind_executor(strand_, [self = shared_from_this(), then = std::move(then)](std::error_code ec,
                                                                                          auto value) mutable {
      --self->in_flight_;
      if (self->finished_) return;
      then(*self, ec, std::move(value));
      self->pump();
    });
  }

 public:
  static constexpr std::size_t window = 256;

  explicit reader(const session& s) : link_(s), strand_(asio::make_strand(s.get_executor())) {}

  // Queue reads (before run, or from a continuation).
  void get(std::string path, std::function<void(reader&, std::error_code, node)> then) {
    queue_.push_back([path = std::move(path), then = std::move(then)](reader& me, const core_ptr& core) mutable {
      start_get(core, path, {}, completion<std::error_code, node>(me.reply(std::move(then)), core->executor()));
    });
  }
  void list(std::string path, std::function<void(reader&, std::error_code, children)> then) {
    queue_.push_back([path = std::move(path), then = std::move(then)](reader& me, const core_ptr& core) mutable {
      start_get_children(core, path, {},
                         completion<std::error_code, children>(me.reply(std::move(then)), core->executor()));
    });
  }
  // Fails the whole read, naming path.
  void fail(std::error_code ec, const std::string& path) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    auto done = std::move(done_);
    done(ec, path);
  }

  // done may be move-only (it usually holds the caller's completion).
  template <class F>
  void run(F done) {
    auto shared = std::make_shared<F>(std::move(done));
    done_ = [shared](std::error_code ec, const std::string& path) { (*shared)(ec, path); };
    asio::post(strand_, [self = shared_from_this()] { self->pump(); });
  }

 private:
  void pump() {
    if (finished_) return;
    auto core = link_.lock();
    if (!core) return fail(errc::session_closed, "");
    while (in_flight_ < window && !queue_.empty()) {
      auto next = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
      next(*this, core);
    }
    if (in_flight_ == 0 && queue_.empty()) {
      finished_ = true;
      auto done = std::move(done_);
      done({}, "");
    }
  }

  session_link link_;
  asio::strand<asio::any_io_executor> strand_;
  std::deque<std::function<void(reader&, const core_ptr&)>> queue_;
  std::size_t in_flight_ = 0;
  bool finished_ = false;
  std::function<void(std::error_code, const std::string&)> done_;
};

// A listing where a missing parent is an empty list, and any other error
// fails the read.
template <class F>
auto listing(F each) {
  return [each = std::move(each)](reader& r, std::error_code ec, children kids) mutable {
    if (ec == errc::no_node) return;
    if (ec) return r.fail(ec, kids.path);
    for (auto& name : kids.names) each(r, kids.path, name);
  };
}

// Reads the members directory into `out` (a node gone meanwhile is left out).
void read_members(reader& r, const std::string& base, std::shared_ptr<std::map<std::string, member_info>> out) {
  r.list(base + "/members", listing([out](reader& me, const std::string& dir, const std::string& name) {
           me.get(dir + "/" + name, [out, name](reader& self, std::error_code ec, node n) {
             if (ec == errc::no_node) return;
             if (ec) return self.fail(ec, n.path);
             if (auto info = to_member(name, n)) (*out)[name] = std::move(*info);
           });
         }));
}

// --- set_affinity: compare-and-set on the member's node --------------------------

class affinity_write : public std::enable_shared_from_this<affinity_write> {
  // (Defined before its users: they need its deduced type.)
  template <class F>
  auto on_strand(F f) {
    return asio::bind_executor(strand_, [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }

 public:
  affinity_write(const session& s, std::string path, std::string id, std::int64_t affinity,
                 completion<std::error_code, member_update> done)
      : link_(s), strand_(asio::make_strand(s.get_executor())), path_(std::move(path)), id_(std::move(id)),
        affinity_(affinity), done_(std::move(done)) {}

  void attempt() {
    auto core = link_.lock();
    if (!core) return finish(errc::session_closed);
    start_get(core, path_, {},
              completion<std::error_code, node>(on_strand([](affinity_write& me, std::error_code ec, node n) {
                                                  me.on_read(ec, std::move(n));
                                                }),
                                                core->executor()));
  }

 private:
  void on_read(std::error_code ec, node n) {
    if (ec) return finish(ec);
    auto before = to_member(id_, n);
    if (!before) return finish(errc::invalid_json);
    update_.before = *before;
    update_.after = *before;
    if (before->affinity == affinity_) return finish({});
    auto core = link_.lock();
    if (!core) return finish(errc::session_closed);
    auto data = encode(member_data{affinity_, before->endpoint, before->meta});
    start_set(core, path_, std::move(data), n.stat.version,
              completion<std::error_code, stat>(on_strand([](affinity_write& me, std::error_code e, stat st) {
                                                  me.on_written(e, st);
                                                }),
                                                core->executor()));
  }

  void on_written(std::error_code ec, const stat& st) {
    // Someone wrote the node between our read and write (the member
    // itself, another admin): read again. After a connection loss the
    // write may or may not have landed; the value is absolute, so reading
    // and writing again is safe.
    bool again = ec == errc::bad_version ? ++conflicts_ < 100 : is_connection_loss(ec) && ++losses_ < 3;
    if (again) return attempt();
    if (ec) return finish(ec);
    update_.after.affinity = affinity_;
    update_.after.version = st.version;
    finish({});
  }

  void finish(std::error_code ec) {
    update_.path = path_;
    auto done = std::move(done_);
    done(ec, std::move(update_));
  }

  session_link link_;
  asio::strand<asio::any_io_executor> strand_;
  std::string path_;
  std::string id_;
  std::int64_t affinity_;
  completion<std::error_code, member_update> done_;
  member_update update_;
  int conflicts_ = 0;
  int losses_ = 0;
};

// --- roles: each role's lowest candidate -----------------------------------------

void read_role(reader& r, const std::string& dir, const std::string& role, std::shared_ptr<role_list> out,
               int attempt) {
  r.list(dir + "/" + role, [dir, role, out, attempt](reader& me, std::error_code ec, children kids) {
    auto& state = out->roles[role];
    if (ec == errc::no_node) return;  // gone meanwhile: no holder
    if (ec) return me.fail(ec, kids.path);
    state.candidates = kids.names.size();
    auto order = sorted_by_sequence(std::move(kids.names));
    if (order.empty()) return;
    me.get(kids.path + "/" + order.front(), [dir, role, out, attempt](reader& self, std::error_code e, node n) {
      // The holder left between the listing and the read: list again.
      if (e == errc::no_node && attempt < 10) return read_role(self, dir, role, out, attempt + 1);
      if (e == errc::no_node) return;
      if (e) return self.fail(e, n.path);
      auto data = decode_candidate(n.data).value_or(candidate_data{});
      out->roles[role].holder = role_holder{data.member_id, data.endpoint, n.stat.czxid, n.path};
    });
  });
}

}  // namespace
}  // namespace detail

// --- results ----------------------------------------------------------------------

std::map<std::string, member_keys> divider_assignment::per_member() const {
  std::map<std::string, member_keys> out;
  for (auto& [id, info] : members) out[id];
  for (auto& k : keys) {
    if (k.owner) ++out[*k.owner].owned;
    if (k.target) ++out[*k.target].target;
  }
  return out;
}

std::size_t divider_assignment::unowned() const {
  return static_cast<std::size_t>(std::count_if(keys.begin(), keys.end(), [](auto& k) { return !k.owned(); }));
}

std::size_t divider_assignment::moving() const {
  return static_cast<std::size_t>(std::count_if(keys.begin(), keys.end(), [](auto& k) { return k.moving(); }));
}

// --- divider_admin -------------------------------------------------------------

divider_admin::divider_admin(session& s, std::string root, std::string prefix)
    : session_(&s), executor_(s.get_executor()), root_(std::move(root)), prefix_(std::move(prefix)),
      base_(detail::work_base(root_, prefix_)) {}

std::error_code divider_admin::check_key(std::string_view key) noexcept { return detail::check_key(key); }

std::error_code divider_admin::check_member(std::string_view member_id) noexcept {
  return detail::check_name(member_id);
}

std::error_code divider_admin::check_affinity(std::int64_t affinity) noexcept {
  return affinity < 0 ? make_error_code(errc::invalid_option) : std::error_code{};
}

void divider_admin::start_members(detail::completion<std::error_code, divider_members> done) {
  auto r = std::make_shared<detail::reader>(*session_);
  auto members = std::make_shared<std::map<std::string, member_info>>();
  detail::read_members(*r, base_, members);
  r->run([done = std::move(done), members, path = base_ + "/members"](std::error_code ec,
                                                                        const std::string& failed) mutable {
    done(ec, divider_members{ec ? failed : path, ec ? std::map<std::string, member_info>{} : std::move(*members)});
  });
}

void divider_admin::start_assignment(detail::completion<std::error_code, divider_assignment> done) {
  struct snapshot {
    std::map<std::string, member_info> members;
    std::vector<std::string> keys;
    std::map<std::string, std::pair<std::string, std::int64_t>> owners;  // key -> member, czxid
    std::map<std::string, std::set<std::string>> exclusions;             // key -> members
  };
  auto r = std::make_shared<detail::reader>(*session_);
  auto snap = std::make_shared<snapshot>();
  auto members = std::make_shared<std::map<std::string, member_info>>();
  detail::read_members(*r, base_, members);
  for (unsigned shard = 0; shard < detail::key_shards; ++shard) {
    r->list(detail::keys_directory(base_, detail::shard_name(shard)),
            detail::listing([snap](detail::reader&, const std::string&, const std::string& name) {
              if (auto key = detail::decode_key(name)) snap->keys.push_back(std::move(*key));
            }));
    r->list(detail::owners_directory(base_, detail::shard_name(shard)),
            detail::listing([snap](detail::reader& me, const std::string& dir, const std::string& name) {
              auto key = detail::decode_key(name);
              if (!key) return;
              me.get(dir + "/" + name, [snap, key = *key](detail::reader& self, std::error_code ec, node n) {
                if (ec == errc::no_node) return;  // let go meanwhile
                if (ec) return self.fail(ec, n.path);
                snap->owners[key] = {n.data, n.stat.czxid};
              });
            }));
  }
  r->list(detail::exclusions_directory(base_), detail::listing([snap](detail::reader&, const std::string&, const std::string& name) {
            if (auto e = detail::parse_exclusion(name)) snap->exclusions[e->first].insert(e->second);
          }));
  r->run([done = std::move(done), snap, members, base = base_](std::error_code ec, const std::string& failed) mutable {
    divider_assignment out;
    if (ec) {
      out.path = failed;
      return done(ec, std::move(out));
    }
    out.path = base;
    out.members = std::move(*members);
    // The same ranking every member computes (assignment_table, as the
    // divider uses it): members with affinity, keys, exclusions.
    detail::assignment_table table;
    std::vector<detail::weighted_member> weighted;
    for (auto& [id, info] : out.members) weighted.push_back({id, info.affinity});
    table.set_members(weighted);
    table.add_keys(snap->keys);
    table.set_exclusions(snap->exclusions);
    std::sort(snap->keys.begin(), snap->keys.end());
    out.keys.reserve(snap->keys.size());
    for (auto& key : snap->keys) {
      key_assignment k;
      k.key = key;
      if (auto it = snap->owners.find(key); it != snap->owners.end()) {
        k.owner = it->second.first;
        k.token = it->second.second;
      }
      k.target = table.owner(key);
      if (auto it = snap->exclusions.find(key); it != snap->exclusions.end())
        k.excluded.assign(it->second.begin(), it->second.end());
      out.keys.push_back(std::move(k));
    }
    done({}, std::move(out));
  });
}

void divider_admin::start_change_work(std::vector<std::string> keys, bool remove,
                                      detail::completion<std::error_code, work_update> done) {
  for (auto& key : keys)
    if (auto ec = detail::check_key(key)) return done(ec, work_update{detail::describe("work key", key), 0});
  auto distinct = std::set<std::string>(keys.begin(), keys.end()).size();
  auto path = base_ + "/keys";
  if (keys.empty()) return done({}, work_update{path, 0});
  // The divider's own path for its async_add_work / async_remove_work.
  detail::change_work(*session_, base_, std::move(keys), remove,
                      detail::completion<std::error_code>(
                          [done = std::move(done), path, distinct](std::error_code ec) mutable {
                            done(ec, work_update{path, distinct});
                          },
                          executor_));
}

void divider_admin::start_set_affinity(std::string member_id, std::int64_t affinity,
                                       detail::completion<std::error_code, member_update> done) {
  if (auto ec = check_member(member_id)) {
    member_update refused;
    refused.path = detail::describe("member id", member_id);
    return done(ec, std::move(refused));
  }
  if (auto ec = check_affinity(affinity)) {
    member_update refused;
    refused.path = detail::describe("affinity", std::to_string(affinity)) + " for member '" + member_id + "'";
    return done(ec, std::move(refused));
  }
  auto path = detail::under(base_, "members", member_id);
  std::make_shared<detail::affinity_write>(*session_, std::move(path), std::move(member_id), affinity, std::move(done))
      ->attempt();
}

void divider_admin::start_roles(detail::completion<std::error_code, role_list> done) {
  auto r = std::make_shared<detail::reader>(*session_);
  auto out = std::make_shared<role_list>();
  auto dir = detail::under(root_, "roles");
  out->path = dir;
  r->list(dir, detail::listing([out](detail::reader& me, const std::string& d, const std::string& role) {
            out->roles[role];
            detail::read_role(me, d, role, out, 0);
          }));
  r->run([done = std::move(done), out](std::error_code ec, const std::string& failed) mutable {
    if (ec) return done(ec, role_list{failed, {}});
    done({}, std::move(*out));
  });
}

// --- divider_watch ----------------------------------------------------------------

namespace detail {

// Everything on one strand, under one gate. The views' callbacks only post
// here (later): they call us holding their gate, and we destroy them
// holding ours, so the one lock order is ours -> theirs.
class divider_watch_impl : public std::enable_shared_from_this<divider_watch_impl> {
 public:
  divider_watch_impl(session& s, std::string root, std::string base, divider_watch::callbacks cb)
      : session_(&s), link_(s), strand_(asio::make_strand(s.get_executor())), ready_timer_(strand_),
        roles_dir_path_(under(root, "roles")), base_(std::move(base)), callbacks_(std::move(cb)) {}

  void start() {
    later([](divider_watch_impl& me) { me.open(); });
  }

  void stop() {
    gate_.close();
    // No handler of ours runs any more: the strand state is ours to touch.
    ready_timer_.cancel();
    members_view_.reset();
    keys_view_.reset();
    roles_dir_.reset();
    roles_.clear();
    keys_.clear();
  }

  bool ready() const {
    std::lock_guard lock(mutex_);
    return ready_flag_;
  }

 private:
  struct role_entry {
    std::unique_ptr<watched_children> candidates;
    std::uint64_t generation = 0;
    std::string lowest;
    bool listed = false;
    bool resolved = false;
    std::optional<role_holder> holder;
  };
  struct key_entry {
    std::unique_ptr<watched_node> owner_node;
    std::uint64_t generation = 0;
    bool read = false;
    std::optional<std::string> owner;
    std::int64_t token = 0;
  };

  template <class F>
  void later(F f) {
    asio::post(strand_, [weak = weak_from_this(), f = std::move(f)]() mutable {
      if (auto self = weak.lock()) self->gate_.run([&] { f(*self); });
    });
  }

  void open() {
    auto weak = weak_from_this();
    members_view_ = std::make_unique<group_view>(
        *session_, base_,
        group_view::callbacks{
            [weak](const member_info& m) {
              if (auto self = weak.lock()) self->later([m](divider_watch_impl& me) { me.on_member(m.id, m); });
            },
            [weak](const member_info& m) {
              if (auto self = weak.lock())
                self->later([id = m.id](divider_watch_impl& me) { me.on_member(id, std::nullopt); });
            },
            [weak](const member_info& now, const member_info&) {
              if (auto self = weak.lock()) self->later([now](divider_watch_impl& me) { me.on_member(now.id, now); });
            }});
    keys_view_ = std::make_unique<key_set_view>(
        *session_, base_, [weak](const std::vector<std::string>& added, const std::vector<std::string>& removed, bool) {
          if (auto self = weak.lock())
            self->later([added, removed](divider_watch_impl& me) { me.on_keys(added, removed); });
        });
    roles_dir_ = std::make_unique<watched_children>(
        *session_, roles_dir_path_,
        [weak](const children_change& c) {
          if (auto self = weak.lock()) self->later([names = c.current](divider_watch_impl& me) { me.on_roles(names); });
        },
        strand_);
    poll_ready();
  }

  // The views cannot all tell us when their first full picture is in (an
  // empty listing calls nobody): look every few milliseconds until it is.
  void poll_ready() {
    check_ready();
    if (ready_) return;
    ready_timer_.expires_after(std::chrono::milliseconds(20));
    ready_timer_.async_wait(asio::bind_executor(strand_, [weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->gate_.run([&] { self->poll_ready(); });
    }));
  }

  void check_ready() {
    if (ready_ || !members_view_ || !members_view_->ready() || !keys_view_->complete() || !roles_listed_) return;
    // Our copies must have caught up with the views' (their events reach us
    // posted, a moment after they changed), or an event still on its way
    // would be reported as a change.
    if (members_view_->members() != members_) return;
    auto keys = keys_view_->keys();
    if (keys.size() != keys_.size()) return adopt_keys_if_stuck(keys);
    for (auto& key : keys)
      if (!keys_.count(key)) return adopt_keys_if_stuck(keys);
    for (auto& [key, entry] : keys_)
      if (!entry.read) return;
    for (auto& [role, entry] : roles_)
      if (!entry.resolved) return;
    ready_ = true;
    {
      std::lock_guard lock(mutex_);
      ready_flag_ = true;
    }
    divider_watch_summary summary;
    summary.members = members_.size();
    summary.keys = keys_.size();
    for (auto& [key, entry] : keys_) summary.owned += entry.owner.has_value();
    summary.roles = roles_.size();
    call_user("divider_watch on_ready", callbacks_.on_ready, summary);
  }

  // A key set that keeps changing might never match at a poll: after a
  // second, take the view's set as it is (quietly: it is the start).
  void adopt_keys_if_stuck(const std::set<std::string>& keys) {
    if (++mismatched_polls_ < 50) return;
    std::vector<std::string> added, removed;
    for (auto& key : keys)
      if (!keys_.count(key)) added.push_back(key);
    for (auto& [key, entry] : keys_)
      if (!keys.count(key)) removed.push_back(key);
    on_keys(added, removed);
  }

  void on_member(const std::string& id, std::optional<member_info> now) {
    auto it = members_.find(id);
    std::optional<member_info> before;
    if (it != members_.end()) before = it->second;
    if (now)
      members_[id] = *now;
    else
      members_.erase(id);
    if (!ready_) return;
    if (now && before && *now == *before) return;
    if (now && before)
      call_user("divider_watch on_update", callbacks_.on_update, *now, *before);
    else if (now)
      call_user("divider_watch on_join", callbacks_.on_join, *now);
    else if (before)
      call_user("divider_watch on_leave", callbacks_.on_leave, *before);
  }

  void on_keys(const std::vector<std::string>& added, const std::vector<std::string>& removed) {
    std::vector<std::string> really_added, really_removed;
    for (auto& key : added) {
      if (keys_.count(key)) continue;
      auto& entry = keys_[key];
      entry.generation = ++generation_;
      entry.owner_node = std::make_unique<watched_node>(
          *session_, owner_path(base_, key),
          [weak = weak_from_this(), key, generation = entry.generation](const node_change& c) {
            if (auto self = weak.lock())
              self->later([key, generation, c](divider_watch_impl& me) { me.on_owner(key, generation, c); });
          },
          strand_);
      really_added.push_back(key);
    }
    for (auto& key : removed)
      if (keys_.erase(key)) really_removed.push_back(key);
    if (!ready_ || (really_added.empty() && really_removed.empty())) return;
    call_user("divider_watch on_keys", callbacks_.on_keys, really_added, really_removed);
  }

  void on_owner(const std::string& key, std::uint64_t generation, const node_change& c) {
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.generation != generation) return;  // removed (and maybe added again) since
    auto& entry = it->second;
    entry.read = true;
    std::optional<std::string> now;
    if (c.exists) now = c.data;
    auto token = c.exists ? c.stat.czxid : 0;
    if (now == entry.owner && token == entry.token) return;
    owner_change change{key, entry.owner, now, token};
    entry.owner = now;
    entry.token = token;
    if (ready_) call_user("divider_watch on_owner", callbacks_.on_owner, change);
  }

  void on_roles(const std::vector<std::string>& names) {
    roles_listed_ = true;
    std::set<std::string> now(names.begin(), names.end());
    std::vector<role_change> gone;
    for (auto it = roles_.begin(); it != roles_.end();) {
      if (now.count(it->first)) {
        ++it;
        continue;
      }
      if (it->second.holder) gone.push_back(role_change{it->first, it->second.holder, std::nullopt});
      it = roles_.erase(it);
    }
    for (auto& role : now) {
      if (roles_.count(role)) continue;
      auto& entry = roles_[role];
      entry.generation = ++generation_;
      entry.candidates = std::make_unique<watched_children>(
          *session_, roles_dir_path_ + "/" + role,
          [weak = weak_from_this(), role, generation = entry.generation](const children_change& c) {
            if (auto self = weak.lock())
              self->later([role, generation, names = c.current](divider_watch_impl& me) {
                me.on_candidates(role, generation, names);
              });
          },
          strand_);
    }
    // Reported last: a callback may destroy the watch (then stop() has
    // cleared what we would touch, and the gate is closed).
    for (auto& change : gone) {
      if (!ready_ || gate_.closed()) break;
      call_user("divider_watch on_role", callbacks_.on_role, change);
    }
  }

  // The election's own rule (contender.hpp): the lowest sequence holds.
  void on_candidates(const std::string& role, std::uint64_t generation, const std::vector<std::string>& names) {
    auto it = roles_.find(role);
    if (it == roles_.end() || it->second.generation != generation) return;
    auto& entry = it->second;
    auto order = sorted_by_sequence(names);
    auto lowest = order.empty() ? std::string() : order.front();
    if (entry.listed && lowest == entry.lowest) return;
    entry.listed = true;
    entry.lowest = lowest;
    if (lowest.empty()) return set_holder(role, std::nullopt);
    auto path = roles_dir_path_ + "/" + role + "/" + lowest;
    auto reply = [weak = weak_from_this(), role, generation, lowest](std::error_code ec, node n) {
      auto self = weak.lock();
      if (!self) return;
      self->gate_.run([&] {
        auto i = self->roles_.find(role);
        if (i == self->roles_.end() || i->second.generation != generation || i->second.lowest != lowest)
          return;  // superseded
        // Gone already: the candidates' watch moves us on. Another
        // error (the read retried to its deadline): do not hold the start
        // forever; the role's next listing reads again.
        if (ec == errc::no_node) return;
        if (ec) {
          log(log_level::warn, describe("divider_watch: cannot read the holder of role", role) + ": " + ec.message());
          i->second.resolved = true;
          i->second.listed = false;
          return;
        }
        auto data = decode_candidate(n.data).value_or(candidate_data{});
        self->set_holder(role, role_holder{data.member_id, data.endpoint, n.stat.czxid, n.path});
      });
    };
    link_.get(path, {}, asio::bind_executor(strand_, std::move(reply)));
  }

  void set_holder(const std::string& role, std::optional<role_holder> holder) {
    auto& entry = roles_.at(role);
    entry.resolved = true;
    if (same_holder(entry.holder, holder)) return;
    role_change change{role, entry.holder, holder};
    entry.holder = std::move(holder);
    if (ready_) call_user("divider_watch on_role", callbacks_.on_role, change);
  }

  session* session_;
  session_link link_;
  watched_children::strand_type strand_;
  callback_gate gate_;
  asio::steady_timer ready_timer_;
  const std::string roles_dir_path_;
  const std::string base_;
  const divider_watch::callbacks callbacks_;

  // Strand state.
  std::unique_ptr<group_view> members_view_;
  std::unique_ptr<key_set_view> keys_view_;
  std::unique_ptr<watched_children> roles_dir_;
  std::map<std::string, member_info> members_;
  std::map<std::string, key_entry> keys_;
  std::map<std::string, role_entry> roles_;
  bool roles_listed_ = false;
  bool ready_ = false;
  int mismatched_polls_ = 0;
  std::uint64_t generation_ = 0;

  mutable std::mutex mutex_;
  bool ready_flag_ = false;
};

}  // namespace detail

divider_watch::divider_watch(session& s, std::string root, std::string prefix, callbacks on_change) {
  auto base = detail::work_base(root, prefix);  // checks root and prefix
  impl_ = std::make_shared<detail::divider_watch_impl>(s, std::move(root), std::move(base), std::move(on_change));
  impl_->start();
}

divider_watch::~divider_watch() { impl_->stop(); }

bool divider_watch::ready() const { return impl_->ready(); }

}  // namespace nominee
