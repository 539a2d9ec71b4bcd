#include "work_keys.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <nominee/log.hpp>

#include "key_codec.hpp"
#include "recipe_paths.hpp"
#include "validate.hpp"
#include "work_layout.hpp"

namespace nominee::detail {

namespace asio = boost::asio;

std::string work_base(const std::string& root, const std::string& prefix) {
  require_root("divider root", root);
  if (auto ec = check_key(prefix)) throw error(ec, describe("divider prefix", prefix));
  return under(root, "work", encode_key(prefix));
}

namespace {

// One add or remove: shard directories first (adds), then the batches in
// turn; a batch that trips over a key already there (already gone) is
// replayed key by key, ignoring exactly that error.
class work_change : public std::enable_shared_from_this<work_change> {
 public:
  work_change(session& s, std::string base, bool remove, completion<std::error_code> done)
      : link_(s), strand_(asio::make_strand(s.get_executor())), base_(std::move(base)), remove_(remove),
        done_(std::move(done)) {}
  // A request the session's link dropped (the session is gone) drops its
  // handler, and with it the last reference here: complete, not vanish.
  ~work_change() { finish(errc::session_closed); }

  void start(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto& k : keys) by_shard[shard_of(k)].push_back(encode_key(k));
    for (auto& [shard, names] : by_shard) {
      shards_.push_back(keys_directory(base_, shard));
      for (auto& n : names) paths_.push_back(shards_.back() + "/" + n);
    }
    asio::post(strand_, [self = shared_from_this()] {
      if (self->remove_ || self->shards_.empty()) return self->next_batch();
      self->ensure_shards();
    });
  }

 private:
  template <class F>
  auto on_strand(F f) {
    return asio::bind_executor(strand_, [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }

  void ensure_shards() {
    pending_shards_ = shards_.size();
    for (auto& shard : shards_)
      link_.ensure_path(shard, on_strand([](work_change& me, std::error_code ec) {
                          if (ec && !me.first_error_) me.first_error_ = ec;
                          if (--me.pending_shards_ > 0) return;
                          if (me.first_error_) return me.finish(me.first_error_);
                          me.next_batch();
                        }));
  }

  void next_batch() {
    if (next_ >= paths_.size()) return finish({});
    auto end = std::min(paths_.size(), next_ + max_multi_operations);
    std::vector<operation> ops;
    for (auto i = next_; i < end; ++i) {
      if (remove_)
        ops.push_back(op::remove{paths_[i], any_version});
      else
        ops.push_back(op::create{paths_[i], {}, {}});
    }
    auto first = next_;
    next_ = end;
    auto c = link_.lock();
    if (!c) return finish(errc::session_closed);
    start_multi(c, std::move(ops),
                completion<std::error_code, std::vector<operation_result>>(
                    on_strand([first, end](work_change& me, std::error_code ec, std::vector<operation_result>) {
                      if (!ec) return me.next_batch();
                      if (ec == me.tolerated()) return me.one_by_one(first, end);
                      me.finish(ec);
                    }),
                    c->executor()));
  }

  // The error that means "already as wanted".
  std::error_code tolerated() const { return remove_ ? errc::no_node : errc::node_exists; }

  void one_by_one(std::size_t i, std::size_t end) {
    if (i == end) return next_batch();
    auto step = on_strand([i, end](work_change& me, auto&&... args) {
      std::error_code ec = std::get<0>(std::forward_as_tuple(args...));
      if (ec && ec != me.tolerated()) return me.finish(ec);
      me.one_by_one(i + 1, end);
    });
    if (remove_)
      link_.remove(paths_[i], any_version, std::move(step));
    else
      link_.create(paths_[i], {}, {}, false, std::move(step));
  }

  void finish(std::error_code ec) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = {};
    done(ec);
  }

  session_link link_;
  asio::strand<asio::any_io_executor> strand_;
  std::string base_;
  bool remove_;
  completion<std::error_code> done_;
  std::vector<std::string> shards_;
  std::vector<std::string> paths_;
  std::size_t next_ = 0;
  std::size_t pending_shards_ = 0;
  std::error_code first_error_;
};

}  // namespace

void change_work(session& s, std::string base, std::vector<std::string> keys, bool remove,
                 completion<std::error_code> done) {
  for (auto& k : keys)
    if (auto ec = check_key(k)) {
      log(log_level::debug, describe("work key", k) + " refused: " + ec.message());
      return done(ec);
    }
  std::make_shared<work_change>(s, std::move(base), remove, std::move(done))->start(std::move(keys));
}

// --- key_set_view -----------------------------------------------------------

struct key_set_view::state {
  callback on_change;
  callback_gate gate;
  mutable std::mutex mutex;
  bool keep_keys = true;
  std::set<std::string> keys;
  std::set<std::string> listed_shards;
};

key_set_view::key_set_view(session& s, std::string base, callback on_change, copy keys)
    : state_(std::make_shared<state>()) {
  state_->on_change = std::move(on_change);
  state_->keep_keys = keys == copy::keep;
  // One strand for every shard: changes are delivered one at a time.
  auto strand = asio::make_strand(s.get_executor());
  for (unsigned shard = 0; shard < key_shards; ++shard) {
    auto name = shard_name(shard);
    shards_.push_back(std::make_unique<watched_children>(
        s, keys_directory(base, name),
        [st = state_, name](const children_change& change) {
          std::vector<std::string> added, removed;
          for (auto& n : change.added)
            if (auto k = decode_key(n)) added.push_back(*k);
          for (auto& n : change.removed)
            if (auto k = decode_key(n)) removed.push_back(*k);
          bool completed = false;  // by this, the last shard's first listing
          bool listed = false;     // by this or an earlier delivery
          {
            std::lock_guard lock(st->mutex);
            if (st->keep_keys) {
              for (auto& k : added) st->keys.insert(k);
              for (auto& k : removed) st->keys.erase(k);
            }
            bool first_listing = st->listed_shards.insert(name).second;
            listed = st->listed_shards.size() == key_shards;
            completed = first_listing && listed;
          }
          // An empty last shard still tells: complete() just became true,
          // and a divider waits for exactly that before it acquires.
          if (added.empty() && removed.empty() && !completed) return;
          st->gate.run([&] {
            try {
              if (st->on_change) st->on_change(added, removed, listed);
            } catch (const std::exception& e) {
              log(log_level::error, std::string("key_set_view callback threw: ") + e.what());
            }
          });
        },
        strand));
  }
}

key_set_view::~key_set_view() {
  state_->gate.close();
  shards_.clear();
}

std::set<std::string> key_set_view::keys() const {
  std::lock_guard lock(state_->mutex);
  return state_->keys;
}

bool key_set_view::complete() const {
  std::lock_guard lock(state_->mutex);
  return state_->listed_shards.size() == key_shards;
}

}  // namespace nominee::detail
