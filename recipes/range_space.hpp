#pragma once
// Opening a range space: its nodes are created if absent (config and
// cursor in one multi, so a cursor never exists without its config), then
// the stored config is read. Shared by consumers and coordinators.

#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/ranges.hpp>

#include "range_layout.hpp"
#include "session_link.hpp"

namespace nominee::detail {

using range_strand = boost::asio::strand<boost::asio::any_io_executor>;

// done(ec, stored) runs on `strand`. A stored config that differs from
// `wanted` wins; the difference is logged as a warning. A stored config
// that cannot be read gives errc::invalid_json.
void open_range_space(const session_link& link, const range_strand& strand, const range_paths& paths,
                      const range_space_config& wanted,
                      std::function<void(std::error_code, std::optional<range_space_config>)> done);

// async_multi through the session link (dropped once the session is gone).
template <class Handler>
void range_multi(const session_link& link, std::vector<operation> ops, Handler&& h) {
  if (auto c = link.lock())
    start_multi(c, std::move(ops),
                completion<std::error_code, std::vector<operation_result>>(std::forward<Handler>(h), c->executor()));
}

}  // namespace nominee::detail
