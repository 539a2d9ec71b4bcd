#include <nominee/divider.hpp>

#include "divider_core.hpp"
#include "key_codec.hpp"
#include "recipe_paths.hpp"
#include "validate.hpp"
#include "work_keys.hpp"

namespace nominee {

static_assert(max_work_key_bytes == detail::max_key_bytes);

std::string_view to_string(stop_reason reason) noexcept {
  switch (reason) {
    case stop_reason::moved: return "moved";
    case stop_reason::released: return "released";
    case stop_reason::removed: return "removed";
    case stop_reason::flushing: return "flushing";
    case stop_reason::cancelled: return "cancelled";
    case stop_reason::suspended: return "suspended";
    case stop_reason::expired: return "expired";
    case stop_reason::lost: return "lost";
    case stop_reason::lease_lapsed: return "lease_lapsed";
  }
  return "?";
}

namespace {

void require_positive(std::string_view field, std::chrono::milliseconds value, bool zero_ok = false) {
  if (value.count() < 0 || (!zero_ok && value.count() == 0))
    throw error(errc::invalid_option, detail::describe(field, std::to_string(value.count()) + " ms"));
}

}  // namespace

divider::divider(session& s, divider_options options, callbacks on_events) {
  auto base = detail::work_base(options.root, options.prefix);  // checks root and prefix
  detail::require_name("divider_options.member_id", options.member_id);
  if (options.affinity < 0)
    throw error(errc::invalid_option, detail::describe("divider_options.affinity", std::to_string(options.affinity)));
  if (detail::check_text(options.endpoint))
    throw error(errc::invalid_option, detail::describe("divider_options.endpoint", options.endpoint));
  require_positive("divider_options.coalesce_window", options.coalesce_window, true);
  require_positive("divider_options.reconcile_interval", options.reconcile_interval);
  require_positive("divider_options.stop_timeout", options.stop_timeout);
  require_positive("divider_options.fetch_interval", options.fetch_interval);
  if (!on_events.on_start || !on_events.on_stop)
    throw error(errc::invalid_option, "divider callbacks: on_start and on_stop are both required");
  core_ = std::make_shared<detail::divider_core>(s, std::move(options), std::move(on_events), std::move(base));
}

divider::~divider() { core_->close(); }

boost::asio::any_io_executor divider::executor() const { return core_->executor(); }
const divider_options& divider::options() const noexcept { return core_->options(); }

void divider::start(completion done) { core_->start(std::move(done)); }
void divider::flush(completion done) { core_->flush(std::move(done), false); }
void divider::cancel(completion done) { core_->cancel(std::move(done)); }
void divider::flush_and_cancel(completion done) { core_->flush(std::move(done), true); }
std::error_code divider::confirm_stop(const std::string& key) { return core_->confirm_stop(key); }
void divider::release(std::string key, bool exclude, completion done) {
  core_->release(std::move(key), exclude, std::move(done));
}
std::set<std::string> divider::assigned() const { return core_->assigned(); }
bool divider::still_valid(const key_lease& lease) const { return core_->still_valid(lease); }
divider_status divider::status() const { return core_->status(); }
std::int64_t divider::affinity() const { return core_->affinity(); }
void divider::set_affinity(std::int64_t affinity, completion done) { core_->set_affinity(affinity, std::move(done)); }
void divider::alter_affinity(std::int64_t delta, detail::completion<std::error_code, std::int64_t> done) {
  core_->alter_affinity(delta, std::move(done));
}
void divider::change_work(std::vector<std::string> keys, bool remove, completion done) {
  core_->change_work(std::move(keys), remove, std::move(done));
}

}  // namespace nominee
