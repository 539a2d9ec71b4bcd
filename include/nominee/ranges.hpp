#pragma once
// Adaptive range leases: a named numeric space [lo, hi) (IDs, nonces,
// address blocks) handed out in blocks ("leases") to consumers.
//
// A range_consumer's next() is local: a compare-and-swap on the current
// lease, no ZooKeeper round trip. When the lease is half used the next one
// is asked for ahead of time, so next() does not stall at a steady rate.
//
// The holder of the role "space-manager:<space>" (nominee::candidate) is the
// coordinator: it grants leases and sizes them. A consumer that used up its
// last lease in under half the target lifetime gets double the size next
// time (up to max_block); one idle for twice the target returns the unused
// tail of its lease and gets half (down to min_block); returned tails are
// granted again. All coordinator state lives in ZooKeeper under
// /<root>/spaces/<space>/; a new coordinator continues from it.
//
// Guarantees: no value is handed out twice, across coordinator failover,
// consumer crash, connection loss and session expiry; grants never overlap.
// The price: values granted to a consumer that crashed (or whose session
// ended while a grant or a returned tail was in flight) are never handed out
// again. A space that is used up gives errc::space_exhausted.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <nominee/session.hpp>

namespace nominee {

// The space. Stored in /<root>/spaces/<space>/config by whoever comes first;
// afterwards the stored config wins (a different one is logged as a warning).
struct range_space_config {
  std::uint64_t lo = 0;            // first value
  std::uint64_t hi = 0;            // one past the last value (lo < hi)
  std::uint64_t min_block = 1;     // smallest lease (>= 1)
  std::uint64_t max_block = 1;     // largest lease (>= min_block)
  std::chrono::milliseconds target_lease{1000};  // how long a lease should last (> 0, <= 365 days)
};

struct range_consumer_options {
  std::string root = "/nominee";
  std::string space;        // one znode name, e.g. "order-ids"
  std::string consumer_id;  // one znode name, unique among live consumers of the space
  range_space_config config;
  // Also stand for the role space-manager:<space> in this process.
  bool stand_for_coordinator = false;
  // How long next() waits for a grant when no value is at hand.
  std::chrono::milliseconds wait_timeout{10000};
  // Usage is reported with every request for a lease, and at most this
  // often in between (only when values were drawn since the last report).
  std::chrono::milliseconds report_interval{5000};
};

struct range_coordinator_options {
  std::string root = "/nominee";
  std::string space;       // one znode name
  std::string member_id;   // who coordinates, as role observers see it
  std::string endpoint;    // free text, as in election_options
  range_space_config config;  // used only if the space does not exist yet
};

// The lease next() currently draws from.
struct range_lease {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;          // one past its last value
  std::uint64_t next = 0;        // the next value it will hand out (hi: used up)
  std::uint64_t grant = 0;       // the grant's number for this consumer
  std::int64_t session_id = 0;   // the session it was granted to
};

struct range_consumer_statistics {
  std::uint64_t values = 0;           // handed out by next() and try_next()
  std::uint64_t leases = 0;           // grants taken
  std::uint64_t block_size = 0;       // the size the coordinator last published for us
  std::uint64_t returned_values = 0;  // unused tails given back
  std::uint64_t waits = 0;            // next() calls that found no value at hand
  std::uint64_t zookeeper_writes = 0; // registrations and reports written
};

struct range_coordinator_statistics {
  std::uint64_t grants = 0;
  std::uint64_t fresh_values = 0;      // granted from the cursor
  std::uint64_t reclaimed_values = 0;  // granted from returned tails
  std::uint64_t returns = 0;           // returned tails moved to the free list
  std::uint64_t zookeeper_writes = 0;  // multis and sets written (each is one request)
  std::uint64_t conflicts = 0;         // writes refused by a version check (then re-read)
  std::uint64_t terms = 0;             // times this process became coordinator
};

namespace detail {
class range_consumer_core;
class range_coordinator_core;
}

// Grants and sizes the leases of one space while it holds the role
// space-manager:<space>; stands at once, withdraws on destruction.
class range_coordinator {
 public:
  // Validates (throws nominee::error naming the field and value) before
  // anything is sent.
  range_coordinator(session& s, range_coordinator_options options);
  ~range_coordinator();
  range_coordinator(const range_coordinator&) = delete;
  range_coordinator& operator=(const range_coordinator&) = delete;

  bool is_coordinator() const;
  range_coordinator_statistics statistics() const;

 private:
  std::shared_ptr<detail::range_coordinator_core> core_;
};

class range_consumer {
 public:
  // Validates (throws nominee::error naming the field and value) before
  // anything is sent, then registers and asks for a first lease.
  range_consumer(session& s, range_consumer_options options);
  // Waiting next() calls fail with errc::cancelled, and the destructor
  // returns once they have left; the unused rest of the lease is not handed
  // out again.
  ~range_consumer();
  range_consumer(const range_consumer&) = delete;
  range_consumer& operator=(const range_consumer&) = delete;

  // A value never handed out before. Waits up to options.wait_timeout (or
  // `wait`) when none is at hand; throws nominee::error with
  // errc::deadline_exceeded, errc::space_exhausted or errc::cancelled.
  // Thread-safe. A call that may wait must not run on the session's
  // executor (the grant it waits for arrives there).
  std::uint64_t next();
  std::uint64_t next(std::chrono::milliseconds wait);
  // Never waits: ok and `value` set, or errc::deadline_exceeded (none at
  // hand now; one has been asked for) or errc::space_exhausted.
  std::error_code try_next(std::uint64_t& value) noexcept;

  // The lease next() draws from; empty before the first grant.
  std::optional<range_lease> current_lease() const;
  // The space's config as stored in ZooKeeper, once read.
  std::optional<range_space_config> stored_config() const;
  range_consumer_statistics statistics() const;
  // True while this process coordinates the space (stand_for_coordinator).
  bool is_coordinator() const;

 private:
  std::shared_ptr<detail::range_consumer_core> core_;
  std::unique_ptr<range_coordinator> coordinator_;
};

}  // namespace nominee
