#include "assignment.hpp"

#include <cmath>
#include <limits>

namespace nominee::detail {

namespace {

// splitmix64's finalizer: full avalanche, so nearby inputs score independently.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// h in (0, 1): 53 random bits, shifted off zero.
double unit_interval(std::uint64_t h) noexcept {
  return (static_cast<double>(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

}  // namespace

std::uint64_t stable_hash(std::string_view data, std::uint64_t seed) noexcept {
  // FNV-1a over the bytes, then mixed: simple, stable, and (with the mix)
  // well spread for rendezvous scoring.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed + 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix(h ^ data.size());
}

double rendezvous_score(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity) noexcept {
  double u = unit_interval(mix(key_hash ^ member_hash));
  return -static_cast<double>(affinity) / std::log(u);  // ln(u) < 0: score > 0
}

bool rendezvous_score_below(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity,
                            double best) noexcept {
  double u = unit_interval(mix(key_hash ^ member_hash));
  // -ln(u) >= 1 - u on (0, 1), so affinity / (1 - u) bounds the score from
  // above; compared multiplied out (a division costs about what the
  // logarithm does). The margin covers the rounding of both sides (a few
  // ulps; 1e-9 is millions of times that).
  return static_cast<double>(affinity) * (1.0 + 1e-9) < best * (1.0 - u);
}

std::optional<std::string> owner_of(std::string_view key, const std::vector<weighted_member>& members) {
  const weighted_member* best = nullptr;
  double best_score = -std::numeric_limits<double>::infinity();
  auto key_hash = stable_hash(key);
  for (auto& m : members) {
    if (m.affinity <= 0) continue;
    double score = rendezvous_score(key_hash, stable_hash(m.id, 1), m.affinity);
    // Ties (vanishingly rare) go to the smaller id, so every member agrees.
    if (!best || outranks(score, m.id, best_score, best->id)) {
      best = &m;
      best_score = score;
    }
  }
  if (!best) return std::nullopt;
  return best->id;
}

std::map<std::string, std::vector<std::string>> assign(const std::vector<std::string>& keys,
                                                        const std::vector<weighted_member>& members) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto& key : keys)
    if (auto owner = owner_of(key, members)) out[*owner].push_back(key);
  return out;
}

}  // namespace nominee::detail
