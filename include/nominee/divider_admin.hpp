#pragma once
// Administration of one divider prefix from outside, without joining it:
// its members, who owns which key and whom the assignment gives it, the
// work set, a member's affinity (drain = affinity 0), the roles under the
// root; and divider_watch, a live tail of all of it.
//
// Reads are snapshots assembled from many reads (members, 256 key shards,
// owner nodes, exclusions): consistent per node, not across nodes. A key
// moving while it is read may show up as unowned for that read.
//
// Every result carries `path`: the node it is about, or on failure the node
// (or, for input refused before sending, the value) at fault. With
// use_future, the exception's message names it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/divider.hpp>  // max_work_key_bytes
#include <nominee/election.hpp>
#include <nominee/group.hpp>
#include <nominee/session.hpp>

namespace nominee {

struct divider_members {
  std::string path;                            // /<root>/work/<encoded prefix>/members
  std::map<std::string, member_info> members;  // by id
};

// One work key as ZooKeeper has it.
struct key_assignment {
  std::string key;
  std::optional<std::string> owner;   // the member whose owner node holds the key now
  std::int64_t token = 0;             // that node's czxid (the key's fencing token); 0 when unowned
  std::optional<std::string> target;  // whom the assignment gives it; nullopt: no member with affinity > 0
  std::vector<std::string> excluded;  // members that released it (never its target), sorted

  bool owned() const noexcept { return owner.has_value(); }
  // Owned, but not by its target: being handed over (or let go, with no target).
  bool moving() const noexcept { return owner.has_value() && owner != target; }
};

struct member_keys {
  std::size_t owned = 0;   // owner nodes it holds
  std::size_t target = 0;  // keys the assignment gives it
};

struct divider_assignment {
  std::string path;                            // /<root>/work/<encoded prefix>
  std::map<std::string, member_info> members;  // by id
  std::vector<key_assignment> keys;            // sorted by key

  // Every member, and every owner that is not (or no longer) a member.
  std::map<std::string, member_keys> per_member() const;
  std::size_t unowned() const;
  std::size_t moving() const;
};

struct work_update {
  std::string path;      // the prefix's keys directory; on refused input, the key at fault
  std::size_t keys = 0;  // distinct keys asked for (idempotent: present ones stay, absent ones stay absent)
};

struct member_update {
  std::string path;  // the member's node; on refused input, the value at fault
  member_info before;
  member_info after;
};

struct role_state {
  std::optional<role_holder> holder;  // nullopt: no candidate
  std::size_t candidates = 0;
};

struct role_list {
  std::string path;                        // /<root>/roles
  std::map<std::string, role_state> roles;  // by role name
};

class divider_admin {
 public:
  // Validates root and prefix (throws nominee::error naming the bad one).
  // Sends nothing. Completions run on the handler's executor (the
  // session's by default). The admin must not outlive its session; an
  // operation in flight when the admin is destroyed still completes.
  divider_admin(session& s, std::string root, std::string prefix);

  const std::string& root() const noexcept { return root_; }
  const std::string& prefix() const noexcept { return prefix_; }
  // /<root>/work/<encoded prefix>
  const std::string& path() const noexcept { return base_; }

  // The checks the operations make before sending anything, for callers
  // that refuse bad input before they even connect (a command line).
  static std::error_code check_key(std::string_view key) noexcept;          // errc::invalid_name
  static std::error_code check_member(std::string_view member_id) noexcept;  // errc::invalid_name
  static std::error_code check_affinity(std::int64_t affinity) noexcept;     // errc::invalid_option

  // The prefix's members, from their nodes (malformed ones are left out).
  template <class Token>
  auto async_members(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, divider_members)>(
        [this](auto handler) {
          start_members(detail::completion<std::error_code, divider_members>(std::move(handler), executor_));
        },
        token);
  }

  // Every key with its owner now and its target by the assignment (the same
  // weighted rendezvous ranking the members compute, exclusions honoured).
  template <class Token>
  auto async_assignment(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, divider_assignment)>(
        [this](auto handler) {
          start_assignment(detail::completion<std::error_code, divider_assignment>(std::move(handler), executor_));
        },
        token);
  }

  // Batched (multis of at most 100) and idempotent, exactly as
  // divider::async_add_work: the same code. Every key is checked first; one
  // bad key fails the call and nothing is sent.
  template <class Token>
  auto async_add_work(std::vector<std::string> keys, Token&& token) {
    return initiate_work(std::move(keys), false, token);
  }
  template <class Token>
  auto async_remove_work(std::vector<std::string> keys, Token&& token) {
    return initiate_work(std::move(keys), true, token);
  }

  // Compare-and-set on the member's node (read, write with its version,
  // again on a version conflict); endpoint and meta are kept. The member's
  // divider sees the change like any other and moves keys accordingly.
  // errc::no_node when the member does not exist (path names it).
  template <class Token>
  auto async_set_affinity(std::string member_id, std::int64_t affinity, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, member_update)>(
        [this](auto handler, std::string m, std::int64_t a) {
          start_set_affinity(std::move(m), a,
                             detail::completion<std::error_code, member_update>(std::move(handler), executor_));
        },
        token, std::move(member_id), affinity);
  }

  // Affinity 0: the member's keys go to the others through the divider's
  // own stop, confirm and handoff. Completes once the affinity is written,
  // not once the keys have moved (see async_assignment).
  template <class Token>
  auto async_drain(std::string member_id, Token&& token) {
    return async_set_affinity(std::move(member_id), 0, std::forward<Token>(token));
  }

  // Every role under /<root>/roles and its holder (the lowest candidate).
  template <class Token>
  auto async_roles(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, role_list)>(
        [this](auto handler) {
          start_roles(detail::completion<std::error_code, role_list>(std::move(handler), executor_));
        },
        token);
  }

 private:
  template <class Token>
  auto initiate_work(std::vector<std::string> keys, bool remove, Token& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, work_update)>(
        [this](auto handler, std::vector<std::string> k, bool r) {
          start_change_work(std::move(k), r,
                            detail::completion<std::error_code, work_update>(std::move(handler), executor_));
        },
        token, std::move(keys), remove);
  }

  void start_members(detail::completion<std::error_code, divider_members> done);
  void start_assignment(detail::completion<std::error_code, divider_assignment> done);
  void start_change_work(std::vector<std::string> keys, bool remove,
                         detail::completion<std::error_code, work_update> done);
  void start_set_affinity(std::string member_id, std::int64_t affinity,
                          detail::completion<std::error_code, member_update> done);
  void start_roles(detail::completion<std::error_code, role_list> done);

  session* session_;
  boost::asio::any_io_executor executor_;
  std::string root_;
  std::string prefix_;
  std::string base_;
};

// --- divider_watch: a live tail of a prefix and the roles ------------------

struct owner_change {
  std::string key;
  std::optional<std::string> before;  // previous owner; nullopt: none
  std::optional<std::string> after;   // owner now; nullopt: none
  std::int64_t token = 0;             // the new owner node's czxid; 0 with no owner
};

struct role_change {
  std::string role;
  std::optional<role_holder> before;
  std::optional<role_holder> after;
};

// The picture the watch starts from.
struct divider_watch_summary {
  std::size_t members = 0;
  std::size_t keys = 0;
  std::size_t owned = 0;  // keys with an owner node
  std::size_t roles = 0;
};

namespace detail {
class divider_watch_impl;
}

class divider_watch {
 public:
  // Every callback is optional. on_ready comes once, when the whole current
  // picture has been read (members, keys, each key's owner node, roles);
  // only what changes after that is reported. Callbacks run one at a time
  // on a strand of the session's executor, never after the destructor
  // returns. A moved key usually shows as two owner changes (old -> none,
  // none -> new) or, when the new owner was quick, as one (old -> new).
  struct callbacks {
    std::function<void(const divider_watch_summary&)> on_ready;
    std::function<void(const member_info&)> on_join;
    std::function<void(const member_info&)> on_leave;
    std::function<void(const member_info& now, const member_info& before)> on_update;
    std::function<void(const role_change&)> on_role;
    std::function<void(const std::vector<std::string>& added, const std::vector<std::string>& removed)> on_keys;
    std::function<void(const owner_change&)> on_owner;
  };

  // Validates root and prefix (throws nominee::error naming the bad one)
  // and starts at once. It holds a watch per key (on its owner node).
  divider_watch(session& s, std::string root, std::string prefix, callbacks on_change);
  ~divider_watch();
  divider_watch(const divider_watch&) = delete;
  divider_watch& operator=(const divider_watch&) = delete;

  bool ready() const;

 private:
  std::shared_ptr<detail::divider_watch_impl> impl_;
};

}  // namespace nominee
