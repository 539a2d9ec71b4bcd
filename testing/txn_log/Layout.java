package nominee.testing;

/**
 * Where nominee's nodes are, spelled as recipes/work_layout.hpp and the
 * sample worker (samples/worker/worker.cpp, records_dir()) spell them:
 *
 *   owner node:  <root>/work/<prefix>/owners/<shard>/<encoded key>
 *   record:      <records>/<encoded key>   (the worker's records_dir(): <root>/records/<prefix>)
 *
 * A record and its key's owner node have the same last segment (both are
 * encode_key(key)). The shard is a hash of the key that this checker does
 * not recompute: a key has an owner node in one shard only, so the owner
 * node of a record is whichever node named like it is live under the
 * records' prefix's owners/.
 *
 * Without a root, any path that ends in work/<prefix>/owners/<shard>/<key>
 * is an owner node: the checker then needs no flag to check every
 * divider's owner nodes, whatever root each uses.
 */
final class Layout {
  final String root;           // null: any root; "" for "/"; else "/a/b" without a trailing slash
  final String recordsDir;     // null: no record checks
  final String recordsPrefix;  // the encoded divider prefix the records belong to
  final String recordsRoot;    // the root of the records' owner nodes (null: any)

  Layout(String root, String recordsDir, String recordsPrefix) {
    this.root = trim(root);
    this.recordsDir = recordsDir == null ? null : trim(recordsDir);
    if (this.recordsDir != null && recordsPrefix == null) recordsPrefix = name(this.recordsDir);
    this.recordsPrefix = recordsPrefix;
    // records_dir() is <root>/records/<prefix>: its owner nodes are under
    // the same root, whatever --root says about other dividers.
    String derived = null;
    if (this.recordsDir != null) {
      String tail = "/records/" + recordsPrefix;
      if (this.recordsDir.endsWith(tail)) derived = this.recordsDir.substring(0, this.recordsDir.length() - tail.length());
    }
    this.recordsRoot = derived != null ? derived : this.root;
  }

  private static String trim(String path) {
    if (path == null) return null;
    return "/".equals(path) ? "" : path;
  }

  /** Is path an owner node: <root>/work/<prefix>/owners/<shard>/<key>? */
  boolean isOwnerNode(String path) {
    return ownerPrefix(path, root) != null;
  }

  /** The encoded divider prefix of an owner node's path under root (null: any), or null if it is not one. */
  static String ownerPrefix(String path, String root) {
    String[] s = path.split("/", -1);
    int n = s.length;
    // s[0] is the empty segment before the leading '/'.
    if (n < 6 || !"work".equals(s[n - 5]) || !"owners".equals(s[n - 3])) return null;
    for (int i = n - 4; i < n; ++i)
      if (s[i].isEmpty()) return null;
    if (root != null) {
      String base = root + "/work/";
      if (!path.startsWith(base) || path.substring(base.length()).split("/", -1).length != 4) return null;
    }
    return s[n - 4];
  }

  /** The last segment of a path. */
  static String name(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** Is path a record: a direct child of the records directory? */
  boolean isRecord(String path) {
    if (recordsDir == null || !path.startsWith(recordsDir + "/")) return false;
    String name = path.substring(recordsDir.length() + 1);
    return !name.isEmpty() && name.indexOf('/') < 0;
  }

  /** Is path an owner node of the records' prefix? */
  boolean isRecordsOwnerNode(String path) {
    return recordsPrefix != null && recordsPrefix.equals(ownerPrefix(path, recordsRoot));
  }
}
