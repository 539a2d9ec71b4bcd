#include <nominee/space_split.hpp>

#include "range_keys.hpp"
#include "space_split_core.hpp"
#include "validate.hpp"

namespace nominee {

space_split::space_split(session& s, space_split_options options, range_function on_range) {
  if (auto p = detail::check_space_split_options(options); p.error) throw error(p.error, detail::describe(p.field, p.value));
  if (!on_range) throw error(errc::invalid_option, "space_split: the range function is required");
  core_ = std::make_shared<detail::space_split_core>(s, std::move(options), std::move(on_range));
  core_->open();
}

space_split::~space_split() { core_->close(); }

std::vector<space_range> space_split::split(std::int64_t lo, std::int64_t hi, std::int64_t range_size) {
  detail::space_definition space{lo, hi, range_size};
  if (auto p = detail::check_space(space, "space_split"); p.error) throw error(p.error, detail::describe(p.field, p.value));
  return detail::split_space(space);
}

boost::asio::any_io_executor space_split::executor() const { return core_->executor(); }
const space_split_options& space_split::options() const noexcept { return core_->options(); }
void space_split::start(completion done) { core_->start(std::move(done)); }
void space_split::seed(completion done) { core_->seed(std::move(done)); }
void space_split::stop(completion done) { core_->stop(std::move(done)); }
void space_split::abandon(completion done) { core_->abandon(std::move(done)); }
void space_split::progress(progress_completion done) { core_->progress(std::move(done)); }
void space_split::wait_finished(progress_completion done) { core_->wait_finished(std::move(done)); }
void space_split::statuses(statuses_completion done) { core_->statuses(std::move(done)); }
std::set<std::string> space_split::running() const { return core_->running(); }
space_split_stats space_split::stats() const { return core_->stats(); }
divider_status space_split::members() const { return core_->members(); }

}  // namespace nominee
