#pragma once
// The record the sample worker keeps for each key it owns (the notifi-scaler
// behaviour): /<root>/records/<prefix>/<key>, a JSON document
//
//   {"Value": <n>, "CurrentWorker": "<name>", "Token": <fencing token>}
//
// Every tick the owner increments Value and sets CurrentWorker to its name.
// A write is a read, then a set with the version read, and it goes ahead
// only while the record's Token is not newer than the owner's own lease: a
// stale owner (one whose key moved on while it was partitioned or frozen)
// sees the new owner's larger token and is refused, and a write racing the
// new owner's fails on the version.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nominee/divider.hpp>
#include <nominee/session.hpp>

namespace nominee::worker {

struct record {
  std::int64_t value = 0;
  std::string current_worker;
  std::int64_t token = 0;
};
std::string encode_record(const record& r);
// nullopt for anything that is not a record.
std::optional<record> decode_record(const std::string& text);

class key_records {
 public:
  struct observer {
    std::function<void(const std::string& key, std::int64_t value, std::int64_t token)> accepted;
    std::function<void(const std::string& key, std::int64_t token, std::int64_t newer_token)> refused;
  };
  struct counters {
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;    // a newer owner's token was in the record
    std::uint64_t conflicts = 0;  // the record changed between our read and our set
    std::uint64_t errors = 0;
  };

  // dir: where the records live, e.g. "/nominee/records/demo".
  key_records(session& s, std::string dir, std::string worker_name, std::chrono::milliseconds tick, observer events);
  ~key_records();
  key_records(const key_records&) = delete;
  key_records& operator=(const key_records&) = delete;

  // Writes key's record every tick, under lease.token, from now on.
  void start(const key_lease& lease);
  // No write for key is started after this; `stopped` runs once none is in
  // flight either (at once when none is), on the session's executor.
  void stop(const std::string& key, std::function<void()> stopped);
  // The keys being written, sorted.
  std::vector<std::string> keys() const;
  counters totals() const;
  // Ends every write loop. Writes in flight complete without telling the
  // observer; no observer call starts after close returns.
  void close();

  static std::string path_of(const std::string& dir, const std::string& key);

 private:
  class state;
  std::shared_ptr<state> state_;
};

}  // namespace nominee::worker
