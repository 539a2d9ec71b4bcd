#include "assignment.hpp"

#include <algorithm>
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

// h in (0, 1) as x / 2^54: 53 random bits, shifted off zero (x is odd).
std::uint64_t unit_numerator(std::uint64_t h) noexcept { return ((h >> 11) << 1) | 1; }

// floor(1.44 * 2^40): below log2(e) = 1.4427, for the bound in
// rendezvous_score_below.
constexpr std::uint64_t log2e_below = 1583296743997ULL;

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

namespace {

constexpr std::uint64_t one_q63 = std::uint64_t{1} << 63;

// log2(m) for m in [1, 2) (Q1.63), bit by bit: m is squared, and each
// squaring that reaches 2 is a one bit (then halved). Exact integer steps,
// truncated: used only to fill the tables below, once.
std::uint64_t log2_bitwise_q63(std::uint64_t m) noexcept {
  std::uint64_t fraction = 0;
  for (int i = 0; i < 63; ++i) {
    rendezvous_wide square = static_cast<rendezvous_wide>(m) * m;  // Q2.126
    fraction <<= 1;
    if (square >> 127) {
      fraction |= 1;
      m = static_cast<std::uint64_t>(square >> 64);
    } else {
      m = static_cast<std::uint64_t>(square >> 63);
    }
  }
  return fraction;
}

// Two table levels of 256 steps each: level one divides the mantissa by
// 1 + i/2^8, level two by 1 + j/2^16, and what is left, 1 + t with
// t < 2^-16, takes two terms of the series log2(1 + t) = (t - t^2/2 + ...) * log2(e).
struct log2_tables {
  std::uint64_t log1[256], inv1[256], log2[256], inv2[256];
  log2_tables() noexcept {
    for (int i = 0; i < 256; ++i) {
      std::uint64_t c1 = one_q63 + (static_cast<std::uint64_t>(i) << 55);
      std::uint64_t c2 = one_q63 + (static_cast<std::uint64_t>(i) << 47);
      log1[i] = log2_bitwise_q63(c1);
      log2[i] = log2_bitwise_q63(c2);
      inv1[i] = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(1) << 126) / c1);
      inv2[i] = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(1) << 126) / c2);
    }
  }
};

const log2_tables& tables() noexcept {
  static const log2_tables t;
  return t;
}

constexpr std::uint64_t log2e_q63 = 13306513097844322491ULL;  // floor(log2(e) * 2^63)

// m / c for c = 1 + (a table step), by its reciprocal; never below 1.
std::uint64_t divide_q63(std::uint64_t m, std::uint64_t inverse) noexcept {
  auto r = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(m) * inverse) >> 63);
  return r < one_q63 ? one_q63 : r;
}

}  // namespace

// Integer multiplies, shifts and table reads only: the same bits on every
// machine and with every compiler.
std::uint64_t rendezvous_distance(std::uint64_t x) noexcept {
  const auto& t = tables();
  int msb = 63 - __builtin_clzll(x);
  std::uint64_t m = x << (63 - msb);  // Q1.63, in [1, 2)
  auto i = (m >> 55) & 0xff;
  std::uint64_t r = divide_q63(m, t.inv1[i]);  // in [1, 1 + 2^-8)
  auto j = ((r - one_q63) >> 47) & 0xff;
  std::uint64_t r2 = divide_q63(r, t.inv2[j]);  // in [1, 1 + 2^-16), give or take the last bits
  std::uint64_t small = r2 - one_q63;
  auto linear = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(small) * log2e_q63) >> 63);
  auto square = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(small) * small) >> 63);
  auto quadratic = static_cast<std::uint64_t>((static_cast<rendezvous_wide>(square) * log2e_q63) >> 64);
  std::uint64_t fraction_q63 = t.log1[i] + t.log2[j] + linear - quadratic;
  std::uint64_t fraction = fraction_q63 >> (63 - rendezvous_fraction_bits);
  std::uint64_t log2x = (static_cast<std::uint64_t>(msb) << rendezvous_fraction_bits) + fraction;
  std::uint64_t top = std::uint64_t{54} << rendezvous_fraction_bits;
  return log2x >= top ? 1 : std::max<std::uint64_t>(top - log2x, 1);
}

rendezvous_score score_of(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity) noexcept {
  return {affinity, rendezvous_distance(unit_numerator(mix(key_hash ^ member_hash)))};
}

bool rendezvous_score_below(std::uint64_t key_hash, std::uint64_t member_hash, std::int64_t affinity,
                            const rendezvous_score& best) noexcept {
  std::uint64_t x = unit_numerator(mix(key_hash ^ member_hash));
  // -log2(u) >= log2(e) * (1 - u) on (0, 1): a lower bound on the distance
  // without the logarithm, less a few units for the truncation of the
  // computed one. Below it, affinity / distance cannot reach best.
  rendezvous_wide one_minus_u = (std::uint64_t{1} << 54) - x;  // * 2^-54
  auto floor_distance = static_cast<std::uint64_t>((one_minus_u * log2e_below) >> 54);
  if (floor_distance <= 4096) return false;
  floor_distance -= 4096;  // the computed distance is within a few units of the true one
  return static_cast<rendezvous_wide>(affinity) * best.distance <
         static_cast<rendezvous_wide>(best.affinity) * floor_distance;
}

std::optional<std::string> owner_of(std::string_view key, const std::vector<weighted_member>& members) {
  const weighted_member* best = nullptr;
  rendezvous_score best_score;
  auto key_hash = stable_hash(key);
  for (auto& m : members) {
    if (m.affinity <= 0) continue;
    auto score = score_of(key_hash, stable_hash(m.id, 1), m.affinity);
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
