#pragma once
// A named value that a fleet shares: /<root>/values/<name>, one node whose
// data is the value and whose version orders its changes.
//
// Every change is a compare-and-set on the node's version, so concurrent
// updaters never lose an update: async_update (and the increase/decrease
// and lengthen/shorten helpers on it) read, compute, and write "only if
// still that version", retrying from a fresh read when another writer got
// in first. This is what a coordinator that raises or lowers a shared
// prefix needs, where a get-then-set would lose a concurrent change.
//
// on_change reports the value as the server has it: first the current
// value (or nothing while the node is absent), then each change, in
// version order, coalesced when they come faster than a round trip.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/async_result.hpp>

#include <nominee/detail/completion.hpp>
#include <nominee/session.hpp>

namespace nominee {

struct shared_value_options {
  std::string root = "/nominee";
  std::string name;  // one znode name, e.g. "pow-difficulty"
  // How many compare-and-set rounds an update tries before it gives up
  // with errc::bad_version (each round is a read and a conditional write).
  int max_attempts = 1000;
};

struct versioned_value {
  std::string value;
  std::int32_t version = -1;  // the node's data version; -1: absent
  bool exists() const noexcept { return version >= 0; }
};

// Bounds for a textual prefix made of repeats of one unit ("0", "00", ...),
// such as a proof-of-work difficulty: lengthen/shorten add or remove one
// unit and stay within [min_units, max_units].
struct prefix_bounds {
  std::string unit = "0";
  std::size_t min_units = 1;
  std::size_t max_units = 64;
};

class watched_node;

namespace detail {
class shared_value_core;
}

class shared_value {
 public:
  using change_callback = std::function<void(const versioned_value&)>;
  // Returns the new value for the current one, or nothing to leave it as it
  // is (the update then completes with the current value, unwritten).
  using update_function = std::function<std::optional<std::string>(const versioned_value& current)>;

  // Validates (throws nominee::error naming the bad field); sends nothing
  // unless on_change is given, which starts the watch. on_change runs on a
  // strand of the session's executor and never after the destructor returns.
  shared_value(session& s, shared_value_options options, change_callback on_change = {});
  // Pending requests complete with errc::cancelled; none writes after
  // that, but one whose write was already sent may still have changed the
  // value (as with any write whose answer never came).
  ~shared_value();
  shared_value(const shared_value&) = delete;
  shared_value& operator=(const shared_value&) = delete;

  // Creates the value with `initial` if it is absent (parents included);
  // completes with what is there afterwards: ours, or the one that was.
  template <class Token>
  auto async_initialize(std::string initial, Token&& token) {
    return initiate(token, [this, initial = std::move(initial)](value_completion done) mutable {
      start_initialize(std::move(initial), std::move(done));
    });
  }

  // The value now (errc::no_node when absent).
  template <class Token>
  auto async_read(Token&& token) {
    return initiate(token, [this](value_completion done) { start_read(std::move(done)); });
  }

  // Writes `value` only if the version is still expected_version
  // (errc::bad_version otherwise; errc::no_node when absent).
  template <class Token>
  auto async_compare_and_set(std::string value, std::int32_t expected_version, Token&& token) {
    return initiate(token, [this, value = std::move(value), expected_version](value_completion done) mutable {
      start_compare_and_set(std::move(value), expected_version, std::move(done));
    });
  }

  // Read-compute-CAS until it sticks (at most max_attempts rounds); the
  // function may run several times and must not have side effects.
  template <class Token>
  auto async_update(update_function change, Token&& token) {
    return initiate(token, [this, change = std::move(change)](value_completion done) mutable {
      start_update(std::move(change), std::move(done));
    });
  }

  // value + delta, at most ceiling; errc::not_a_number if the value is not
  // a decimal integer. A value already at or over the ceiling is left as is.
  // A negative delta throws nominee::error (invalid_option) naming it,
  // before anything is sent; so do the other calls' bad arguments.
  template <class Token>
  auto async_increase(std::int64_t delta, std::int64_t ceiling, Token&& token) {
    return initiate(token, [this, delta, ceiling](value_completion done) {
      start_add(delta, ceiling, true, std::move(done));
    });
  }
  // value - delta, at least floor (delta >= 0). A value already at or
  // under the floor is left as is.
  template <class Token>
  auto async_decrease(std::int64_t delta, std::int64_t floor, Token&& token) {
    return initiate(token, [this, delta, floor](value_completion done) {
      start_add(delta, floor, false, std::move(done));
    });
  }

  // One more unit, up to bounds.max_units; one fewer, down to
  // bounds.min_units. A value that is not made of the unit completes with
  // errc::invalid_option, unwritten.
  template <class Token>
  auto async_lengthen(prefix_bounds bounds, Token&& token) {
    return initiate(token, [this, bounds = std::move(bounds)](value_completion done) mutable {
      start_resize(std::move(bounds), +1, std::move(done));
    });
  }
  template <class Token>
  auto async_shorten(prefix_bounds bounds, Token&& token) {
    return initiate(token, [this, bounds = std::move(bounds)](value_completion done) mutable {
      start_resize(std::move(bounds), -1, std::move(done));
    });
  }

  // The last value on_change delivered (empty without a watch, or before
  // the first delivery).
  std::optional<versioned_value> last_seen() const;
  const std::string& path() const noexcept { return path_; }
  const shared_value_options& options() const noexcept { return options_; }

  // The integer a value holds, or nothing ("12", "-3"; not "1.5", " 1", "").
  static std::optional<std::int64_t> parse_integer(std::string_view text) noexcept;

  using value_completion = detail::completion<std::error_code, versioned_value>;

 private:
  template <class Token, class Start>
  auto initiate(Token& token, Start start) {
    return boost::asio::async_initiate<Token, void(std::error_code, versioned_value)>(
        [this, start = std::move(start)](auto handler) mutable {
          start(value_completion(std::move(handler), executor()));
        },
        token);
  }
  boost::asio::any_io_executor executor() const;
  void start_initialize(std::string initial, value_completion done);
  void start_read(value_completion done);
  void start_compare_and_set(std::string value, std::int32_t expected_version, value_completion done);
  void start_update(update_function change, value_completion done);
  void start_add(std::int64_t delta, std::int64_t limit, bool up, value_completion done);
  void start_resize(prefix_bounds bounds, int units, value_completion done);

  shared_value_options options_;
  std::string path_;
  std::shared_ptr<detail::shared_value_core> core_;
  std::unique_ptr<watched_node> watch_;  // only with an on_change
};

}  // namespace nominee
