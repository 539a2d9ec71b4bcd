#pragma once
// The ephemeral nodes recipes made on a session, and who holds each.
//
// Clean-up belongs to the request, not to the recipe object that sent it.
// A recipe's create names a holder: a weak reference the recipe keeps
// alive exactly as long as it wants the nodes it makes. A create answered
// after its holder is gone deletes what it made; a node whose holder went
// later (its recipe closed before the reply reached the recipe's strand),
// or that its recipe released but could not delete yet, is found by the
// session's orphan audit and deleted. Either way the delete is an owned
// one (owned_removal): only while the node is provably the session's.
//
// Strand only (the session's strand). Entries go when the node is deleted
// through the session, or with the session that owned them.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace nominee::detail {

// Kept alive by a recipe for as long as it holds its nodes.
using node_holder = std::weak_ptr<const void>;

// True if h refers to some holder, alive or gone (default-constructed: none).
inline bool has_holder(const node_holder& h) {
  return h.owner_before(node_holder{}) || node_holder{}.owner_before(h);
}

// One ephemeral node of ours, as the server told us of it.
struct owned_node {
  std::string path;
  std::int64_t session_id = 0;  // its ephemeralOwner
  std::int64_t czxid = 0;       // 0: unknown (a multi's create without a set to tell the zxid)
};

class ephemeral_ledger {
 public:
  struct entry {
    std::int64_t session_id = 0;
    std::int64_t czxid = 0;
    node_holder holder;
    bool released = false;  // its recipe let it go; delete it whoever holds the reference
    bool removing = false;  // an owned removal is under way
  };

  void record(const std::string& path, entry e) { entries_[path] = std::move(e); }
  // An owned removal begins: the node is nobody's any more.
  void releasing(const owned_node& node) {
    if (auto it = entries_.find(node.path);
        it != entries_.end() && node.czxid != 0 && it->second.czxid != 0 && it->second.czxid != node.czxid)
      return;  // a newer node at that path: still held
    auto& e = entries_[node.path];
    if (e.session_id == 0) e.session_id = node.session_id;
    if (e.czxid == 0) e.czxid = node.czxid;
    e.released = true;
    e.removing = true;
  }
  // An owned removal gave up (the audit tries again) or found the node not ours.
  void removal_failed(const std::string& path) {
    if (auto it = entries_.find(path); it != entries_.end()) it->second.removing = false;
  }
  // The node at path was deleted through this session, or found gone.
  void erase(const std::string& path) { entries_.erase(path); }
  // That node is gone or not ours; a newer node at its path stays recorded.
  void erase(const owned_node& node) {
    auto it = entries_.find(node.path);
    if (it == entries_.end()) return;
    if (node.czxid == 0 || it->second.czxid == 0 || it->second.czxid == node.czxid) entries_.erase(it);
  }
  // The session ended: the server deleted its ephemeral nodes.
  void forget_session(std::int64_t session_id) {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.session_id == session_id ? entries_.erase(it) : std::next(it);
  }
  struct orphan {
    owned_node node;
    bool abandoned;  // its holder went without releasing it (else: a released node's removal to retry)
  };
  // Nodes no recipe holds and no removal is deleting; marks them removing.
  std::vector<orphan> take_orphans() {
    std::vector<orphan> out;
    for (auto& [path, e] : entries_) {
      if (e.removing || (!e.released && !e.holder.expired())) continue;
      out.push_back({{path, e.session_id, e.czxid}, !e.released});
      e.removing = true;
      e.released = true;
    }
    return out;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace nominee::detail
