#include "session_operations.hpp"

#include <chrono>
#include <cstdint>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <nominee/error.hpp>
#include <nominee/log.hpp>

#include "backoff.hpp"
#include "fault_injection.hpp"
#include "session_core.hpp"
#include "validate.hpp"
#include "zookeeper_handle.hpp"

namespace nominee::detail {
namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

// What a C completion carried, copied off the C client's buffers.
struct reply {
  int rc = ZOK;
  bool sent = true;  // false: the client refused the request before sending it
  std::string data;
  std::optional<nominee::stat> stat;
  std::string path;
  std::vector<std::string> names;
  std::vector<operation_result> results;
};

void* watch_context(std::uint64_t id) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)); }

// The state every request shares: deadline, retries, stale-reply filtering.
class request : public std::enable_shared_from_this<request> {
 public:
  explicit request(const std::shared_ptr<session_core>& core, request_scope scope = {},
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0))
      : core_(core),
        strand_(core->strand()),
        scope_(std::move(scope)),
        started_(clock::now()),
        deadline_(started_ + (timeout.count() > 0 ? timeout : core->options().operation_timeout)),
        deadline_timer_(strand_),
        retry_timer_(strand_) {}
  virtual ~request() = default;

  void begin() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->session_bound() || self->scope_.on_session != 0) {
        // A write belongs to the session it was meant for: the one named,
        // or the one current now. It is never sent on a later one.
        auto c = self->core();
        if (!c || c->closed()) return self->fail(errc::session_closed);
        self->bound_generation_ =
            self->scope_.on_session ? c->generation_of(self->scope_.on_session) : c->generation();
        if (self->bound_generation_ == 0) return self->fail(errc::session_expired);
      }
      self->deadline_timer_.expires_at(self->deadline_);
      // Pending timer handlers own the request: between a reply and its
      // retry nothing else does. finish() cancels them, which releases it.
      self->deadline_timer_.async_wait([self](const std::error_code& ec) {
        if (!ec && !self->done_) self->fail(errc::deadline_exceeded);
      });
      self->on_begin();
      self->transmit();
    });
  }

  // On the C client's completion thread, for requests whose reply lives in
  // buffers the request owns (multi).
  virtual void collect(reply&) {}

  // From a trampoline: hop to the strand and drop replies of earlier sends.
  static void deliver(std::shared_ptr<request> self, int attempt, reply r) {
    if (fault_injection::take_numbered_reply()) r.rc = ZCONNECTIONLOSS;
    auto strand = self->strand_;
    asio::post(strand, [self = std::move(self), attempt, r = std::move(r)]() mutable {
      if (self->done_ || attempt != self->attempt_) return;
      self->on_reply(std::move(r));
    });
  }

 protected:
  virtual void on_begin() {}
  // Sends the request's current step on zh; `call` is the C completion's data.
  virtual int send(zhandle_t* zh, void* call) = 0;
  virtual void on_reply(reply&& r) = 0;
  // Completes the caller's handler with the error (once).
  virtual void report_failure(std::error_code ec) = 0;
  // Safe to send again after a connection loss (reads; protected steps).
  virtual bool idempotent() const = 0;
  // Sent only on one session: asked once, when the request starts. True for
  // what belongs to a session (an ephemeral create) or could remove what
  // the next session's world has at the path (a delete): an unsent
  // persistent create or a versioned set means the same on any session.
  virtual bool session_bound() const { return false; }
  virtual int max_retries() const { return core_.lock() ? core_.lock()->options().retry.max_attempts : 0; }
  const request_scope& scope() const { return scope_; }

  std::shared_ptr<session_core> core() const { return core_.lock(); }
  std::uint64_t sent_generation() const { return sent_generation_; }

  void transmit();
  void retry_or_fail(std::error_code ec, bool sent);
  void fail(std::error_code ec) {
    if (done_) return;
    // no_node, node_exists, bad_version, not_empty: the server answered,
    // and recipes expect those answers (an exists() on a free key, a CAS
    // that lost a race). A failure is an operation that got no answer.
    finish(!(is_no_node(ec) || is_node_exists(ec) || is_bad_version(ec) || is_not_empty(ec)));
    report_failure(ec);
  }
  // Marks the request complete; later replies and timers are ignored.
  void finish(bool failed = false) {
    done_ = true;
    deadline_timer_.cancel();
    retry_timer_.cancel();
    if (auto c = core()) c->record_operation(clock::now() - started_, failed);
  }

 private:
  std::weak_ptr<session_core> core_;
  session_core::strand_type strand_;
  request_scope scope_;
  std::uint64_t bound_generation_ = 0;  // session_bound(): the only handle generation it may go to
  clock::time_point started_;
  clock::time_point deadline_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer retry_timer_;
  bool done_ = false;
  int attempt_ = 0;
  int retries_ = 0;
  std::uint64_t sent_generation_ = 0;
};

// Travels through the C client as the completion's `data`; the trampoline
// reclaims it exactly once.
struct call_context {
  std::shared_ptr<request> owner;
  int attempt;
  zookeeper_handle* handle;  // alive until every call it carries has ended
  clock::time_point sent;
};

// The server's own answers: a reply with one of these was read by the
// server on our session. Connection loss, expiry, closing and refusals
// were not.
bool server_answered(int rc) {
  switch (rc) {
    case ZOK:
    case ZNONODE:
    case ZNOAUTH:
    case ZBADVERSION:
    case ZNOCHILDRENFOREPHEMERALS:
    case ZNODEEXISTS:
    case ZNOTEMPTY:
    case ZINVALIDACL:
      return true;
    default:
      return false;
  }
}

std::unique_ptr<call_context> take_call(const void* data, int rc) {
  auto call = std::unique_ptr<call_context>(static_cast<call_context*>(const_cast<void*>(data)));
  if (server_answered(rc)) call->handle->note_answer(call->sent);
  call->handle->end_call(call.get());
  return call;
}

// A call the closed client never answered: fail it as the close would have.
void abandon_call(void* data) {
  auto call = std::unique_ptr<call_context>(static_cast<call_context*>(data));
  reply r;
  r.rc = ZCLOSING;
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void on_data_reply(int rc, const char* value, int value_len, const struct Stat* st, const void* data) {
  auto call = take_call(data, rc);
  reply r;
  r.rc = rc;
  if (rc == ZOK) {
    if (value && value_len > 0) r.data.assign(value, static_cast<std::size_t>(value_len));
    if (st) r.stat = to_stat(*st);
  }
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void on_stat_reply(int rc, const struct Stat* st, const void* data) {
  auto call = take_call(data, rc);
  reply r;
  r.rc = rc;
  if (rc == ZOK && st) r.stat = to_stat(*st);
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void on_void_reply(int rc, const void* data) {
  auto call = take_call(data, rc);
  reply r;
  r.rc = rc;
  call->owner->collect(r);
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void on_string_stat_reply(int rc, const char* value, const struct Stat* st, const void* data) {
  auto call = take_call(data, rc);
  reply r;
  r.rc = rc;
  if (rc == ZOK) {
    if (value) r.path = value;
    if (st) r.stat = to_stat(*st);
  }
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void on_children_reply(int rc, const struct String_vector* strings, const struct Stat* st, const void* data) {
  auto call = take_call(data, rc);
  reply r;
  r.rc = rc;
  if (rc == ZOK) {
    if (strings) r.names.assign(strings->data, strings->data + strings->count);
    if (st) r.stat = to_stat(*st);
  }
  request::deliver(std::move(call->owner), call->attempt, std::move(r));
}

void request::transmit() {
  auto c = core();
  if (!c || c->closed()) return fail(errc::session_closed);
  auto handle = c->current_handle();
  if (bound_generation_ != 0 && (handle ? handle->generation() : c->generation()) != bound_generation_)
    return fail(errc::session_expired);  // its session is gone: never resent on the next one
  if (!handle || fault_injection::take_refused_request()) {
    reply r;
    r.rc = ZINVALIDSTATE;  // between sessions: retried once the next one opens
    r.sent = false;
    return on_reply(std::move(r));
  }
  sent_generation_ = handle->generation();
  auto* call = new call_context{shared_from_this(), ++attempt_, handle.get(), clock::now()};
  // ZINVALIDSTATE without sending when the handle is closing: retried on the next one.
  int rc = handle->send_call(call, &abandon_call, [&](zhandle_t* zh) { return send(zh, call); });
  if (rc != ZOK) {
    handle->end_call(call);
    delete call;
    reply r;
    r.rc = rc;
    r.sent = false;
    on_reply(std::move(r));
  }
}

void request::retry_or_fail(std::error_code ec, bool sent) {
  auto c = core();
  if (!c || c->closed()) return fail(errc::session_closed);
  if (c->state() == session_state::auth_failed) return fail(errc::auth_failed);
  bool between_sessions = ec == errc::session_expired || ec == errc::invalid_state || ec == errc::closing;
  if (bound_generation_ != 0 && between_sessions) {
    // Refused before sending (the C client's handle is closing, or knows
    // its session expired before we do): try again on the same handle
    // only; once it is replaced, transmit() fails the request.
    if (ec == errc::session_expired || c->generation() != bound_generation_) return fail(errc::session_expired);
  }
  bool transient = is_retriable(ec) || (between_sessions && (bound_generation_ != 0 || c->options().reconnect_after_expiry));
  if (!transient || (sent && !idempotent())) return fail(ec);
  if (retries_ >= max_retries()) return fail(ec);
  auto delay = backoff_delay(c->options().retry, retries_++, c->random());
  if (clock::now() + delay >= deadline_) return fail(errc::deadline_exceeded);
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([self = shared_from_this()](const std::error_code& e) {
    if (!e && !self->done_) self->transmit();
  });
}

// Reads that may leave a one-shot watch behind.
class watched_read : public request {
 public:
  watched_read(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change)
      : request(core), path_(std::move(path)) {
    if (on_change) watch_id_ = core->register_watch(std::move(on_change), path_);
  }

 protected:
  bool idempotent() const override { return true; }
  void arm_watch() {
    if (auto c = core(); c && watch_id_) c->arm_watch(watch_id_, sent_generation());
  }
  void drop_watch() {
    if (auto c = core(); c && watch_id_) c->cancel_watch(watch_id_);
  }

  std::string path_;
  std::uint64_t watch_id_ = 0;
};

class get_request final : public watched_read {
 public:
  get_request(const std::shared_ptr<session_core>& core, std::string path, session::watcher w,
              completion<std::error_code, node> done)
      : watched_read(core, std::move(path), std::move(w)), done_(std::move(done)) {}

 private:
  int send(zhandle_t* zh, void* call) override {
    if (watch_id_)
      return zoo_awget(zh, path_.c_str(), session_core::watch_trampoline, watch_context(watch_id_), on_data_reply,
                       call);
    return zoo_aget(zh, path_.c_str(), 0, on_data_reply, call);
  }
  void on_reply(reply&& r) override {
    if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
    arm_watch();
    finish();
    done_({}, node{path_, std::move(r.data), r.stat.value_or(stat{})});
  }
  void report_failure(std::error_code ec) override {
    drop_watch();
    done_(ec, node{path_, {}, {}});
  }
  completion<std::error_code, node> done_;
};

class exists_request final : public watched_read {
 public:
  exists_request(const std::shared_ptr<session_core>& core, std::string path, session::watcher w,
                 completion<std::error_code, std::optional<stat>> done)
      : watched_read(core, std::move(path), std::move(w)), done_(std::move(done)) {}

 private:
  int send(zhandle_t* zh, void* call) override {
    if (watch_id_)
      return zoo_awexists(zh, path_.c_str(), session_core::watch_trampoline, watch_context(watch_id_),
                          on_stat_reply, call);
    return zoo_aexists(zh, path_.c_str(), 0, on_stat_reply, call);
  }
  void on_reply(reply&& r) override {
    // The server keeps an exists() watch on a missing node too: it fires on create.
    if (r.rc != ZOK && r.rc != ZNONODE) return retry_or_fail(to_error(r.rc), r.sent);
    arm_watch();
    finish();
    done_({}, r.rc == ZOK ? r.stat : std::nullopt);
  }
  void report_failure(std::error_code ec) override {
    drop_watch();
    done_(ec, std::nullopt);
  }
  completion<std::error_code, std::optional<stat>> done_;
};

class children_request final : public watched_read {
 public:
  children_request(const std::shared_ptr<session_core>& core, std::string path, session::watcher w,
                   completion<std::error_code, children> done)
      : watched_read(core, std::move(path), std::move(w)), done_(std::move(done)) {}

 private:
  int send(zhandle_t* zh, void* call) override {
    if (watch_id_)
      return zoo_awget_children2(zh, path_.c_str(), session_core::watch_trampoline, watch_context(watch_id_),
                                 on_children_reply, call);
    return zoo_aget_children2(zh, path_.c_str(), 0, on_children_reply, call);
  }
  void on_reply(reply&& r) override {
    if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
    arm_watch();
    finish();
    done_({}, children{path_, std::move(r.names), r.stat.value_or(stat{})});
  }
  void report_failure(std::error_code ec) override {
    drop_watch();
    done_(ec, children{path_, {}, {}});
  }
  completion<std::error_code, children> done_;
};

class set_request final : public request {
 public:
  set_request(const std::shared_ptr<session_core>& core, std::string path, std::string data, std::int32_t version,
              completion<std::error_code, stat> done, request_scope scope)
      : request(core, std::move(scope)), path_(std::move(path)), data_(std::move(data)), version_(version), done_(std::move(done)) {}

 private:
  bool idempotent() const override { return false; }
  int send(zhandle_t* zh, void* call) override {
    return zoo_aset(zh, path_.c_str(), data_.data(), static_cast<int>(data_.size()), version_, on_stat_reply, call);
  }
  void on_reply(reply&& r) override {
    if (r.rc == ZOK && fault_injection::take_lost_set_reply()) r.rc = ZCONNECTIONLOSS;
    if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
    finish();
    done_({}, r.stat.value_or(stat{}));
  }
  void report_failure(std::error_code ec) override { done_(ec, stat{}); }

  std::string path_;
  std::string data_;
  std::int32_t version_;
  completion<std::error_code, stat> done_;
};

class remove_request final : public request {
 public:
  remove_request(const std::shared_ptr<session_core>& core, std::string path, std::int32_t version,
                 completion<std::error_code> done, request_scope scope)
      : request(core, std::move(scope)), path_(std::move(path)), version_(version), done_(std::move(done)) {}

 private:
  bool idempotent() const override { return false; }
  bool session_bound() const override { return true; }
  int send(zhandle_t* zh, void* call) override {
    return zoo_adelete(zh, path_.c_str(), version_, on_void_reply, call);
  }
  void on_reply(reply&& r) override {
    if (r.rc == ZOK || r.rc == ZNONODE)
      if (auto c = core()) c->ledger().erase(path_);
    if (r.rc == ZOK && fault_injection::take_lost_delete_reply()) r.rc = ZCONNECTIONLOSS;
    if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
    finish();
    done_({});
  }
  void report_failure(std::error_code ec) override { done_(ec); }

  std::string path_;
  std::int32_t version_;
  completion<std::error_code> done_;
};

// See start_owned_removal in the header.
class owned_removal_request final : public request {
 public:
  owned_removal_request(const std::shared_ptr<session_core>& core, owned_node node, completion<std::error_code> done)
      : request(core, request_scope{{}, node.session_id}, removal_patience(*core)),
        node_(std::move(node)),
        done_(std::move(done)) {}

 private:
  enum class step { look, remove };

  // The node blocks whoever queues behind it for as long as our session
  // lives: keep at it well past one operation's deadline.
  static std::chrono::milliseconds removal_patience(const session_core& core) {
    return std::max(core.options().operation_timeout, 6 * core.options().session_timeout);
  }
  bool idempotent() const override { return step_ == step::look; }
  bool session_bound() const override { return true; }
  int max_retries() const override { return 1000; }  // the deadline bounds it

  void on_begin() override {
    if (auto c = core()) c->ledger().releasing(node_);
  }
  int send(zhandle_t* zh, void* call) override {
    if (step_ == step::look) return zoo_aexists(zh, node_.path.c_str(), 0, on_stat_reply, call);
    return zoo_adelete(zh, node_.path.c_str(), version_, on_void_reply, call);
  }
  void on_reply(reply&& r) override {
    if (step_ == step::look) {
      if (r.rc == ZNONODE) return succeed();
      if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
      auto& st = *r.stat;
      if (st.ephemeral_owner != node_.session_id || (node_.czxid != 0 && st.czxid != node_.czxid)) {
        // Someone else's node now (ours went and another took the path),
        // or a newer node of ours: neither is this removal's to delete.
        forget();
        finish();
        if (done_) done_(errc::not_owner);
        return;
      }
      version_ = st.version;
      step_ = step::remove;
      return transmit();
    }
    if (r.rc == ZOK && fault_injection::take_lost_delete_reply()) {
      r.rc = ZCONNECTIONLOSS;
      r.sent = true;
    }
    if (r.rc == ZOK || r.rc == ZNONODE) return succeed();
    auto ec = to_error(r.rc);
    if (r.rc == ZBADVERSION || (r.sent && is_connection_loss(ec))) {
      // Did it land? Look again (on this session) before another delete.
      step_ = step::look;
      if (r.rc == ZBADVERSION) return transmit();
      return retry_or_fail(ec, false);
    }
    retry_or_fail(ec, r.sent);
  }
  void forget() {
    if (auto c = core()) c->ledger().erase(node_);
  }
  void succeed() {
    forget();
    finish();
    if (done_) done_({});
  }
  void report_failure(std::error_code ec) override {
    if (auto c = core()) {
      if (is_session_expired(ec))
        c->ledger().erase(node_);  // the server deletes it with the session
      else
        c->ledger().removal_failed(node_.path);  // the orphan audit tries again
    }
    if (!is_session_expired(ec) && ec != errc::session_closed)
      log(log_level::warn, describe("could not delete our node", node_.path) + " yet: " + ec.message());
    if (done_) done_(ec);
  }

  owned_node node_;
  completion<std::error_code> done_;
  step step_ = step::look;
  std::int32_t version_ = 0;
};

int send_create(zhandle_t* zh, const std::string& path, const std::string& data, const create_options& options,
                const zoo_acl& acl, void* call) {
  int mode = to_zoo_mode(options.mode);
  if (is_ttl_mode(options.mode))
    return zoo_acreate2_ttl(zh, path.c_str(), data.data(), static_cast<int>(data.size()), acl.get(), mode,
                            options.ttl.count(), on_string_stat_reply, call);
  return zoo_acreate2(zh, path.c_str(), data.data(), static_cast<int>(data.size()), acl.get(), mode,
                      on_string_stat_reply, call);
}

void start_protected_sweep(const std::shared_ptr<session_core>& core, std::string parent, std::string prefix,
                           std::int64_t session_id);

// create, and the protected create: after a connection loss it lists the
// parent for its "_c_<uuid>-" name rather than create a second node.
class create_request final : public request {
 public:
  create_request(const std::shared_ptr<session_core>& core, std::string path, std::string data,
                 create_options options, bool protect, completion<std::error_code, created_node> done,
                 request_scope scope)
      : request(core, std::move(scope)),
        path_(std::move(path)),
        data_(std::move(data)),
        options_(std::move(options)),
        acl_(options_.acl ? *options_.acl : core->default_acl()),
        protect_(protect),
        done_(std::move(done)) {}

 private:
  enum class step { create, find, stat };

  void on_begin() override {
    if (!protect_) return;
    auto c = core();
    if (!c) return;
    boost::uuids::basic_random_generator<std::mt19937_64> generate(&c->random());
    uuid_ = boost::uuids::to_string(generate());
    path_ = protected_path(path_, uuid_);
  }
  bool idempotent() const override { return step_ != step::create; }
  bool session_bound() const override { return ephemeral(); }

  std::string parent() const {
    auto slash = path_.rfind('/');
    return slash == 0 ? "/" : path_.substr(0, slash);
  }

  int send(zhandle_t* zh, void* call) override {
    switch (step_) {
      case step::create: return send_create(zh, path_, data_, options_, acl_, call);
      case step::find: return zoo_aget_children2(zh, parent().c_str(), 0, on_children_reply, call);
      case step::stat: return zoo_aexists(zh, found_.c_str(), 0, on_stat_reply, call);
    }
    return ZBADARGUMENTS;
  }

  void on_reply(reply&& r) override {
    switch (step_) {
      case step::create:
        if (r.rc == ZOK && fault_injection::take_lost_create_reply()) r.rc = ZCONNECTIONLOSS;
        if (r.rc == ZOK) return succeed(std::move(r.path), r.stat.value_or(stat{}));
        if (protect_ && r.sent && is_connection_loss(to_error(r.rc))) {
          maybe_landed_ = true;
          step_ = step::find;  // did it land? ask before trying again
          return retry_or_fail(to_error(r.rc), false);
        }
        return retry_or_fail(to_error(r.rc), r.sent);
      case step::find: {
        if (r.rc == ZNONODE) return fail(errc::no_node);  // the parent went away
        if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
        auto prefix = protected_prefix(uuid_);
        for (auto& name : r.names) {
          if (name.compare(0, prefix.size(), prefix) != 0) continue;
          auto p = parent();
          found_ = (p == "/" ? "" : p) + "/" + name;
          step_ = step::stat;
          return transmit();
        }
        maybe_landed_ = false;
        step_ = step::create;  // it did not land: now it is safe to send again
        return transmit();
      }
      case step::stat:
        if (r.rc == ZOK) return succeed(found_, r.stat.value_or(stat{}));
        if (r.rc == ZNONODE) {  // ours, but already gone (its session ended): create anew
          step_ = step::create;
          return transmit();
        }
        return retry_or_fail(to_error(r.rc), r.sent);
    }
  }

  bool ephemeral() const {
    return options_.mode == create_mode::ephemeral || options_.mode == create_mode::ephemeral_sequential;
  }
  void succeed(std::string created, stat s) {
    finish();
    if (ephemeral() && has_holder(scope().holder))
      if (auto c = core()) c->record_ephemeral({created, s.ephemeral_owner, s.czxid}, scope().holder);
    done_({}, created_node{std::move(created), s});
  }
  void report_failure(std::error_code ec) override {
    // A protected create that may have landed (its reply was lost, and the
    // find did not answer in time) could leave a node nobody knows of, the
    // lowest in its queue for the whole session: find it by its UUID and
    // delete it, whatever became of the caller.
    if (protect_ && maybe_landed_ && ephemeral() && !is_session_expired(ec) && ec != errc::session_closed)
      if (auto c = core()) start_protected_sweep(c, parent(), protected_prefix(uuid_), scope().on_session);
    done_(ec, created_node{path_, {}});
  }

  std::string path_;
  std::string data_;
  create_options options_;
  zoo_acl acl_;
  bool protect_;
  std::string uuid_;
  std::string found_;
  step step_ = step::create;
  bool maybe_landed_ = false;  // a create was sent and its answer lost
  completion<std::error_code, created_node> done_;
};

// Finds a protected node of ours by its UUID prefix and deletes it (an owned
// removal): what a protected create that ended without knowing leaves behind.
class protected_sweep_request final : public request {
 public:
  protected_sweep_request(const std::shared_ptr<session_core>& core, std::string parent, std::string prefix,
                          std::int64_t session_id)
      : request(core, request_scope{{}, session_id}, std::max(core->options().operation_timeout,
                                                               6 * core->options().session_timeout)),
        parent_(std::move(parent)),
        prefix_(std::move(prefix)) {}

 private:
  bool idempotent() const override { return true; }
  bool session_bound() const override { return true; }  // the node lives and dies with its session
  int max_retries() const override { return 1000; }     // the deadline bounds it
  int send(zhandle_t* zh, void* call) override {
    return zoo_aget_children2(zh, parent_.c_str(), 0, on_children_reply, call);
  }
  void on_reply(reply&& r) override {
    if (r.rc == ZNONODE) return finish();
    if (r.rc != ZOK) return retry_or_fail(to_error(r.rc), r.sent);
    finish();
    auto c = core();
    if (!c) return;
    for (auto& name : r.names) {
      if (name.compare(0, prefix_.size(), prefix_) != 0) continue;
      auto path = (parent_ == "/" ? "" : parent_) + "/" + name;
      log(log_level::info, describe("deleting the node of a create that ended unanswered", path));
      c->count_orphan_removed();
      start_owned_removal(c, {path, scope().on_session ? scope().on_session : c->session_id(), 0}, {});
    }
  }
  void report_failure(std::error_code ec) override {
    if (!is_session_expired(ec) && ec != errc::session_closed)
      log(log_level::warn, "could not look for an unanswered create's node under '" + parent_ + "': " + ec.message());
  }

  std::string parent_;
  std::string prefix_;
};

void start_protected_sweep(const std::shared_ptr<session_core>& core, std::string parent, std::string prefix,
                           std::int64_t session_id) {
  std::make_shared<protected_sweep_request>(core, std::move(parent), std::move(prefix), session_id)->begin();
}

class multi_request final : public request {
 public:
  multi_request(const std::shared_ptr<session_core>& core, std::vector<operation> ops,
                completion<std::error_code, std::vector<operation_result>> done, request_scope scope)
      : request(core, std::move(scope)), ops_(std::move(ops)), done_(std::move(done)) {
    default_acl_ = std::make_unique<zoo_acl>(core->default_acl());
  }

  void collect(reply& r) override {
    // The C client filled results_ (and the buffers it points into).
    r.results.resize(ops_.size());
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      auto& out = r.results[i];
      out.error = to_error(results_[i].err);
      std::visit(
          [&](auto& o) {
            using T = std::decay_t<decltype(o)>;
            out.path = o.path;
            if constexpr (std::is_same_v<T, op::create>) {
              // A multi's create answers with the path only (no Stat).
              if (results_[i].err == ZOK) out.path = path_buffers_[i].c_str();
            } else if constexpr (std::is_same_v<T, op::set>) {
              if (results_[i].err == ZOK) out.stat = to_stat(stats_[i]);
            }
          },
          ops_[i]);
    }
  }

 private:
  bool idempotent() const override { return false; }
  bool session_bound() const override {
    for (auto& o : ops_) {
      if (std::holds_alternative<op::remove>(o)) return true;
      if (auto* c = std::get_if<op::create>(&o))
        if (c->options.mode == create_mode::ephemeral || c->options.mode == create_mode::ephemeral_sequential)
          return true;
    }
    return false;
  }

  int send(zhandle_t* zh, void* call) override {
    // The 3.8 C client's zoo_amulti crashes the process on a handle whose
    // session has expired (or whose auth failed): the first operation gets
    // ZINVALIDSTATE, every later one skips its *_init and then frees the
    // uninitialized path pointer on the stack, which holds the previous
    // operation's path: our string's buffer (found by the fault runner, a
    // double free after a forced expiry; ASan: alloc-dealloc mismatch in
    // zoo_amulti). The session learns of an expiry some time after the C
    // client does: answer as zoo_amulti would, without calling it. (Refusing
    // every state but connected closed the last microseconds of the race
    // too, but made multis spin through their retries during a reconnect
    // instead of queueing in the C client, and a range grant after an expiry
    // ran out of them under TSan.)
    if (int state = zoo_state(zh); state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
      return ZINVALIDSTATE;
    auto n = ops_.size();
    zoo_ops_.assign(n, zoo_op_t{});
    results_.assign(n, zoo_op_result_t{});
    stats_.assign(n, Stat{});
    path_buffers_.assign(n, std::string());
    acls_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      std::visit(
          [&](auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, op::create>) {
              const zoo_acl* acl = default_acl_.get();
              if (o.options.acl) acl = acls_.emplace_back(std::make_unique<zoo_acl>(*o.options.acl)).get();
              path_buffers_[i].assign(o.path.size() + 64, '\0');  // room for a sequence suffix
              zoo_create_op_init(&zoo_ops_[i], o.path.c_str(), o.data.data(), static_cast<int>(o.data.size()),
                                 acl->get(), to_zoo_mode(o.options.mode), path_buffers_[i].data(),
                                 static_cast<int>(path_buffers_[i].size()));
              zoo_ops_[i].create_op.ttl = o.options.ttl.count();
            } else if constexpr (std::is_same_v<T, op::remove>) {
              zoo_delete_op_init(&zoo_ops_[i], o.path.c_str(), o.version);
            } else if constexpr (std::is_same_v<T, op::set>) {
              zoo_set_op_init(&zoo_ops_[i], o.path.c_str(), o.data.data(), static_cast<int>(o.data.size()),
                              o.version, &stats_[i]);
            } else {
              zoo_check_op_init(&zoo_ops_[i], o.path.c_str(), o.version);
            }
          },
          ops_[i]);
    }
    return zoo_amulti(zh, static_cast<int>(n), zoo_ops_.data(), results_.data(), on_void_reply, call);
  }

  void on_reply(reply&& r) override {
    if (r.rc == ZOK) keep_ledger(r.results);
    if (r.rc == ZOK && fault_injection::take_lost_multi_reply()) {
      r.rc = ZCONNECTIONLOSS;
      r.results.clear();
    }
    if (r.rc != ZOK && !r.sent) return retry_or_fail(to_error(r.rc), false);
    finish();
    done_(to_error(r.rc), std::move(r.results));
  }
  // What the multi deleted leaves the ledger; what it made for a holder
  // joins it. All its operations share one zxid: a set's mzxid is the
  // czxid of the nodes it created.
  void keep_ledger(const std::vector<operation_result>& results) {
    auto c = core();
    if (!c) return;
    std::int64_t zxid = 0;
    for (auto& res : results)
      if (res.stat && res.stat->mzxid != 0) zxid = res.stat->mzxid;
    for (std::size_t i = 0; i < ops_.size() && i < results.size(); ++i) {
      if (auto* remove = std::get_if<op::remove>(&ops_[i])) {
        c->ledger().erase(remove->path);
      } else if (auto* create = std::get_if<op::create>(&ops_[i])) {
        bool ephemeral = create->options.mode == create_mode::ephemeral ||
                         create->options.mode == create_mode::ephemeral_sequential;
        if (ephemeral && has_holder(scope().holder))
          c->record_ephemeral({results[i].path, c->session_id(), zxid}, scope().holder);
      }
    }
  }
  void report_failure(std::error_code ec) override { done_(ec, {}); }

  std::vector<operation> ops_;
  std::unique_ptr<zoo_acl> default_acl_;
  std::vector<std::unique_ptr<zoo_acl>> acls_;
  std::vector<zoo_op_t> zoo_ops_;
  std::vector<zoo_op_result_t> results_;
  std::vector<Stat> stats_;
  std::vector<std::string> path_buffers_;
  completion<std::error_code, std::vector<operation_result>> done_;
};

// exists(path), then create each missing ancestor and path itself, in order.
// Persistent creates of fixed names are safe to repeat: node_exists is success.
class ensure_path_request final : public request {
 public:
  ensure_path_request(const std::shared_ptr<session_core>& core, std::string path, completion<std::error_code> done)
      : request(core), path_(std::move(path)), acl_(core->default_acl()), done_(std::move(done)) {
    for (std::size_t i = 1; i <= path_.size(); ++i)
      if (i == path_.size() || path_[i] == '/') prefixes_.push_back(path_.substr(0, i));
  }

 private:
  bool idempotent() const override { return true; }
  int send(zhandle_t* zh, void* call) override {
    if (checking_) return zoo_aexists(zh, path_.c_str(), 0, on_stat_reply, call);
    return send_create(zh, prefixes_[next_], {}, create_options{}, acl_, call);
  }
  void on_reply(reply&& r) override {
    if (checking_) {
      if (r.rc == ZOK) return succeed();
      if (r.rc != ZNONODE) return retry_or_fail(to_error(r.rc), r.sent);
      checking_ = false;
      return transmit();
    }
    if (r.rc != ZOK && r.rc != ZNODEEXISTS) return retry_or_fail(to_error(r.rc), r.sent);
    if (++next_ == prefixes_.size()) return succeed();
    transmit();
  }
  void succeed() {
    finish();
    done_({});
  }
  void report_failure(std::error_code ec) override { done_(ec); }

  std::string path_;
  zoo_acl acl_;
  std::vector<std::string> prefixes_;
  std::size_t next_ = 0;
  bool checking_ = true;
  completion<std::error_code> done_;
};

void log_rejected(std::string_view operation, std::string_view path, std::error_code ec) {
  if (current_log_level() <= log_level::debug)
    log(log_level::debug, std::string(operation) + " " + describe("path", path) + " rejected: " + ec.message());
}

std::error_code check_create(const std::string& path, const std::string& data, const create_options& options) {
  if (auto ec = check_path(path, is_sequential_mode(options.mode))) return ec;
  if (path == "/") return errc::node_exists;
  if (auto ec = check_data(data)) return ec;
  bool ttl_mode = is_ttl_mode(options.mode);
  if (ttl_mode != (options.ttl.count() > 0) || options.ttl.count() < 0) return errc::invalid_option;
  if (options.acl && options.acl->empty()) return errc::invalid_option;
  return {};
}

}  // namespace

std::string protected_prefix(const std::string& uuid) { return "_c_" + uuid + "-"; }

std::string protected_path(const std::string& path, const std::string& uuid) {
  auto slash = path.rfind('/');
  return path.substr(0, slash + 1) + protected_prefix(uuid) + path.substr(slash + 1);
}

void start_create(const std::shared_ptr<session_core>& core, std::string path, std::string data,
                  create_options options, bool protect, completion<std::error_code, created_node> done,
                  request_scope scope) {
  if (auto ec = check_create(path, data, options)) {
    log_rejected("create", path, ec);
    return done(ec, created_node{std::move(path), {}});
  }
  std::make_shared<create_request>(core, std::move(path), std::move(data), std::move(options), protect,
                                   std::move(done), std::move(scope))
      ->begin();
}

void start_get(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
               completion<std::error_code, node> done) {
  if (auto ec = check_path(path)) {
    log_rejected("get", path, ec);
    return done(ec, node{std::move(path), {}, {}});
  }
  std::make_shared<get_request>(core, std::move(path), std::move(on_change), std::move(done))->begin();
}

void start_exists(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                  completion<std::error_code, std::optional<stat>> done) {
  if (auto ec = check_path(path)) {
    log_rejected("exists", path, ec);
    return done(ec, std::nullopt);
  }
  std::make_shared<exists_request>(core, std::move(path), std::move(on_change), std::move(done))->begin();
}

void start_get_children(const std::shared_ptr<session_core>& core, std::string path, session::watcher on_change,
                        completion<std::error_code, children> done) {
  if (auto ec = check_path(path)) {
    log_rejected("get_children", path, ec);
    return done(ec, children{std::move(path), {}, {}});
  }
  std::make_shared<children_request>(core, std::move(path), std::move(on_change), std::move(done))->begin();
}

void start_set(const std::shared_ptr<session_core>& core, std::string path, std::string data, std::int32_t version,
               completion<std::error_code, stat> done, request_scope scope) {
  std::error_code ec = check_path(path);
  if (!ec) ec = check_data(data);
  if (!ec && version < any_version) ec = errc::invalid_option;
  if (ec) {
    log_rejected("set", path, ec);
    return done(ec, stat{});
  }
  std::make_shared<set_request>(core, std::move(path), std::move(data), version, std::move(done), std::move(scope))
      ->begin();
}

void start_remove(const std::shared_ptr<session_core>& core, std::string path, std::int32_t version,
                  completion<std::error_code> done, request_scope scope) {
  std::error_code ec = check_path(path);
  if (!ec && version < any_version) ec = errc::invalid_option;
  if (ec) {
    log_rejected("remove", path, ec);
    return done(ec);
  }
  std::make_shared<remove_request>(core, std::move(path), version, std::move(done), std::move(scope))->begin();
}

void start_multi(const std::shared_ptr<session_core>& core, std::vector<operation> operations,
                 completion<std::error_code, std::vector<operation_result>> done, request_scope scope) {
  std::error_code ec;
  std::size_t total_bytes = 0;
  if (operations.size() > max_multi_operations) ec = errc::too_many_operations;
  std::vector<operation_result> results(operations.size());
  for (std::size_t i = 0; i < operations.size() && !ec; ++i) {
    std::visit(
        [&](auto& o) {
          using T = std::decay_t<decltype(o)>;
          results[i].path = o.path;
          if constexpr (std::is_same_v<T, op::create>) {
            ec = check_create(o.path, o.data, o.options);
            total_bytes += o.data.size() + o.path.size();
          } else if constexpr (std::is_same_v<T, op::set>) {
            ec = check_path(o.path);
            if (!ec) ec = check_data(o.data);
            total_bytes += o.data.size() + o.path.size();
          } else {
            ec = check_path(o.path);
            total_bytes += o.path.size();
          }
          if constexpr (!std::is_same_v<T, op::create>)
            if (!ec && o.version < any_version) ec = errc::invalid_option;
          if (ec) results[i].error = ec;
        },
        operations[i]);
  }
  if (!ec && total_bytes > max_node_data_bytes) ec = errc::data_too_large;  // one request: jute.maxbuffer
  if (ec) {
    log_rejected("multi", operations.empty() ? "" : std::visit([](auto& o) { return o.path; }, operations.front()), ec);
    return done(ec, std::move(results));
  }
  if (operations.empty()) return done({}, {});
  std::make_shared<multi_request>(core, std::move(operations), std::move(done), std::move(scope))->begin();
}

void start_owned_removal(const std::shared_ptr<session_core>& core, owned_node node, completion<std::error_code> done) {
  if (auto ec = check_path(node.path); ec || node.session_id == 0) {
    if (!ec) ec = errc::invalid_option;
    log_rejected("owned removal", node.path, ec);
    if (done) done(ec);
    return;
  }
  std::make_shared<owned_removal_request>(core, std::move(node), std::move(done))->begin();
}

void start_ensure_path(const std::shared_ptr<session_core>& core, std::string path,
                       completion<std::error_code> done) {
  if (auto ec = check_path(path)) {
    log_rejected("ensure_path", path, ec);
    return done(ec);
  }
  if (path == "/") return done({});
  std::make_shared<ensure_path_request>(core, std::move(path), std::move(done))->begin();
}

}  // namespace nominee::detail
