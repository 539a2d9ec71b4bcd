#include <nominee/election.hpp>

#include <mutex>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <nominee/log.hpp>
#include <nominee/watched_children.hpp>

#include "contender.hpp"
#include "node_data.hpp"
#include "recipe_paths.hpp"
#include "session_link.hpp"
#include "user_callback.hpp"
#include "validate.hpp"
#include "watch_guard.hpp"

namespace nominee {

std::string_view to_string(revoke_reason reason) noexcept {
  switch (reason) {
    case revoke_reason::resigned: return "resigned";
    case revoke_reason::suspended: return "suspended";
    case revoke_reason::expired: return "expired";
    case revoke_reason::node_deleted: return "node_deleted";
    case revoke_reason::closed: return "closed";
  }
  return "?";
}

namespace {

revoke_reason to_revoke_reason(detail::contender_loss loss) {
  switch (loss) {
    case detail::contender_loss::resigned: return revoke_reason::resigned;
    case detail::contender_loss::suspended: return revoke_reason::suspended;
    case detail::contender_loss::expired: return revoke_reason::expired;
    case detail::contender_loss::node_deleted: return revoke_reason::node_deleted;
    case detail::contender_loss::closed: return revoke_reason::closed;
  }
  return revoke_reason::closed;
}

}  // namespace

struct candidate::state {
  std::mutex mutex;
  std::optional<term> current;
  callbacks user;
};

candidate::candidate(session& s, election_options options, callbacks on_events)
    : options_(std::move(options)), state_(std::make_shared<state>()) {
  detail::require_root("election_options.root", options_.root);
  detail::require_name("election_options.role", options_.role);
  detail::require_name("election_options.member_id", options_.member_id);
  if (detail::check_text(options_.endpoint))
    throw error(errc::invalid_option, detail::describe("election_options.endpoint", options_.endpoint));
  state_->user = std::move(on_events);

  detail::contender_options c;
  c.directory = detail::under(options_.root, "roles", options_.role);
  c.name = "latch-";
  c.data = detail::encode(detail::candidate_data{options_.member_id, options_.endpoint});
  c.renominate_after_expiry = options_.renominate_after_expiry;

  detail::contender_callbacks cb;
  cb.acquired = [st = state_](std::int64_t token, const std::string& node) {
    term t{token, std::chrono::system_clock::now(), node};
    {
      std::lock_guard lock(st->mutex);
      st->current = t;
    }
    detail::call_user("on_elected", st->user.on_elected, t);
  };
  cb.lost = [st = state_](detail::contender_loss loss) {
    {
      std::lock_guard lock(st->mutex);
      st->current.reset();
    }
    detail::call_user("on_revoked", st->user.on_revoked, to_revoke_reason(loss));
  };
  contender_ = std::make_shared<detail::contender>(s, std::move(c), std::move(cb),
                                                   boost::asio::make_strand(s.get_executor()));
  contender_->start();
}

candidate::~candidate() { contender_->stop(); }

void candidate::resign() { contender_->resign(); }
void candidate::stand() { contender_->stand(); }
bool candidate::is_holder() const { return contender_->holding(); }

std::optional<term> candidate::current_term() const {
  if (!contender_->holding()) return std::nullopt;  // a lapsed lease ends the term at once
  std::lock_guard lock(state_->mutex);
  return state_->current;
}

std::uint64_t candidate::predecessor_events() const { return contender_->predecessor_events(); }

// --- role_observer ----------------------------------------------------------

namespace detail {

// Lists the role's candidates; whenever the lowest one changes, reads its
// data (candidate nodes never change their data) and reports the holder.
class role_observer_impl : public std::enable_shared_from_this<role_observer_impl> {
 public:
  role_observer_impl(session& s, std::string directory, role_observer::callback on_change)
      : link_(s), directory_(std::move(directory)), on_change_(std::move(on_change)),
        strand_(boost::asio::make_strand(s.get_executor())) {}

  void start(session& s) {
    children_ = std::make_unique<watched_children>(
        s, directory_,
        [weak = weak_from_this()](const children_change& change) {
          // Deferred, not nested: the cache calls us holding its gate, and we
          // destroy the cache holding ours (one lock order: ours -> its).
          auto self = weak.lock();
          if (!self) return;
          boost::asio::post(self->strand_, [weak, change] {
            if (auto me = weak.lock()) me->gate_.run([&] { me->on_children(change); });
          });
        },
        strand_);
  }

  void stop() {
    gate_.close();
    children_.reset();
  }

  std::optional<role_holder> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  void on_children(const children_change& change) {
    auto order = sorted_by_sequence(change.current);
    std::string lowest = order.empty() ? std::string() : order.front();
    if (lowest == lowest_) return;
    lowest_ = lowest;
    if (lowest.empty()) return publish(std::nullopt);
    auto path = directory_ + "/" + lowest;
    link_.get(path, {},
              boost::asio::bind_executor(strand_, [weak = weak_from_this(), lowest, path](std::error_code ec, node n) {
                auto self = weak.lock();
                if (!self) return;
                self->gate_.run([&] {
                  if (lowest != self->lowest_) return;  // superseded
                  if (ec) return;  // gone already: the listing will move on
                  auto data = decode_candidate(n.data).value_or(candidate_data{});
                  self->publish(role_holder{data.member_id, data.endpoint, n.stat.czxid, path});
                });
              }));
  }

  void publish(std::optional<role_holder> holder) {
    {
      std::lock_guard lock(mutex_);
      current_ = holder;
    }
    call_user("role_observer callback", on_change_, holder);
  }

  session_link link_;
  std::string directory_;
  role_observer::callback on_change_;
  watched_children::strand_type strand_;
  callback_gate gate_;
  std::unique_ptr<watched_children> children_;
  std::string lowest_;
  mutable std::mutex mutex_;
  std::optional<role_holder> current_;
};

}  // namespace detail

role_observer::role_observer(session& s, std::string root, std::string role, callback on_change) {
  detail::require_root("role_observer root", root);
  detail::require_name("role_observer role", role);
  impl_ = std::make_shared<detail::role_observer_impl>(s, detail::under(root, "roles", role), std::move(on_change));
  impl_->start(s);
}

role_observer::~role_observer() { impl_->stop(); }

std::optional<role_holder> role_observer::current() const { return impl_->current(); }

}  // namespace nominee
