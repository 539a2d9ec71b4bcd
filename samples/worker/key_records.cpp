#include "key_records.hpp"

#include <map>
#include <mutex>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include <nominee/key_names.hpp>
#include <nominee/log.hpp>

namespace nominee::worker {

namespace asio = boost::asio;

std::string encode_record(const record& r) {
  return nlohmann::json{{"Value", r.value}, {"CurrentWorker", r.current_worker}, {"Token", r.token}}.dump();
}

std::optional<record> decode_record(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  auto value = doc.find("Value"), worker = doc.find("CurrentWorker"), token = doc.find("Token");
  if (value == doc.end() || !value->is_number_integer() || worker == doc.end() || !worker->is_string() ||
      token == doc.end() || !token->is_number_integer())
    return std::nullopt;
  return record{value->get<std::int64_t>(), worker->get<std::string>(), token->get<std::int64_t>()};
}

std::string key_records::path_of(const std::string& dir, const std::string& key) {
  return dir + "/" + key_node_name(key);
}

// Everything below runs on one strand; keys() and totals() read copies
// kept under the mutex.
class key_records::state : public std::enable_shared_from_this<state> {
  // (Defined first: its deduced return type is used below.)
  template <class F>
  auto on_strand(F f) {
    return asio::bind_executor(strand_, [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }
 public:
  state(session& s, std::string dir, std::string name, std::chrono::milliseconds tick, observer events)
      : session_(s),
        strand_(asio::make_strand(s.get_executor())),
        timer_(strand_),
        dir_(std::move(dir)),
        name_(std::move(name)),
        tick_(tick),
        events_(std::move(events)) {}

  void begin() {
    later([](state& me) {
      me.session_.async_ensure_path(me.dir_, me.on_strand([](state&, std::error_code ec) {
        if (ec) log(log_level::warn, "worker: cannot create the records directory: " + ec.message());
      }));
      me.arm();
    });
  }

  void start(const key_lease& lease) {
    later([lease](state& me) {
      auto& k = me.keys_[lease.key];
      k.token = lease.token;
      k.session_id = lease.session_id;
      k.running = true;
      me.publish();
      if (!k.busy) me.write(lease.key);  // the first write at once: the new owner shows up
    });
  }

  void stop(const std::string& key, std::function<void()> stopped) {
    later([key, stopped = std::move(stopped)](state& me) mutable {
      auto it = me.keys_.find(key);
      if (it == me.keys_.end() || !it->second.busy) {
        if (it != me.keys_.end()) me.keys_.erase(it);
        me.publish();
        return stopped();
      }
      it->second.running = false;
      it->second.stopped.push_back(std::move(stopped));
      me.publish();
    });
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  std::vector<std::string> keys() const {
    std::lock_guard lock(mutex_);
    return running_copy_;
  }
  counters totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
  }

 private:
  struct key_state {
    std::int64_t token = 0;
    std::int64_t session_id = 0;  // the lease's: a write never lands on a later session
    bool running = false;
    bool busy = false;  // a read or write of its record is in flight
    std::vector<std::function<void()>> stopped;
  };

  template <class F>
  void later(F f) {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (!self->is_closed()) f(*self);
    });
  }
  bool is_closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  void arm() {
    timer_.expires_after(tick_);
    timer_.async_wait(on_strand([](state& me, const std::error_code& ec) {
      if (ec || me.is_closed()) return;
      for (auto& [key, k] : me.keys_)
        if (k.running && !k.busy) me.write(key);
      me.arm();
    }));
  }

  void write(const std::string& key) {
    auto& k = keys_.at(key);
    k.busy = true;
    auto path = key_records::path_of(dir_, key);
    session_.async_get(path, on_strand([key, path](state& me, std::error_code ec, node n) {
      auto it = me.keys_.find(key);
      if (it == me.keys_.end()) return;
      if (ec == errc::no_node) return me.create(key, path);
      if (ec) return me.done(key, outcome::error);
      auto current = decode_record(n.data).value_or(record{});
      auto token = it->second.token;
      if (current.token > token) {
        if (me.events_.refused && !me.is_closed()) me.events_.refused(key, token, current.token);
        return me.done(key, outcome::refused);
      }
      record next{current.value + 1, me.name_, token};
      me.session_.async_set(path, encode_record(next), n.stat.version, on_session{it->second.session_id},
                            me.on_strand([key, next](state& self, std::error_code e, stat) {
                              self.finish_write(key, e, next);
                            }));
    }));
  }

  void create(const std::string& key, const std::string& path) {
    auto& k = keys_.at(key);
    record first{1, name_, k.token};
    // Bound to the lease's session too (a multi of one create takes on_session).
    session_.async_multi({op::create{path, encode_record(first), create_options{}}}, on_session{k.session_id},
                         on_strand([key, first](state& me, std::error_code ec, std::vector<operation_result>) {
                           me.finish_write(key, ec == errc::node_exists ? errc::bad_version : ec, first);
                         }));
  }

  void finish_write(const std::string& key, std::error_code ec, const record& written) {
    if (ec == errc::bad_version) return done(key, outcome::conflict);
    if (ec) {
      if (ec == errc::no_node) session_.async_ensure_path(dir_, on_strand([](state&, std::error_code) {}));
      return done(key, outcome::error);
    }
    if (events_.accepted && !is_closed()) events_.accepted(key, written.value, written.token);
    done(key, outcome::accepted);
  }

  enum class outcome { accepted, refused, conflict, error };

  void done(const std::string& key, outcome result) {
    {
      std::lock_guard lock(mutex_);
      switch (result) {
        case outcome::accepted: ++totals_.accepted; break;
        case outcome::refused: ++totals_.refused; break;
        case outcome::conflict: ++totals_.conflicts; break;
        case outcome::error: ++totals_.errors; break;
      }
    }
    auto it = keys_.find(key);
    if (it == keys_.end()) return;
    it->second.busy = false;
    if (it->second.running) return;
    auto stopped = std::move(it->second.stopped);
    keys_.erase(it);
    for (auto& f : stopped) f();
  }

  void publish() {
    std::vector<std::string> running;
    for (auto& [key, k] : keys_)
      if (k.running) running.push_back(key);
    std::lock_guard lock(mutex_);
    running_copy_ = std::move(running);
  }

  session& session_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;
  std::string dir_;
  std::string name_;
  std::chrono::milliseconds tick_;
  observer events_;
  std::map<std::string, key_state> keys_;

  mutable std::mutex mutex_;
  bool closed_ = false;
  std::vector<std::string> running_copy_;
  counters totals_;
};

key_records::key_records(session& s, std::string dir, std::string worker_name, std::chrono::milliseconds tick,
                         observer events)
    : state_(std::make_shared<state>(s, std::move(dir), std::move(worker_name), tick, std::move(events))) {
  state_->begin();
}
key_records::~key_records() { close(); }
void key_records::start(const key_lease& lease) { state_->start(lease); }
void key_records::stop(const std::string& key, std::function<void()> stopped) { state_->stop(key, std::move(stopped)); }
std::vector<std::string> key_records::keys() const { return state_->keys(); }
key_records::counters key_records::totals() const { return state_->totals(); }
void key_records::close() { state_->close(); }

}  // namespace nominee::worker
