#pragma once
// Divider members in the test process, for the admin API and CLI suites:
// each member has a session of its own (as a real process would), confirms
// every stop at once (posted, not inline), and remembers the fencing token
// of every key it started.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <nominee/divider.hpp>
#include <nominee/divider_admin.hpp>

// The assignment is a pure function: the tests compute the owners too.
#include "assignment.hpp"
#include "test_support.hpp"

namespace nominee::testing {

class fleet_member {
 public:
  fleet_member(const std::string& hosts, divider_options options)
      : session_(connect_session(hosts)), id_(options.member_id), state_(std::make_shared<state>()) {
    divider::callbacks events;
    events.on_start = [st = state_](const key_lease& lease) {
      std::lock_guard lock(st->mutex);
      st->tokens[lease.key] = lease.token;
    };
    events.on_stop = [st = state_, executor = session_->get_executor()](const std::string& key, stop_reason) {
      boost::asio::post(executor, [st, key] {
        std::lock_guard lock(st->mutex);
        if (st->target) st->target->confirm_stop(key);
      });
    };
    divider_ = std::make_unique<divider>(*session_, std::move(options), std::move(events));
    std::lock_guard lock(state_->mutex);
    state_->target = divider_.get();
  }
  ~fleet_member() {
    stop();
    session_.reset();
  }
  fleet_member(const fleet_member&) = delete;
  fleet_member& operator=(const fleet_member&) = delete;

  // The divider goes (its nodes with it); the session stays until the end.
  void stop() {
    {
      std::lock_guard lock(state_->mutex);
      state_->target = nullptr;
    }
    divider_.reset();
  }

  const std::string& id() const { return id_; }
  divider& d() { return *divider_; }
  session& s() { return *session_; }
  // The token of this member's latest start of key (0: never started here).
  std::int64_t token(const std::string& key) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->tokens.find(key);
    return it == state_->tokens.end() ? 0 : it->second;
  }

 private:
  struct state {
    std::mutex mutex;
    divider* target = nullptr;
    std::map<std::string, std::int64_t> tokens;
  };
  std::unique_ptr<session> session_;
  std::string id_;
  std::shared_ptr<state> state_;
  std::unique_ptr<divider> divider_;
};

// key -> member
using ownership = std::map<std::string, std::string>;

class fleet {
 public:
  fleet(std::string hosts, std::string root, std::string prefix)
      : hosts_(std::move(hosts)), root_(std::move(root)), prefix_(std::move(prefix)) {}
  ~fleet() {
    // Every divider first, so the ones left do not take over each one's keys.
    for (auto& m : members_) m->stop();
    members_.clear();
  }

  fleet_member& add(const std::string& id, std::int64_t affinity) {
    divider_options o;
    o.root = root_;
    o.prefix = prefix_;
    o.member_id = id;
    o.affinity = affinity;
    o.endpoint = id + ":7000";
    // The members converge on their watches, not on the periodic re-check.
    o.reconcile_interval = std::chrono::minutes(5);
    members_.push_back(std::make_unique<fleet_member>(hosts_, std::move(o)));
    auto started = members_.back()->d().async_start(boost::asio::use_future);
    get_within(started, std::chrono::seconds(60));
    return *members_.back();
  }

  fleet_member& get(const std::string& id) {
    for (auto& m : members_)
      if (m->id() == id) return *m;
    throw std::runtime_error("no member " + id);
  }
  std::vector<std::unique_ptr<fleet_member>>& members() { return members_; }

  // What the members run now, from their assigned(); a key on two members
  // lands in doubles.
  ownership running(std::vector<std::string>* doubles = nullptr) {
    ownership out;
    for (auto& m : members_)
      for (auto& key : m->d().assigned()) {
        auto [it, fresh] = out.try_emplace(key, m->id());
        if (!fresh && doubles) doubles->push_back(key + " on " + it->second + " and " + m->id());
      }
    return out;
  }

  // The owners the assignment gives keys with these affinities (no releases).
  static ownership expected(const std::vector<std::string>& keys,
                            const std::map<std::string, std::int64_t>& affinities) {
    std::vector<detail::weighted_member> members;
    for (auto& [id, a] : affinities) members.push_back({id, a});
    ownership out;
    for (auto& key : keys)
      if (auto owner = detail::owner_of(key, members)) out[key] = *owner;
    return out;
  }

  // Waits until the members run exactly `want`.
  bool converges_to(const ownership& want, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return wait_until([&] { return running() == want; }, timeout);
  }

  // The keys every member's view holds (status().keys).
  bool all_see_keys(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return wait_until(
        [&] {
          for (auto& m : members_)
            if (m->d().status().keys != n) return false;
          return true;
        },
        timeout);
  }

  // Waits until every member sees n members with the given affinities.
  bool all_see_members(const std::map<std::string, std::int64_t>& affinities,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return wait_until(
        [&] {
          for (auto& m : members_) {
            auto st = m->d().status();
            if (st.shares.size() != affinities.size()) return false;
            for (auto& [id, a] : affinities) {
              auto it = st.shares.find(id);
              if (it == st.shares.end() || it->second.affinity != a) return false;
            }
          }
          return true;
        },
        timeout);
  }

  std::string describe() {
    std::string out;
    for (auto& m : members_) {
      auto st = m->d().status();
      out += "\n  " + m->id() + ": assigned " + std::to_string(st.assigned) + ", keys " + std::to_string(st.keys) +
             ", members " + std::to_string(st.members) + ", acquiring " + std::to_string(st.acquiring) +
             ", stopping " + std::to_string(st.stopping) + ", affinity " + std::to_string(m->d().affinity());
    }
    return out;
  }

 private:
  std::string hosts_;
  std::string root_;
  std::string prefix_;
  std::vector<std::unique_ptr<fleet_member>> members_;
};

inline std::vector<std::string> numbered_keys(int from, int to) {
  std::vector<std::string> out;
  char buf[32];
  for (int i = from; i < to; ++i) {
    std::snprintf(buf, sizeof buf, "key-%04d", i);
    out.push_back(buf);
  }
  return out;
}

// The owners an assignment read shows (key -> owner), for keys with one.
inline ownership owners_of(const divider_assignment& a) {
  ownership out;
  for (auto& k : a.keys)
    if (k.owner) out[k.key] = *k.owner;
  return out;
}

// What the admin and CLI suites start from: the shared server, a fresh
// root, an admin on a session of its own, and an empty fleet on prefix_.
class admin_and_fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = shared_zookeeper().connect_string();
    root_ = unique_root();
    admin_session_ = connect_session(hosts_);
    admin_ = std::make_unique<divider_admin>(*admin_session_, root_, prefix_);
    fleet_ = std::make_unique<fleet>(hosts_, root_, prefix_);
  }
  void TearDown() override {
    fleet_.reset();
    admin_.reset();
    admin_session_.reset();
  }

  std::string hosts_;
  std::string root_;
  const std::string prefix_ = "jobs";
  std::unique_ptr<session> admin_session_;
  std::unique_ptr<divider_admin> admin_;
  std::unique_ptr<fleet> fleet_;
};

}  // namespace nominee::testing
