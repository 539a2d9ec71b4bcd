#pragma once
// Where a range space keeps its state in ZooKeeper, and the JSON in those
// nodes (read and written here only). Anything read may have been written
// by someone else: a malformed document is nullopt, never an exception.
//
// /<root>/spaces/<space>/
//   config            {"lo","hi","min_block","max_block","target_lease_ms"}
//   cursor            {"next": N}: the lowest value never granted; written
//                     only by the coordinator, by version, in the grant's multi
//   free/<lo>-<hi>    returned tails (20-digit zero-padded names)
//   consumers/<id>    EPHEMERAL: the consumer's usage report and requests
//   leases/<id>       persistent, coordinator-written: grants for the
//                     consumer, each tagged with the session and the
//                     registration (consumers/<id>'s czxid) it is for

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nominee/ranges.hpp>

#include "range_sizing.hpp"

namespace nominee::detail {

struct range_paths {
  std::string base;
  std::string config;
  std::string cursor;
  std::string free_dir;
  std::string consumers_dir;
  std::string leases_dir;
  std::string consumer(std::string_view id) const { return consumers_dir + "/" + std::string(id); }
  std::string lease(std::string_view id) const { return leases_dir + "/" + std::string(id); }
  std::string free_node(const value_range& r) const;
};
range_paths make_range_paths(std::string_view root, std::string_view space);
// The role whose holder coordinates the space.
std::string range_role(std::string_view space);

std::string encode_space_config(const range_space_config& c);
std::optional<range_space_config> decode_space_config(std::string_view json);
bool same_space_config(const range_space_config& a, const range_space_config& b);
std::string describe_space_config(const range_space_config& c);

std::string encode_cursor(std::uint64_t next);
std::optional<std::uint64_t> decode_cursor(std::string_view json);

// "00000000000000000010-00000000000000000100" <-> [10, 100).
std::string free_name(const value_range& r);
std::optional<value_range> parse_free_name(std::string_view name);

// A grant queued for a consumer: only the registration it names (the
// consumer node's czxid, on the session it names) may use it. Another
// consumer object with the same id, even on the same session, registers
// with a new node (a new czxid) and never takes it.
struct range_grant {
  std::uint64_t n = 0;        // grant number, increasing per consumer id
  std::int64_t session = 0;
  value_range range;
  std::int64_t czxid = 0;     // the registration it was decided for (0: an older coordinator's, session only)
};

// Tails a live consumer gave back (cut locally before they were reported),
// and whether it did so because it was idle.
struct range_return {
  std::uint64_t seq = 0;  // increasing within one registration
  bool idle = false;
  std::vector<value_range> ranges;
};

// consumers/<id>: written by the consumer only.
struct consumer_report {
  std::int64_t session = 0;
  std::uint64_t instance = 0; // random, per consumer object: tells our node from a twin's on the same session
  std::uint64_t taken = 0;    // the highest grant number it has taken
  bool want = false;          // it asks for one more grant
  std::uint64_t used_n = 0;   // the grant whose use time follows (0: none yet)
  std::int64_t used_ms = -1;  // how long that lease took to use up
  double rate = 0;            // values per second, loosely current
  std::uint64_t drawn = 0;    // values handed out by this process so far
  std::vector<range_return> returns;  // not yet acknowledged in the lease node
};
std::string encode(const consumer_report& r);
std::optional<consumer_report> decode_consumer_report(std::string_view json);

// leases/<id>: written by the coordinator only, always by version.
struct lease_record {
  std::uint64_t block = 0;     // size of the next grant
  std::uint64_t next_n = 1;    // number of the next grant
  std::vector<range_grant> grants;  // granted, not yet known to be taken
  std::uint64_t sized_n = 0;   // the last used-up grant the size was adjusted for
  std::int64_t ret_czxid = 0;  // the registration whose returns were processed...
  std::uint64_t ret_seq = 0;   // ...up to this sequence number
  bool exhausted = false;      // the last request found the space used up
};
std::string encode(const lease_record& r);
std::optional<lease_record> decode_lease_record(std::string_view json);

}  // namespace nominee::detail
