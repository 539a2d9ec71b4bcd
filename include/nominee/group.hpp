#pragma once
// Group membership: each process joins /<root>/members/<member-id> with an
// ephemeral node holding {affinity, endpoint, meta}; anyone can keep a live
// view of the members and be told of joins, leaves and updates.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>

#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/detail/use_future.hpp>
#include <nominee/session.hpp>

namespace nominee {

// Largest metadata document a member may carry.
inline constexpr std::size_t max_member_meta_bytes = 64 * 1024;

struct member_info {
  std::string id;
  std::int64_t affinity = 0;  // share of work; 0 = none
  std::string endpoint;
  std::string meta = "{}";    // a JSON object (compact text)
  std::int64_t session_id = 0;  // the member's session (its node's ephemeralOwner)
  std::int32_t version = 0;     // its node's data version

  friend bool operator==(const member_info&, const member_info&) = default;
};

struct group_options {
  std::string root = "/nominee";
  std::string member_id;     // one znode name, unique among live members
  std::int64_t affinity = 1;  // >= 0
  std::string endpoint;
  std::string meta = "{}";   // a JSON object, at most max_member_meta_bytes
};

namespace detail {
class group_member_core;
class group_view_impl;
}

// This process's membership. Leaves on destruction; rejoins by itself on the
// session that follows an expiry.
class group_member {
 public:
  // Validates (throws nominee::error naming the bad field); joins on async_join.
  group_member(session& s, group_options options);
  ~group_member();
  group_member(const group_member&) = delete;
  group_member& operator=(const group_member&) = delete;

  // Completes once our node exists: errc::member_id_taken if another live
  // session holds the id (our own node of an expired session is replaced).
  template <class Token>
  auto async_join(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) { start_join(completion(std::move(handler), executor())); }, token);
  }
  // Changes are visible to every member's view. Negative affinity is
  // refused (errc::invalid_option) before anything is sent.
  template <class Token>
  auto async_set_affinity(std::int64_t affinity, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::int64_t a) { start_set_affinity(a, completion(std::move(handler), executor())); },
        token, affinity);
  }
  // Atomic: a compare-and-set on our node against what ZooKeeper has (an
  // admin's change included); never below 0. Completes with the new value.
  template <class Token>
  auto async_alter_affinity(std::int64_t delta, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code, std::int64_t)>(
        [this, delta](auto handler) {
          start_alter_affinity(delta, detail::completion<std::error_code, std::int64_t>(std::move(handler), executor()));
        },
        token);
  }
  template <class Token>
  auto async_update(std::string endpoint, std::string meta, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::string e, std::string m) {
          start_update(std::move(e), std::move(m), completion(std::move(handler), executor()));
        },
        token, std::move(endpoint), std::move(meta));
  }

  // What a view saw in our node. When it is newer than our own last write
  // (someone else, an admin's set-affinity say, wrote the node), it becomes
  // our affinity, endpoint and meta, so a rejoin after an expiry writes it
  // back rather than what we started with. Older or foreign sightings are
  // ignored.
  void adopt(const member_info& seen);
  // Deletes our node (no rejoin until async_join again).
  void leave();
  bool joined() const;
  member_info self() const;
  const std::string& path() const noexcept { return path_; }

  using completion = detail::completion<std::error_code>;

 private:
  boost::asio::any_io_executor executor() const;
  void start_join(completion done);
  void start_set_affinity(std::int64_t affinity, completion done);
  void start_update(std::string endpoint, std::string meta, completion done);
  void start_alter_affinity(std::int64_t delta, detail::completion<std::error_code, std::int64_t> done);

  std::string path_;
  std::shared_ptr<detail::group_member_core> core_;
};

// A live view of every member.
class group_view {
 public:
  struct callbacks {
    std::function<void(const member_info&)> on_join;
    std::function<void(const member_info&)> on_leave;
    std::function<void(const member_info& now, const member_info& before)> on_update;
  };
  // Callbacks run on a strand of the session's executor, never after the
  // destructor returns. Members already there are reported as joins.
  group_view(session& s, std::string root, callbacks on_change);
  ~group_view();
  group_view(const group_view&) = delete;
  group_view& operator=(const group_view&) = delete;

  std::map<std::string, member_info> members() const;
  // True once the members were listed and each one's data read.
  bool ready() const;

 private:
  std::shared_ptr<detail::group_view_impl> impl_;
};

}  // namespace nominee
