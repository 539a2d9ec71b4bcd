#include <nominee/session.hpp>

#include <future>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "session_core.hpp"
#include "session_operations.hpp"
#include "validate.hpp"

namespace nominee {

namespace detail {
struct owned_io {
  boost::asio::io_context context;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{context.get_executor()};
  std::thread thread;
};
}  // namespace detail

session::session(executor_type executor, session_options options)
    : core_(detail::session_core::create(std::move(executor), std::move(options))) {}

session::session(session_options options) : io_(std::make_shared<detail::owned_io>()) {
  core_ = detail::session_core::create(io_->context.get_executor(), std::move(options));
  io_->thread = std::thread([io = io_] { io->context.run(); });
}

session::~session() {
  core_->close();
  if (!io_) return;
  // Let everything already queued (replies, handlers, the `closed` event)
  // run, then stop: run() returns once no work is left.
  io_->work.reset();
  if (io_->thread.get_id() == std::this_thread::get_id())
    io_->thread.detach();  // destroyed from one of our own handlers: the thread frees io_ when run() returns
  else
    io_->thread.join();
}

session::executor_type session::get_executor() const noexcept { return core_->executor(); }
const session_options& session::options() const noexcept { return core_->options(); }
session_state session::state() const { return core_->state(); }
std::int64_t session::session_id() const { return core_->session_id(); }
std::string session::session_password() const { return core_->session_password(); }
std::chrono::milliseconds session::negotiated_timeout() const { return core_->negotiated_timeout(); }
session_statistics session::statistics() const { return core_->statistics(); }
std::string session::current_server() const { return core_->current_server(); }
session::listener_id session::add_listener(listener on_event) { return core_->add_listener(std::move(on_event)); }
void session::remove_listener(listener_id id) { core_->remove_listener(id); }
void session::close() { core_->close(); }

void session::wait_connected(std::chrono::milliseconds timeout) {
  std::promise<std::error_code> promise;
  auto result = promise.get_future();
  core_->wait_connected(timeout, detail::completion<std::error_code>(
                                     [&promise](std::error_code ec) { promise.set_value(ec); }, get_executor()));
  // The waiter's own timer bounds this; the margin covers a busy executor.
  if (result.wait_for(timeout + std::chrono::seconds(5)) != std::future_status::ready)
    throw error(errc::deadline_exceeded,
                detail::describe("ZooKeeper at", options().hosts) +
                    ": no answer, and the session's executor is not running (is it this thread?)");
  if (auto ec = result.get())
    throw error(ec, "could not connect to " + detail::describe("ZooKeeper at", options().hosts) + " within " +
                        std::to_string(timeout.count()) + " ms");
}

void session::start_wait_connected(std::chrono::milliseconds timeout, detail::completion<std::error_code> done) {
  core_->wait_connected(timeout, std::move(done));
}
void session::start_create(std::string path, std::string data, create_options options, bool protect,
                           created_completion done) {
  detail::start_create(core_, std::move(path), std::move(data), std::move(options), protect, std::move(done));
}
void session::start_get(std::string path, watcher on_change, node_completion done) {
  detail::start_get(core_, std::move(path), std::move(on_change), std::move(done));
}
void session::start_exists(std::string path, watcher on_change, exists_completion done) {
  detail::start_exists(core_, std::move(path), std::move(on_change), std::move(done));
}
void session::start_get_children(std::string path, watcher on_change, children_completion done) {
  detail::start_get_children(core_, std::move(path), std::move(on_change), std::move(done));
}
void session::start_set(std::string path, std::string data, std::int32_t version, std::int64_t on_session,
                        stat_completion done) {
  detail::start_set(core_, std::move(path), std::move(data), version, std::move(done), {{}, on_session});
}
void session::start_remove(std::string path, std::int32_t version, detail::completion<std::error_code> done) {
  detail::start_remove(core_, std::move(path), version, std::move(done));
}
void session::start_multi(std::vector<operation> operations, std::int64_t on_session, multi_completion done) {
  detail::start_multi(core_, std::move(operations), std::move(done), {{}, on_session});
}
void session::start_ensure_path(std::string path, detail::completion<std::error_code> done) {
  detail::start_ensure_path(core_, std::move(path), std::move(done));
}

}  // namespace nominee
