#pragma once
// What the session's operations take and return.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <nominee/acl.hpp>
#include <nominee/stat.hpp>

namespace nominee {

// Largest data a node may hold: jute.maxbuffer (1 MiB) bounds the whole
// request, so 1 KiB is kept back for the header and the path.
inline constexpr std::size_t max_node_data_bytes = 1024 * 1024 - 1024;
// Largest number of operations in one multi (bounded requests, DESIGN.md).
inline constexpr std::size_t max_multi_operations = 100;

enum class create_mode {
  persistent,
  ephemeral,
  persistent_sequential,
  ephemeral_sequential,
  container,              // removed by the server once its last child goes
  persistent_with_ttl,    // removed once childless and unmodified for ttl
  persistent_sequential_with_ttl,
};

struct create_options {
  create_mode mode = create_mode::persistent;
  std::chrono::milliseconds ttl{0};  // only with the *_with_ttl modes; the server needs extendedTypesEnabled
  std::optional<nominee::acl> acl;   // default: the session's default ACL
};

// get(): a node's data.
struct node {
  std::string path;
  std::string data;
  nominee::stat stat;
};

// create(): the path actually created (sequential nodes get a suffix).
struct created_node {
  std::string path;
  nominee::stat stat;
};

// get_children(): child names (not full paths), unordered.
struct children {
  std::string path;
  std::vector<std::string> names;
  nominee::stat stat;
};

// --- multi: all-or-nothing batches --------------------------------------
namespace op {
struct create {
  std::string path;
  std::string data;
  create_options options;
};
struct remove {
  std::string path;
  std::int32_t version = -1;
};
struct set {
  std::string path;
  std::string data;
  std::int32_t version = -1;
};
struct check {
  std::string path;
  std::int32_t version = -1;
};
}  // namespace op
using operation = std::variant<op::create, op::remove, op::set, op::check>;

struct operation_result {
  std::error_code error;         // this operation's own outcome
  std::string path;              // create: the path created; otherwise the path given
  std::optional<nominee::stat> stat;  // set only (a multi's create returns no Stat)
};

}  // namespace nominee
