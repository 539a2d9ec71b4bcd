#include <nominee/lock.hpp>

#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>

#include "contender.hpp"
#include "node_data.hpp"
#include "recipe_paths.hpp"
#include "validate.hpp"

namespace nominee {
namespace detail {

namespace asio = boost::asio;

// Bookkeeping under a mutex (callers and the contender's strand both touch
// it); user callbacks and completions are called outside it.
class lock_core : public std::enable_shared_from_this<lock_core> {
 public:
  lock_core(session& s, lock_options options, distributed_lock::lost_callback on_lost)
      : executor_(s.get_executor()),
        strand_(asio::make_strand(s.get_executor())),
        timer_(strand_),
        on_lost_(std::move(on_lost)) {
    contender_options c;
    c.directory = under(options.root, "locks", options.name);
    c.name = "lock-";
    c.data = encode(candidate_data{options.owner_id, ""});
    c.renominate_after_expiry = false;
    contender_ = std::make_shared<contender>(s, std::move(c), contender_callbacks{}, strand_);
  }

  void start() {
    // Set the callbacks now that weak_from_this() works.
    contender_callbacks cb;
    cb.acquired = [weak = weak_from_this()](std::int64_t token, const std::string&) {
      if (auto self = weak.lock()) self->on_acquired(token);
    };
    cb.lost = [weak = weak_from_this()](contender_loss loss) {
      if (auto self = weak.lock()) self->on_lost(loss);
    };
    contender_->set_callbacks(std::move(cb));
    contender_->start_listening();
  }

  const asio::any_io_executor& executor() const { return executor_; }

  void lock(std::optional<std::chrono::milliseconds> timeout, distributed_lock::completion done) {
    std::unique_lock lock(mutex_);
    if (held_) {
      // The token is good only while the contender still holds: after a
      // freeze the lease may have lapsed before its revoke has run.
      auto token = token_;
      bool holding = contender_->holding();
      lock.unlock();
      if (!holding) return done(errc::lease_lapsed, 0);
      return done({}, token);
    }
    if (waiter_) {
      lock.unlock();
      return done(errc::in_progress, 0);
    }
    waiter_ = std::move(done);
    auto attempt = ++attempt_;
    lock.unlock();
    if (timeout) {
      asio::post(strand_, [self = shared_from_this(), t = *timeout, attempt] {
        self->timer_.expires_after(t);
        self->timer_.async_wait([weak = std::weak_ptr<lock_core>(self), attempt](const std::error_code& ec) {
          if (auto me = weak.lock(); me && !ec) me->give_up(attempt, errc::deadline_exceeded);
        });
      });
    }
    contender_->stand();
  }

  void unlock() {
    std::unique_lock lock(mutex_);
    held_ = false;
    auto waiter = std::move(waiter_);
    waiter_ = {};
    ++attempt_;
    lock.unlock();
    contender_->resign();
    cancel_timer();
    if (waiter) waiter(std::make_error_code(std::errc::operation_canceled), 0);
  }

  void stop() {
    std::unique_lock lock(mutex_);
    held_ = false;
    auto waiter = std::move(waiter_);
    waiter_ = {};
    lock.unlock();
    contender_->stop();
    cancel_timer();
    if (waiter) waiter(std::make_error_code(std::errc::operation_canceled), 0);
  }

  // The contender's lease is consulted too: a lapsed lease ends the hold
  // before its timer has had a chance to run.
  bool held() const {
    std::lock_guard lock(mutex_);
    return held_ && contender_->holding();
  }
  std::optional<std::int64_t> token() const {
    std::lock_guard lock(mutex_);
    return held_ && contender_->holding() ? std::optional<std::int64_t>(token_) : std::nullopt;
  }

 private:
  void cancel_timer() {
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  void on_acquired(std::int64_t token) {
    std::unique_lock lock(mutex_);
    auto waiter = std::move(waiter_);
    waiter_ = {};
    if (!waiter) {
      // Nobody is asking (any more): do not hold a lock nobody uses.
      lock.unlock();
      contender_->resign();
      return;
    }
    held_ = true;
    token_ = token;
    lock.unlock();
    timer_.cancel();  // on the strand: the contender's callbacks run there
    waiter({}, token);
  }

  void on_lost(contender_loss loss) {
    std::unique_lock lock(mutex_);
    bool was_held = held_;
    held_ = false;
    lock.unlock();
    if (loss == contender_loss::resigned || !was_held) return;
    contender_->resign();  // leave the queue: the caller decides whether to lock again
    if (!on_lost_) return;
    auto reason = loss == contender_loss::suspended      ? revoke_reason::suspended
                  : loss == contender_loss::expired      ? revoke_reason::expired
                  : loss == contender_loss::node_deleted ? revoke_reason::node_deleted
                                                         : revoke_reason::closed;
    try {
      on_lost_(reason);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("lock on_lost threw: ") + e.what());
    }
  }

  void give_up(std::uint64_t attempt, errc why) {
    std::unique_lock lock(mutex_);
    if (attempt != attempt_ || !waiter_) return;
    auto waiter = std::move(waiter_);
    waiter_ = {};
    lock.unlock();
    contender_->resign();
    waiter(why, 0);
  }

  asio::any_io_executor executor_;
  contender::strand_type strand_;
  asio::steady_timer timer_;  // strand only
  distributed_lock::lost_callback on_lost_;
  std::shared_ptr<contender> contender_;

  mutable std::mutex mutex_;
  bool held_ = false;
  std::int64_t token_ = 0;
  distributed_lock::completion waiter_;
  std::uint64_t attempt_ = 0;
};

}  // namespace detail

distributed_lock::distributed_lock(session& s, lock_options options, lost_callback on_lost) {
  detail::require_root("lock_options.root", options.root);
  detail::require_name("lock_options.name", options.name);
  if (detail::check_text(options.owner_id))
    throw error(errc::invalid_option, detail::describe("lock_options.owner_id", options.owner_id));
  core_ = std::make_shared<detail::lock_core>(s, std::move(options), std::move(on_lost));
  core_->start();
}

distributed_lock::~distributed_lock() { core_->stop(); }

boost::asio::any_io_executor distributed_lock::executor() const { return core_->executor(); }

void distributed_lock::start_lock(std::optional<std::chrono::milliseconds> timeout, completion done) {
  if (timeout && timeout->count() < 0) return done(errc::invalid_option, 0);
  core_->lock(timeout, std::move(done));
}

void distributed_lock::unlock() { core_->unlock(); }
bool distributed_lock::held() const { return core_->held(); }
std::optional<std::int64_t> distributed_lock::token() const { return core_->token(); }

}  // namespace nominee
