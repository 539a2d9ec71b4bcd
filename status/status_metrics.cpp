// GET /metrics: the snapshot as Prometheus text (format 0.0.4).
#include <array>

#include "prometheus_text.hpp"
#include "status_snapshot.hpp"

namespace nominee::status_detail {

namespace {

constexpr std::array all_states{session_state::connecting, session_state::connected,   session_state::suspended,
                                session_state::reconnected, session_state::expired,    session_state::closed,
                                session_state::auth_failed};

void write_session(prometheus_writer& w, const session_snapshot& s) {
  w.family("nominee_session_state", "gauge", "The ZooKeeper session's state: 1 for the current state, 0 for the others.");
  for (auto state : all_states)
    w.sample("nominee_session_state", {{"state", to_string(state)}}, std::uint64_t{state == s.state});
  w.family("nominee_session_connected", "gauge", "1 while the session is connected (or reconnected), else 0.");
  bool up = s.state == session_state::connected || s.state == session_state::reconnected;
  w.sample("nominee_session_connected", {}, std::uint64_t{up});
  w.family("nominee_session_timeout_seconds", "gauge", "The session timeout the server granted.");
  w.sample("nominee_session_timeout_seconds", {}, static_cast<double>(s.negotiated_timeout.count()) / 1000.0);
  w.family("nominee_zookeeper_operation_seconds", "histogram",
           "Each ZooKeeper operation from its call to its completion, retries included.");
  w.histogram_seconds("nominee_zookeeper_operation_seconds", {}, s.statistics.operations);
  w.family("nominee_zookeeper_operations_failed_total", "counter", "ZooKeeper operations that completed with an error.");
  w.sample("nominee_zookeeper_operations_failed_total", {}, s.statistics.failed);
  w.family("nominee_orphan_nodes_removed_total", "counter",
           "Ephemeral nodes of this session that no recipe held, deleted by the session's orphan audit.");
  w.sample("nominee_orphan_nodes_removed_total", {}, s.statistics.orphans_removed);
}

void write_roles(prometheus_writer& w, const std::vector<role_snapshot>& roles) {
  std::uint64_t held = 0;
  for (auto& r : roles) held += r.held_by_me;
  w.family("nominee_roles_held", "gauge", "Roles this process holds.");
  w.sample("nominee_roles_held", {}, held);
  if (roles.empty()) return;
  w.family("nominee_role_held", "gauge", "1 if this process holds the role, else 0.");
  for (auto& r : roles) w.sample("nominee_role_held", {{"role", r.role}}, std::uint64_t{r.held_by_me});
}

// One family per divider statistic, a sample per prefix.
template <class Value>
void per_divider(prometheus_writer& w, const std::vector<divider_snapshot>& dividers, std::string_view name,
                 std::string_view type, std::string_view help, Value value) {
  w.family(name, type, help);
  for (auto& d : dividers) w.sample(name, {{"prefix", d.prefix}}, value(d.status));
}

void write_dividers(prometheus_writer& w, const std::vector<divider_snapshot>& dividers) {
  if (dividers.empty()) return;
  using st = divider_status;
  auto u = [](std::size_t n) { return static_cast<std::uint64_t>(n); };
  per_divider(w, dividers, "nominee_keys", "gauge", "Work keys under the prefix.",
              [&](const st& s) { return u(s.keys); });
  per_divider(w, dividers, "nominee_keys_owned", "gauge", "Keys this member owns and runs.",
              [&](const st& s) { return u(s.assigned); });
  per_divider(w, dividers, "nominee_keys_acquiring", "gauge", "Keys given to this member, waiting for the old owner.",
              [&](const st& s) { return u(s.acquiring); });
  per_divider(w, dividers, "nominee_keys_stopping", "gauge", "Keys this member was told to stop, confirm pending.",
              [&](const st& s) { return u(s.stopping); });
  per_divider(w, dividers, "nominee_divider_members", "gauge", "Members of the prefix.",
              [&](const st& s) { return u(s.members); });
  per_divider(w, dividers, "nominee_divider_members_with_work", "gauge", "Members of the prefix with affinity > 0.",
              [&](const st& s) { return u(s.members_with_work); });
  per_divider(w, dividers, "nominee_divider_no_eligible_member", "gauge",
              "1 when keys exist but no member has affinity > 0 (they stay unowned).",
              [&](const st& s) { return std::uint64_t{s.no_eligible_member}; });
  per_divider(w, dividers, "nominee_rebalances_total", "counter", "Assignment recomputations that changed this member's keys.",
              [&](const st& s) { return s.rebalances; });
  per_divider(w, dividers, "nominee_keys_moved_total", "counter", "Keys the assignment moved from one member to another.",
              [&](const st& s) { return s.keys_moved; });
  per_divider(w, dividers, "nominee_key_starts_total", "counter", "Keys started on this member (on_start).",
              [&](const st& s) { return s.starts; });
  per_divider(w, dividers, "nominee_key_stops_total", "counter", "Keys stopped on this member (on_stop).",
              [&](const st& s) { return s.stops; });
  per_divider(w, dividers, "nominee_stop_timeouts_total", "counter", "Stops not confirmed within stop_timeout.",
              [&](const st& s) { return s.stop_timeouts; });

  w.family("nominee_stop_confirm_seconds", "histogram", "From on_stop to confirm_stop, per key.");
  for (auto& d : dividers) w.histogram_seconds("nominee_stop_confirm_seconds", {{"prefix", d.prefix}}, d.status.stop_confirm_latency);

  w.family("nominee_divider_member_keys", "gauge", "Keys the assignment gives each member of the prefix.");
  for (auto& d : dividers)
    for (auto& [id, share] : d.status.shares)
      w.sample("nominee_divider_member_keys", {{"prefix", d.prefix}, {"member", id}}, u(share.keys));
  w.family("nominee_divider_member_affinity", "gauge", "Each member's affinity (its share of the work).");
  for (auto& d : dividers)
    for (auto& [id, share] : d.status.shares)
      w.sample("nominee_divider_member_affinity", {{"prefix", d.prefix}, {"member", id}},
               static_cast<double>(share.affinity));
}

}  // namespace

std::string render_metrics(const status_snapshot& s) {
  prometheus_writer w;
  w.family("nominee_member_info", "gauge", "The member id this process serves under (always 1).");
  w.sample("nominee_member_info", {{"member", s.member}}, std::uint64_t{1});
  if (s.session) write_session(w, *s.session);
  write_roles(w, s.roles);
  write_dividers(w, s.dividers);
  return w.take();
}

}  // namespace nominee::status_detail
