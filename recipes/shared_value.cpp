#include <nominee/shared_value.hpp>

#include <atomic>
#include <charconv>
#include <limits>
#include <mutex>
#include <vector>

#include <nominee/log.hpp>
#include <nominee/watched_node.hpp>

#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "validate.hpp"

namespace nominee {
namespace detail {

// The rule an update applies: from the current value, the next one (nothing:
// leave it), or an error that ends the update without a write.
using value_rule = std::function<std::error_code(const versioned_value& current, std::optional<std::string>& next)>;

// One request in flight, completed exactly once: by its last ZooKeeper
// answer, by the owner's destruction (cancelled), or, when the session's
// core is gone and drops the request's handlers, by its own destruction
// (session_closed): a future on it never hangs.
struct value_request {
  value_rule rule;
  shared_value::value_completion done;
  int attempts = 0;
  std::atomic<bool> completed{false};

  void complete(std::error_code ec, versioned_value value) {
    if (!completed.exchange(true)) done(ec, std::move(value));
  }
  ~value_request() { complete(errc::session_closed, {}); }
};

class shared_value_core : public std::enable_shared_from_this<shared_value_core> {
 public:
  shared_value_core(session& s, std::string path, int max_attempts)
      : executor_(s.get_executor()), link_(s), path_(std::move(path)), max_attempts_(max_attempts) {}

  const boost::asio::any_io_executor& executor() const { return executor_; }

  void initialize(std::string initial, shared_value::value_completion done) {
    if (auto ec = check_data(initial)) return done(ec, {});
    auto request = track(nullptr, std::move(done));
    if (!request) return;
    auto parent = path_.substr(0, path_.rfind('/'));
    link_.ensure_path(parent, [weak = weak_from_this(), request, initial = std::move(initial)](std::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      if (ec) return self->finish(request, ec, {});
      self->link_.create(self->path_, initial, {}, false,
                         [weak, request, initial](std::error_code ec, const created_node&) {
                           auto self = weak.lock();
                           if (!self) return;
                           if (!ec) return self->finish(request, {}, versioned_value{initial, 0});
                           // There already (or maybe ours, if the answer was
                           // lost): either way, what is there now.
                           if (is_node_exists(ec)) return self->read_into(request);
                           if (is_connection_loss(ec)) return self->initialize_after_loss(request, initial);
                           self->finish(request, ec, {});
                         });
    });
  }

  // A create whose answer was lost: what is there now, or (absent: the
  // create did not land) create again, up to max_attempts.
  void initialize_after_loss(const std::shared_ptr<value_request>& request, std::string initial) {
    link_.get(path_, {}, [weak = weak_from_this(), request, initial = std::move(initial)](std::error_code ec, node n) {
      auto self = weak.lock();
      if (!self || !still_pending(request)) return;
      if (!ec) return finish(request, {}, versioned_value{std::move(n.data), n.stat.version});
      if (!is_no_node(ec) || ++request->attempts >= self->max_attempts_) return finish(request, ec, {});
      self->link_.create(self->path_, initial, {}, false, [weak, request, initial](std::error_code e, const created_node&) {
        auto me = weak.lock();
        if (!me || !still_pending(request)) return;
        if (!e) return finish(request, {}, versioned_value{initial, 0});
        if (is_node_exists(e)) return me->read_into(request);
        if (is_connection_loss(e)) return me->initialize_after_loss(request, initial);
        finish(request, e, {});
      });
    });
  }

  void read(shared_value::value_completion done) {
    if (auto request = track(nullptr, std::move(done))) read_into(request);
  }

  void update(value_rule rule, shared_value::value_completion done) {
    if (auto request = track(std::move(rule), std::move(done))) attempt(request);
  }

  // Completes everything still pending with cancelled; answers that come
  // later find their request completed and drop it.
  void cancel_all() {
    std::vector<std::weak_ptr<value_request>> pending;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      pending.swap(pending_);
    }
    for (auto& weak : pending)
      if (auto r = weak.lock()) r->complete(errc::cancelled, {});
  }

 private:
  std::shared_ptr<value_request> track(value_rule rule, shared_value::value_completion done) {
    auto request = std::make_shared<value_request>();
    request->rule = std::move(rule);
    request->done = std::move(done);
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      request->complete(errc::cancelled, {});
      return nullptr;
    }
    // Finished requests leave expired entries; sweep them now and then.
    if (pending_.size() >= 64)
      std::erase_if(pending_, [](const std::weak_ptr<value_request>& w) { return w.expired(); });
    pending_.push_back(request);
    return request;
  }

  static void finish(const std::shared_ptr<value_request>& request, std::error_code ec, versioned_value value) {
    request->complete(ec, std::move(value));
  }

  static bool still_pending(const std::shared_ptr<value_request>& request) { return !request->completed; }

  void read_into(const std::shared_ptr<value_request>& request) {
    link_.get(path_, {}, [weak = weak_from_this(), request](std::error_code ec, node n) {
      if (auto self = weak.lock()) self->finish(request, ec, ec ? versioned_value{} : versioned_value{std::move(n.data), n.stat.version});
    });
  }

  // One round: read, apply the rule, write only if still that version.
  void attempt(const std::shared_ptr<value_request>& request) {
    if (!still_pending(request)) return;
    link_.get(path_, {}, [weak = weak_from_this(), request](std::error_code ec, node n) {
      auto self = weak.lock();
      if (!self || !still_pending(request)) return;  // cancelled meanwhile: write nothing
      if (ec) return self->finish(request, ec, {});
      versioned_value current{std::move(n.data), n.stat.version};
      std::optional<std::string> next;
      std::error_code refused;
      try {
        refused = request->rule(current, next);
      } catch (const std::exception& e) {
        log(log_level::error, describe("shared_value: the update function threw on", self->path_) + ": " + e.what());
        refused = errc::cancelled;
      }
      if (refused) return self->finish(request, refused, current);
      if (!next || *next == current.value) return self->finish(request, {}, current);
      if (auto bad = check_data(*next)) return self->finish(request, bad, current);
      self->write(request, std::move(current), std::move(*next));
    });
  }

  void write(const std::shared_ptr<value_request>& request, versioned_value current, std::string next) {
    auto expected = current.version;
    link_.set(path_, next, expected,
              [weak = weak_from_this(), request, expected, next](std::error_code ec, const stat& st) {
                auto self = weak.lock();
                if (!self) return;
                if (!ec) return self->finish(request, {}, versioned_value{next, st.version});
                if (is_bad_version(ec)) return self->retry(request);
                if (is_connection_loss(ec)) return self->after_lost_answer(request, expected);
                self->finish(request, ec, {});
              });
  }

  void retry(const std::shared_ptr<value_request>& request) {
    if (!still_pending(request)) return;
    if (++request->attempts >= max_attempts_) return finish(request, errc::bad_version, {});
    attempt(request);
  }

  // The write may or may not have been applied. A check of the version in
  // a multi goes through the leader, like the write did, so it sees the
  // write if it was committed (a read could be served by a server that has
  // not applied it yet, after a reconnect elsewhere). Version unchanged:
  // not applied, try again. Moved: ours or another writer's, we cannot
  // tell; say so rather than apply the change twice or report one that
  // was lost.
  void after_lost_answer(const std::shared_ptr<value_request>& request, std::int32_t expected) {
    if (!still_pending(request)) return;
    auto core = link_.lock();
    if (!core) return;  // the request completes with session_closed when dropped
    start_multi(core, {op::check{path_, expected}},
                completion<std::error_code, std::vector<operation_result>>(
                    [weak = weak_from_this(), request, expected](std::error_code ec, const std::vector<operation_result>&) {
                      auto self = weak.lock();
                      if (!self) return;
                      if (!ec) return self->retry(request);
                      if (is_connection_loss(ec)) {
                        if (++request->attempts >= self->max_attempts_) return finish(request, ec, {});
                        return self->after_lost_answer(request, expected);
                      }
                      if (!is_bad_version(ec)) return finish(request, ec, {});
                      self->link_.get(self->path_, {}, [request](std::error_code e, node n) {
                        finish(request, e ? e : make_error_code(errc::connection_loss),
                               e ? versioned_value{} : versioned_value{std::move(n.data), n.stat.version});
                      });
                    },
                    core->executor()));
  }

  boost::asio::any_io_executor executor_;
  session_link link_;
  std::string path_;
  int max_attempts_;

  std::mutex mutex_;
  bool closed_ = false;
  std::vector<std::weak_ptr<value_request>> pending_;
};

namespace {

std::optional<std::int64_t> add_clamped(std::int64_t value, std::int64_t delta, std::int64_t limit, bool up) {
  std::int64_t out = 0;
  if (up) {
    if (value >= limit) return std::nullopt;
    if (__builtin_add_overflow(value, delta, &out) || out > limit) out = limit;
  } else {
    if (value <= limit) return std::nullopt;
    if (__builtin_sub_overflow(value, delta, &out) || out < limit) out = limit;
  }
  return out;
}

// How many times unit repeats to make text (nothing if it is not made of it).
std::optional<std::size_t> units_in(std::string_view text, std::string_view unit) {
  if (text.size() % unit.size() != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); i += unit.size())
    if (text.compare(i, unit.size(), unit) != 0) return std::nullopt;
  return text.size() / unit.size();
}

std::string repeat(std::string_view unit, std::size_t times) {
  std::string out;
  out.reserve(unit.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += unit;
  return out;
}

}  // namespace
}  // namespace detail

shared_value::shared_value(session& s, shared_value_options options, change_callback on_change)
    : options_(std::move(options)) {
  detail::require_root("shared_value_options.root", options_.root);
  detail::require_name("shared_value_options.name", options_.name);
  if (options_.max_attempts < 1)
    throw error(errc::invalid_option,
                detail::describe("shared_value_options.max_attempts", std::to_string(options_.max_attempts)));
  path_ = detail::under(options_.root, "values", options_.name);
  core_ = std::make_shared<detail::shared_value_core>(s, path_, options_.max_attempts);
  if (on_change)
    watch_ = std::make_unique<watched_node>(s, path_, [on_change = std::move(on_change)](const node_change& c) {
      on_change(c.exists ? versioned_value{c.data, c.stat.version} : versioned_value{});
    });
}

shared_value::~shared_value() {
  watch_.reset();  // no on_change after this
  core_->cancel_all();
}

boost::asio::any_io_executor shared_value::executor() const { return core_->executor(); }

std::optional<versioned_value> shared_value::last_seen() const {
  if (!watch_) return std::nullopt;
  auto c = watch_->current();
  if (!c) return std::nullopt;
  return c->exists ? versioned_value{c->data, c->stat.version} : versioned_value{};
}

std::optional<std::int64_t> shared_value::parse_integer(std::string_view text) noexcept {
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

void shared_value::start_initialize(std::string initial, value_completion done) {
  core_->initialize(std::move(initial), std::move(done));
}

void shared_value::start_read(value_completion done) { core_->read(std::move(done)); }

void shared_value::start_compare_and_set(std::string value, std::int32_t expected_version, value_completion done) {
  if (expected_version < 0)
    throw error(errc::invalid_option, detail::describe("expected_version", std::to_string(expected_version)));
  core_->update(
      [value = std::move(value), expected_version](const versioned_value& current, std::optional<std::string>& next) {
        if (current.version != expected_version) return std::error_code(errc::bad_version);
        next = value;
        return std::error_code();
      },
      std::move(done));
}

void shared_value::start_update(update_function change, value_completion done) {
  if (!change) throw error(errc::invalid_option, "shared_value::async_update: an empty update function");
  core_->update(
      [change = std::move(change)](const versioned_value& current, std::optional<std::string>& next) {
        next = change(current);
        return std::error_code();
      },
      std::move(done));
}

void shared_value::start_add(std::int64_t delta, std::int64_t limit, bool up, value_completion done) {
  if (delta < 0) throw error(errc::invalid_option, detail::describe("delta", std::to_string(delta)));
  core_->update(
      [delta, limit, up](const versioned_value& current, std::optional<std::string>& next) {
        auto value = parse_integer(current.value);
        if (!value) return std::error_code(errc::not_a_number);
        if (auto changed = detail::add_clamped(*value, delta, limit, up)) next = std::to_string(*changed);
        return std::error_code();
      },
      std::move(done));
}

void shared_value::start_resize(prefix_bounds bounds, int units, value_completion done) {
  if (bounds.unit.empty()) throw error(errc::invalid_option, "prefix_bounds.unit: empty");
  if (bounds.min_units > bounds.max_units)
    throw error(errc::invalid_option, detail::describe("prefix_bounds.min_units", std::to_string(bounds.min_units)) +
                                          " is over max_units " + std::to_string(bounds.max_units));
  core_->update(
      [bounds = std::move(bounds), units](const versioned_value& current, std::optional<std::string>& next) {
        auto have = detail::units_in(current.value, bounds.unit);
        if (!have) return std::error_code(errc::invalid_option);
        auto want = units > 0 ? std::min(*have + 1, bounds.max_units)
                              : (*have == 0 ? 0 : std::max(*have - 1, bounds.min_units));
        // Out of bounds already (say, the bounds were narrowed): only
        // ever move towards them.
        if ((units > 0 && want < *have) || (units < 0 && want > *have)) want = *have;
        next = detail::repeat(bounds.unit, want);
        return std::error_code();
      },
      std::move(done));
}

}  // namespace nominee
