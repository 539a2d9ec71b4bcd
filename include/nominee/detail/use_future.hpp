#pragma once
// boost::asio::use_future for nominee's completion signatures.
//
// Asio 1.18 unwraps (error, value) into future<value> only when the error is
// a boost::system::error_code; nominee's are std::error_code, which would
// give a future<tuple<error_code, value>>. These specializations make
// use_future give future<value> (and future<void>) and throw on error; the
// exception names the path when the result carries one.

#include <exception>
#include <future>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_future.hpp>

#include <nominee/error.hpp>

namespace nominee::detail {

template <class T>
concept has_path = requires(const T& t) { t.path; };

template <class T>
std::exception_ptr future_error(const std::error_code& ec, const T& value) {
  if constexpr (has_path<T>)
    return std::make_exception_ptr(error(ec, "'" + value.path + "'"));
  else
    return std::make_exception_ptr(error(ec, "nominee"));
}

template <class T>
struct future_handler {
  std::shared_ptr<std::promise<T>> promise = std::make_shared<std::promise<T>>();

  template <class Allocator>
  explicit future_handler(const boost::asio::use_future_t<Allocator>&) {}

  void operator()(std::error_code ec, T value) {
    if (ec)
      promise->set_exception(future_error(ec, value));
    else
      promise->set_value(std::move(value));
  }
};

template <>
struct future_handler<void> {
  std::shared_ptr<std::promise<void>> promise = std::make_shared<std::promise<void>>();

  template <class Allocator>
  explicit future_handler(const boost::asio::use_future_t<Allocator>&) {}

  void operator()(std::error_code ec) {
    if (ec)
      promise->set_exception(std::make_exception_ptr(error(ec, "nominee")));
    else
      promise->set_value();
  }
};

}  // namespace nominee::detail

template <class Allocator, class T>
class boost::asio::async_result<boost::asio::use_future_t<Allocator>, void(std::error_code, T)> {
 public:
  using completion_handler_type = nominee::detail::future_handler<T>;
  using return_type = std::future<T>;
  explicit async_result(completion_handler_type& h) : future_(h.promise->get_future()) {}
  return_type get() { return std::move(future_); }

 private:
  return_type future_;
};

template <class Allocator>
class boost::asio::async_result<boost::asio::use_future_t<Allocator>, void(std::error_code)> {
 public:
  using completion_handler_type = nominee::detail::future_handler<void>;
  using return_type = std::future<void>;
  explicit async_result(completion_handler_type& h) : future_(h.promise->get_future()) {}
  return_type get() { return std::move(future_); }

 private:
  return_type future_;
};
