#pragma once
// Runs a user's callback so that whatever it throws is logged, not
// propagated into a strand (where it would end the io_context's run()).

#include <exception>
#include <string>
#include <utility>

#include <nominee/log.hpp>

namespace nominee::detail {

template <class F, class... Args>
void call_user(const char* what, const F& f, Args&&... args) {
  if (!f) return;
  try {
    f(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log(log_level::error, std::string(what) + " threw: " + e.what());
  } catch (...) {
    log(log_level::error, std::string(what) + " threw a non-exception");
  }
}

}  // namespace nominee::detail
