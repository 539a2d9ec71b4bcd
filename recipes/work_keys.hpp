#pragma once
// The work keys of one divider prefix, as ZooKeeper holds them:
// <base>/keys/<shard>/<encoded key>, persistent, spread over key_shards
// directories so that no child list nears jute.maxbuffer.
//
// add/remove go in multi batches of at most max_multi_operations; a batch
// that fails because some key was already there (or already gone) is
// replayed one key at a time, so both are idempotent. key_set_view keeps the
// whole set live, one watched_children per shard.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/strand.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/session.hpp>
#include <nominee/watched_children.hpp>

#include "session_link.hpp"
#include "watch_guard.hpp"

namespace nominee::detail {

// "<root>/work/<encoded prefix>": where a prefix's keys (and, later, its
// owners) live. Throws nominee::error naming a bad root or prefix.
std::string work_base(const std::string& root, const std::string& prefix);

// Adds (or, with remove = true, removes) keys. Every key is checked first
// (errc::invalid_name for an empty or over-long one: nothing is sent).
// Completes once every key is there (or gone).
void change_work(session& s, std::string base, std::vector<std::string> keys, bool remove,
                 completion<std::error_code> done);

class key_set_view {
 public:
  // listed: every shard's first listing is in this delivery or an earlier
  // one. A consumer that posts the deliveries on to its own strand learns
  // it in order with the keys; complete() can run ahead of them.
  using callback = std::function<void(const std::vector<std::string>& added, const std::vector<std::string>& removed,
                                      bool listed)>;

  // Whether the view keeps its own copy of the key set for keys(). A
  // divider does not: its assignment table holds the keys already, and at
  // 100,000 keys the copy costs every member about 8 MB and a starting
  // member 100,000 set inserts before it can take work.
  enum class copy { keep, none };

  // on_change runs on a strand of the session's executor, with decoded keys;
  // never after the destructor returns.
  key_set_view(session& s, std::string base, callback on_change, copy keys = copy::keep);
  ~key_set_view();
  key_set_view(const key_set_view&) = delete;
  key_set_view& operator=(const key_set_view&) = delete;

  // The keys listed so far; empty when built with copy::none.
  std::set<std::string> keys() const;
  // True once every shard has been listed at least once.
  bool complete() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
  std::vector<std::unique_ptr<watched_children>> shards_;
};

}  // namespace nominee::detail
