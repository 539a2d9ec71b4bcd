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

void assignment_table::consider(key_entry& entry, const std::string& id, const member_entry& m) const {
  if (m.affinity <= 0 || (entry.has_exclusions && excluded(entry.key, id))) return;
  if (entry.owner && rendezvous_score_below(entry.hash, m.hash, m.affinity, entry.score)) return;
  auto score = score_of(entry.hash, m.hash, m.affinity);
  if (!entry.owner || outranks(score, id, entry.score, entry.owner->first)) {
    entry.owner = &*members_.find(id);
    entry.score = score;
  }
}

void assignment_table::rescore(key_entry& entry) const {
  entry.owner = nullptr;
  entry.score = {};
  for (auto& [id, m] : members_) consider(entry, id, m);
}


// In place, with no copy of the keys: at 100,000 keys each of 50 members
// pays this on every membership change. Copying every key and owner name
// cost 36 ms a call, a walk over hash nodes 10 ms; this walk over the
// entry vector, with most scores ruled out without a logarithm, about 1.
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
  for (auto& entry : entries_) {
    const member_node* old_owner = entry.owner;
    if (!old_owner || old_owner->second.lowered) {
      rescore(entry);
    } else {
      // The owner's own score is unchanged; only a raised member can beat it.
      for (auto* m : raised) consider(entry, m->first, m->second);
    }
    if (entry.owner != old_owner) out.push_back({entry.key, name_of(old_owner), name_of(entry.owner)});
  }
  for (auto& [id, m] : members_) m.lowered = false;
  for (auto& id : gone) members_.erase(id);
  return out;
}

std::vector<assignment_table::change> assignment_table::add_keys(const std::vector<std::string>& keys) {
  std::vector<change> out;
  // A starting member adds a whole prefix, a shard at a time: grow by at
  // least doubling (an exact reserve per call would copy everything each time).
  if (auto needed = entries_.size() + keys.size(); needed > entries_.capacity()) {
    entries_.reserve(std::max(needed, 2 * entries_.capacity()));
    index_.reserve(std::max(needed, 2 * index_.size()));
  }
  for (auto& key : keys) {
    auto [at, added] = index_.try_emplace(key, entries_.size());
    if (!added) continue;
    auto& entry = entries_.emplace_back(key_entry{stable_hash(key), nullptr, {}, exclusions_.count(key) != 0, key});
    rescore(entry);
    if (entry.owner) out.push_back({key, std::nullopt, name_of(entry.owner)});
  }
  return out;
}

std::vector<assignment_table::change> assignment_table::remove_keys(const std::vector<std::string>& keys) {
  std::vector<change> out;
  for (auto& key : keys) {
    auto it = index_.find(key);
    if (it == index_.end()) continue;
    auto position = it->second;
    index_.erase(it);
    if (auto owner = name_of(entries_[position].owner)) out.push_back({key, owner, std::nullopt});
    // The last entry fills the hole.
    if (position + 1 != entries_.size()) {
      entries_[position] = std::move(entries_.back());
      index_[entries_[position].key] = position;
    }
    entries_.pop_back();
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
    auto it = index_.find(key);
    if (it == index_.end()) continue;
    auto& entry = entries_[it->second];
    entry.has_exclusions = exclusions_.count(key) != 0;
    auto before = name_of(entry.owner);
    rescore(entry);
    auto after = name_of(entry.owner);
    if (before != after) out.push_back({key, before, after});
  }
  return out;
}

std::optional<std::string> assignment_table::owner(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return name_of(entries_[it->second].owner);
}

std::vector<std::string> assignment_table::keys_of(const std::string& member) const {
  std::vector<std::string> out;
  for (auto& entry : entries_)
    if (entry.owner && entry.owner->first == member) out.push_back(entry.key);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t assignment_table::eligible_members() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(members_.begin(), members_.end(), [](auto& m) { return m.second.affinity > 0; }));
}

std::vector<std::string> assignment_table::keys() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (auto& entry : entries_) out.push_back(entry.key);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nominee::detail
