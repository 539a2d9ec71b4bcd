#pragma once
// The churn tests' choice of the next fault: cards drawn from a shuffled
// deck, not a die. A die can roll one kind of fault too rarely in a short
// run (CI once saw a single leave in 19 faults, and the test, rightly,
// refused to call that run a test of leaves). A deck keeps the order
// random, from the test's seed, while every full deck holds each kind its
// given number of times, so a test can count on a minimum after a known
// number of draws (deck_size() per full deck).
#include <algorithm>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace nominee::testing {

template <class Kind>
class fault_deck {
 public:
  // cards: each kind with how many times it appears in one deck (>= 1).
  fault_deck(const std::vector<std::pair<Kind, int>>& cards, std::mt19937_64& random) : random_(random) {
    for (auto& [kind, count] : cards) {
      if (count < 1) throw std::invalid_argument("fault_deck: every kind needs at least one card");
      full_.insert(full_.end(), static_cast<std::size_t>(count), kind);
    }
    if (full_.empty()) throw std::invalid_argument("fault_deck: no cards");
  }

  // The next card; a freshly shuffled deck when the last one is used up.
  Kind draw() {
    if (left_.empty()) {
      left_ = full_;
      std::shuffle(left_.begin(), left_.end(), random_);
    }
    Kind next = left_.back();
    left_.pop_back();
    return next;
  }

  std::size_t deck_size() const { return full_.size(); }

 private:
  std::mt19937_64& random_;
  std::vector<Kind> full_;
  std::vector<Kind> left_;
};

}  // namespace nominee::testing
