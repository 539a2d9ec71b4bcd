#pragma once
// Who owns which work key: a pure function of (key, members with affinity),
// so every member computes the same answer without talking to the others.
//
// Weighted rendezvous hashing: owner(key) is the member with the highest
// score affinity / -log2(h(key, member)), h uniform in (0,1). A member with
// affinity 0 owns nothing.
//
// The score is computed in integers only (a fixed-point log2 by repeated
// squaring, compared by 128-bit cross-multiplication): std::log may differ
// by an ulp between libm builds, and in a mixed fleet a key whose two best
// scores differ by less would be claimed by two members, or by none. Each member's share is proportional to its
// affinity, and a join, leave or affinity change moves only the keys whose
// best score changed hands: no other key moves.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nominee::detail {

struct weighted_member {
  std::string id;
  std::int64_t affinity = 0;
};

// A stable 64-bit hash (the same on every platform and in every process).
std::uint64_t stable_hash(std::string_view data, std::uint64_t seed = 0) noexcept;

// A score, exactly: affinity / (distance / 2^rendezvous_fraction_bits),
// distance = -log2(h) in fixed point (>= 1). The default is below every
// score of a member with affinity > 0.
inline constexpr int rendezvous_fraction_bits = 40;
struct rendezvous_score {
  std::int64_t affinity = 0;
  std::uint64_t distance = 1;
};
__extension__ using rendezvous_wide = unsigned __int128;
inline bool operator>(const rendezvous_score& a, const rendezvous_score& b) noexcept {
  return static_cast<rendezvous_wide>(a.affinity) * b.distance > static_cast<rendezvous_wide>(b.affinity) * a.distance;
}
inline bool operator==(const rendezvous_score& a, const rendezvous_score& b) noexcept {
  return static_cast<rendezvous_wide>(a.affinity) * b.distance == static_cast<rendezvous_wide>(b.affinity) * a.distance;
}

// -log2(x / 2^54) for x in [1, 2^54), in fixed point with
// rendezvous_fraction_bits fraction bits, truncated; at least 1.
std::uint64_t rendezvous_distance(std::uint64_t x) noexcept;

// The member's rendezvous score for a key, from the two stable hashes
// (key_hash = stable_hash(key), member_hash = stable_hash(id, 1)). Higher wins.
rendezvous_score score_of(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity) noexcept;
// Whether score_of(key_hash, member_hash, affinity) is surely below `best`,
// decided without the logarithm (the cost of a score): most members of a
// large fleet are far behind a key's leader, so most scores need not be
// computed. Never true when the score could reach `best`: skipping by it
// changes no answer (assignment_table_test checks against owner_of).
bool rendezvous_score_below(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity,
                            const rendezvous_score& best) noexcept;
// Whether (score, id) beats (best_score, best_id): ties go to the smaller id.
inline bool outranks(const rendezvous_score& score, const std::string& id, const rendezvous_score& best_score,
                     const std::string& best_id) noexcept {
  return score > best_score || (score == best_score && id < best_id);
}

// The member that owns key, or nullopt when no member has affinity > 0.
std::optional<std::string> owner_of(std::string_view key, const std::vector<weighted_member>& members);

// Keys grouped by owner; keys nobody can own (no member with affinity > 0)
// are left out.
std::map<std::string, std::vector<std::string>> assign(const std::vector<std::string>& keys,
                                                        const std::vector<weighted_member>& members);

}  // namespace nominee::detail
