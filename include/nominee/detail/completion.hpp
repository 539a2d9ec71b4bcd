#pragma once
// A type-erased, move-only completion handler that finishes on the handler's
// own executor. It is what lets the public templates (any completion token)
// sit on top of a compiled core that never sees the handler's type, and what
// keeps user code off the ZooKeeper C client's completion thread.

#include <memory>
#include <type_traits>
#include <utility>

#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

namespace nominee::detail {

// Keeps an executor from running out of work while a request is in
// ZooKeeper's hands: new-style executors (any_io_executor, strands of them)
// by preferring outstanding_work.tracked, old-style ones by a work guard.
template <class Executor, bool new_style = boost::asio::execution::is_executor<Executor>::value>
class tracked_work {
 public:
  explicit tracked_work(const Executor& e)
      : executor_(boost::asio::prefer(e, boost::asio::execution::outstanding_work.tracked)) {}
  const auto& executor() const { return *executor_; }
  void reset() { executor_.reset(); }

 private:
  std::optional<std::decay_t<decltype(boost::asio::prefer(
      std::declval<const Executor&>(), boost::asio::execution::outstanding_work.tracked))>>
      executor_;
};

template <class Executor>
class tracked_work<Executor, false> {
 public:
  explicit tracked_work(const Executor& e) : guard_(e) {}
  Executor executor() const { return guard_.get_executor(); }
  void reset() { guard_.reset(); }

 private:
  boost::asio::executor_work_guard<Executor> guard_;
};

template <class... Args>
class completion {
 public:
  completion() = default;

  // fallback: the executor used when the handler has none of its own.
  template <class Handler>
  completion(Handler&& handler, const boost::asio::any_io_executor& fallback)
      : impl_(std::make_unique<model<std::decay_t<Handler>>>(std::forward<Handler>(handler),
                                                               fallback)) {}

  explicit operator bool() const noexcept { return impl_ != nullptr; }

  // Posts the handler with these arguments to its executor. Call at most
  // once, from any thread; it never runs the handler inline.
  void operator()(Args... args) {
    auto self = std::move(impl_);
    self->post(std::move(args)...);
  }

 private:
  struct interface {
    virtual ~interface() = default;
    virtual void post(Args&&... args) = 0;
  };

  template <class Handler>
  struct model final : interface {
    using executor_type =
        boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>;

    model(Handler&& h, const boost::asio::any_io_executor& fallback)
        : work(boost::asio::get_associated_executor(h, fallback)), handler(std::move(h)) {}

    void post(Args&&... args) override {
      boost::asio::post(work.executor(), [h = std::move(handler), ... a = std::move(args)]() mutable {
        std::move(h)(std::move(a)...);
      });
      work.reset();
    }

    tracked_work<executor_type> work;
    Handler handler;
  };

  std::unique_ptr<interface> impl_;
};

}  // namespace nominee::detail
