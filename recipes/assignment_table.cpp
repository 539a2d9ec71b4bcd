#include "assignment_table.hpp"

#include <algorithm>

namespace nominee::detail {

namespace {
template <class Node>
std::optional<std::string> name_of(const Node* owner) {
  if (!owner) return std::nullopt;
  return owner->first;
}
}  // namespace

bool assignment_table::excluded(const std::string& key, const std::string& member) const {
  auto it = exclusions_.find(key);
  return it != exclusions_.end() && it->second.count(member) != 0;
}

void assignment_table::consider(const std::string& key, key_entry& entry, const std::string& id,
                                const member_entry& m) const {
  if (m.affinity <= 0 || excluded(key, id)) return;
  double score = rendezvous_score(entry.hash, m.hash, m.affinity);
  if (!entry.owner || outranks(score, id, entry.score, entry.owner->first)) {
    entry.owner = &*members_.find(id);
    entry.score = score;
  }
}

void assignment_table::rescore(const std::string& key, key_entry& entry) const {
  entry.owner = nullptr;
  entry.score = 0;
  for (auto& [id, m] : members_) consider(key, entry, id, m);
}

// In place, with no copy of the keys: at 100,000 keys each of 50 members
// pays this on every membership change, and copying every key and owner
// name cost 36 ms a call (1.8 s of CPU per change across a 50-member fleet
// on one machine); this pass costs a few.
std::vector<assignment_table::change> assignment_table::set_members(const std::vector<weighted_member>& members) {
  std::map<std::string, member_entry> next;
  for (auto& m : members) next[m.id] = {std::max<std::int64_t>(0, m.affinity), stable_hash(m.id, 1), false};

  // Members whose score for every key went up (joined, affinity raised) and
  // those whose went down (left, affinity lowered). A member that left stays
  // in members_, with affinity 0 (never chosen), until the pass is over:
  // owner pointers into it stay valid while it is needed.
  std::vector<const member_node*> raised;
  std::vector<std::string> gone;
  bool any_lowered = false;
  for (auto& [id, m] : members_) {
    if (next.count(id)) continue;
    if (m.affinity > 0) m.lowered = any_lowered = true;
    m.affinity = 0;
    gone.push_back(id);
  }
  for (auto& [id, m] : next) {
    auto [it, added] = members_.try_emplace(id, m);
    std::int64_t before = added ? 0 : it->second.affinity;
    it->second.affinity = m.affinity;
    it->second.hash = m.hash;
    it->second.lowered = m.affinity < before;
    any_lowered = any_lowered || it->second.lowered;
    if (m.affinity > before) raised.push_back(&*it);
  }

  std::vector<change> out;
  if (raised.empty() && !any_lowered) {
    for (auto& id : gone) members_.erase(id);
    return out;
  }
  for (auto& [key, entry] : keys_) {
    const member_node* old_owner = entry.owner;
    if (!old_owner || old_owner->second.lowered) {
      rescore(key, entry);
    } else {
      // The owner's own score is unchanged; only a raised member can beat it.
      for (auto* m : raised) consider(key, entry, m->first, m->second);
    }
    if (entry.owner != old_owner) out.push_back({key, name_of(old_owner), name_of(entry.owner)});
  }
  for (auto& [id, m] : members_) m.lowered = false;
  for (auto& id : gone) members_.erase(id);
  return out;
}

std::vector<assignment_table::change> assignment_table::add_keys(const std::vector<std::string>& keys) {
  std::vector<change> out;
  for (auto& key : keys) {
    if (keys_.count(key)) continue;
    key_entry entry{stable_hash(key), nullptr, 0};
    rescore(key, entry);
    auto owner = name_of(entry.owner);
    keys_.emplace(key, entry);
    if (owner) out.push_back({key, std::nullopt, owner});
  }
  return out;
}

std::vector<assignment_table::change> assignment_table::remove_keys(const std::vector<std::string>& keys) {
  std::vector<change> out;
  for (auto& key : keys) {
    auto it = keys_.find(key);
    if (it == keys_.end()) continue;
    auto owner = name_of(it->second.owner);
    keys_.erase(it);
    if (owner) out.push_back({key, owner, std::nullopt});
  }
  return out;
}

std::vector<assignment_table::change> assignment_table::set_exclusions(
    const std::map<std::string, std::set<std::string>>& exclusions) {
  std::set<std::string> touched;
  for (auto& [key, members] : exclusions)
    if (exclusions_.count(key) == 0 || exclusions_.at(key) != members) touched.insert(key);
  for (auto& [key, members] : exclusions_)
    if (!exclusions.count(key)) touched.insert(key);
  exclusions_ = exclusions;
  std::vector<change> out;
  for (auto& key : touched) {
    auto it = keys_.find(key);
    if (it == keys_.end()) continue;
    auto before = name_of(it->second.owner);
    rescore(key, it->second);
    auto after = name_of(it->second.owner);
    if (before != after) out.push_back({key, before, after});
  }
  return out;
}

std::optional<std::string> assignment_table::owner(const std::string& key) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  return name_of(it->second.owner);
}

std::vector<std::string> assignment_table::keys_of(const std::string& member) const {
  std::vector<std::string> out;
  for (auto& [key, entry] : keys_)
    if (entry.owner && entry.owner->first == member) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t assignment_table::eligible_members() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(members_.begin(), members_.end(), [](auto& m) { return m.second.affinity > 0; }));
}

std::vector<std::string> assignment_table::keys() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (auto& [key, entry] : keys_) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nominee::detail
