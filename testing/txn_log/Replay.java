package nominee.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.jute.Record;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.server.ByteBufferInputStream;
import org.apache.zookeeper.txn.CloseSessionTxn;
import org.apache.zookeeper.txn.CreateContainerTxn;
import org.apache.zookeeper.txn.CreateTTLTxn;
import org.apache.zookeeper.txn.CreateTxn;
import org.apache.zookeeper.txn.DeleteTxn;
import org.apache.zookeeper.txn.MultiTxn;
import org.apache.zookeeper.txn.SetDataTxn;
import org.apache.zookeeper.txn.Txn;
import org.apache.zookeeper.txn.TxnHeader;

/**
 * Replays txns in zxid order into a model of the znodes the log created
 * (path, creating zxid, ephemeral owner) and checks, as each txn applies:
 *
 *  (a) a delete of an ephemeral node is by the session that owns it;
 *  (b) a delete of a divider owner node is by its owning session, or it is
 *      the server removing that session's ephemerals at its closeSession;
 *  (c) with a records layout, every create or set of a worker record is by
 *      the session whose owner node for that key is live at that zxid.
 *
 * The model mirrors DataTree.processTxn: a txn header of type error changed
 * nothing, a multi either applied all its sub-txns in order or (when they
 * are ErrorTxns) none, and closeSession deletes every ephemeral the session
 * still owns. Only what the log shows is modelled: nodes created before
 * the oldest log file are unknown, and their deletes are notes.
 */
final class Replay {

  /** One live znode the log created. */
  private static final class Node {
    final long czxid;
    final long owner;  // the session of an ephemeral; 0 for any other node

    Node(long czxid, long owner) {
      this.czxid = czxid;
      this.owner = owner;
    }
  }

  /** A broken rule, at one zxid. */
  static final class Violation {
    final long zxid;
    final String kind;
    final long session;  // who did it
    final long owner;    // whose node it was (0: nobody's)
    final long created;  // the zxid that created that node (0: none)
    final String path;

    Violation(long zxid, String kind, long session, Node node, String path) {
      this.zxid = zxid;
      this.kind = kind;
      this.session = session;
      this.owner = node == null ? 0 : node.owner;
      this.created = node == null ? 0 : node.czxid;
      this.path = path;
    }

    // The path goes last: it is the one field that may hold spaces.
    @Override
    public String toString() {
      return "violation zxid=" + hex(zxid) + " kind=" + kind + " session=" + hex(session) + " owner=" + hex(owner)
          + " created=" + hex(created) + " path=" + path;
    }
  }

  // What was read and checked; printed as the summary line.
  long txns, failedTxns, multis, sessionsCreated, creates, ephemeralCreates, deletes, setDatas;
  long sessionCloses, expiries, expiredEphemerals, ownerNodeCreates, ownerNodeDeletesChecked;
  long ownerNodeExpiryDeletes, recordWritesChecked, recordDeletes, unknownDeletes, unknownOwnerDeletes;
  long firstZxid = -1, lastZxid = -1;

  final List<Violation> violations = new ArrayList<>();
  private final List<String> notes;
  private final Layout layout;
  private final Map<String, Node> nodes = new HashMap<>();
  private final Map<Long, Set<String>> ephemeralsBySession = new HashMap<>();
  // The records' prefix's live owner nodes by key name: a key's owner node
  // lives in one shard, so its name alone finds it.
  private final Map<String, String> ownerNodeByKey = new HashMap<>();

  // --trace: every change to a path containing this is printed, so a
  // violation's story can be read off the log (null: none).
  private final String trace;

  Replay(Layout layout, List<String> notes, String trace) {
    this.layout = layout;
    this.notes = notes;
    this.trace = trace;
  }

  private void trace(long zxid, long session, String what, String path) {
    if (trace != null && path.contains(trace))
      System.out.println("trace zxid=" + hex(zxid) + " session=" + hex(session) + " " + what + " path=" + path);
  }

  static String hex(long value) {
    return "0x" + Long.toHexString(value);
  }

  void apply(TxnHeader header, Record txn) throws IOException {
    ++txns;
    final long zxid = header.getZxid();
    if (firstZxid < 0) firstZxid = zxid;
    lastZxid = zxid;
    final long session = header.getClientId();
    switch (header.getType()) {
      case OpCode.error:
        ++failedTxns;  // the request failed; nothing changed
        return;
      case OpCode.createSession:
        ++sessionsCreated;
        return;
      case OpCode.closeSession:
        closeSession(header, txn);
        return;
      case OpCode.multi:
        ++multis;
        multi(header, (MultiTxn) txn);
        return;
      default:
        change(zxid, session, header.getType(), txn);
    }
  }

  private void multi(TxnHeader header, MultiTxn multi) throws IOException {
    List<Record> parts = new ArrayList<>();
    List<Integer> types = new ArrayList<>();
    for (Txn part : multi.getTxns()) {
      // A multi that failed is logged with every sub-txn an ErrorTxn.
      if (part.getType() == OpCode.error) {
        ++failedTxns;
        return;
      }
      Record record = body(part.getType());
      if (record == null) continue;  // check: reads only
      ByteBufferInputStream.byteBuffer2Record(ByteBuffer.wrap(part.getData()), record);
      parts.add(record);
      types.add(part.getType());
    }
    for (int i = 0; i < parts.size(); ++i) change(header.getZxid(), header.getClientId(), types.get(i), parts.get(i));
  }

  /** An empty record for a sub-txn type, as DataTree.processTxn picks it; null for one that changes nothing. */
  private static Record body(int type) {
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
        return new CreateTxn();
      case OpCode.createTTL:
        return new CreateTTLTxn();
      case OpCode.createContainer:
        return new CreateContainerTxn();
      case OpCode.delete:
      case OpCode.deleteContainer:
        return new DeleteTxn();
      case OpCode.setData:
        return new SetDataTxn();
      default:
        return null;
    }
  }

  private void change(long zxid, long session, int type, Record txn) {
    if (txn instanceof CreateTxn) {
      CreateTxn c = (CreateTxn) txn;
      create(zxid, session, c.getPath(), c.getEphemeral() ? session : 0);
    } else if (txn instanceof CreateTTLTxn) {
      create(zxid, session, ((CreateTTLTxn) txn).getPath(), 0);  // TTL nodes belong to no session
    } else if (txn instanceof CreateContainerTxn) {
      create(zxid, session, ((CreateContainerTxn) txn).getPath(), 0);
    } else if (txn instanceof DeleteTxn) {
      delete(zxid, session, ((DeleteTxn) txn).getPath());
    } else if (txn instanceof SetDataTxn) {
      ++setDatas;
      String path = ((SetDataTxn) txn).getPath();
      trace(zxid, session, "set", path);
      if (layout.isRecord(path)) checkRecordWrite(zxid, session, path);
    }
    // Anything else (setACL, reconfig, check, ...) creates and deletes nothing.
  }

  private void create(long zxid, long session, String path, long owner) {
    ++creates;
    trace(zxid, session, owner != 0 ? "create-ephemeral" : "create", path);
    if (nodes.containsKey(path))
      notes.add("zxid " + hex(zxid) + " creates " + path + ", which the replay thought existed (a delete it did not see)");
    forget(path);
    nodes.put(path, new Node(zxid, owner));
    if (owner != 0) {
      ++ephemeralCreates;
      ephemeralsBySession.computeIfAbsent(owner, k -> new LinkedHashSet<>()).add(path);
    }
    if (layout.isOwnerNode(path)) {
      ++ownerNodeCreates;
      if (layout.isRecordsOwnerNode(path)) ownerNodeByKey.put(Layout.name(path), path);
    }
    if (layout.isRecord(path)) checkRecordWrite(zxid, session, path);
  }

  private void delete(long zxid, long session, String path) {
    ++deletes;
    trace(zxid, session, "delete", path);
    final boolean ownerNode = layout.isOwnerNode(path);
    if (layout.isRecord(path)) ++recordDeletes;
    Node node = nodes.get(path);
    if (node == null) {
      ++unknownDeletes;
      if (ownerNode) ++unknownOwnerDeletes;
      notes.add("zxid " + hex(zxid) + ": session " + hex(session) + " deletes " + path
          + ", created before the oldest log (not checked)");
      return;
    }
    if (ownerNode) {
      ++ownerNodeDeletesChecked;
      if (node.owner == 0)
        violations.add(new Violation(zxid, "owner_node_not_ephemeral", session, node, path));
      else if (node.owner != session)
        violations.add(new Violation(zxid, "owner_node_deleted_by_other_session", session, node, path));
    } else if (node.owner != 0 && node.owner != session) {
      violations.add(new Violation(zxid, "ephemeral_deleted_by_other_session", session, node, path));
    }
    forget(path);
  }

  private void closeSession(TxnHeader header, Record txn) {
    ++sessionCloses;
    final long session = header.getClientId();
    // The server's own expiry submits closeSession with cxid 0; a client's
    // close carries its own (positive) xid.
    if (header.getCxid() == 0) ++expiries;
    Set<String> owned = ephemeralsBySession.remove(session);
    Set<String> removed = owned == null ? new TreeSet<>() : new TreeSet<>(owned);
    for (String path : removed) {
      trace(header.getZxid(), session, "closeSession-removes", path);
      ++expiredEphemerals;
      if (layout.isOwnerNode(path)) {
        ++ownerNodeDeletesChecked;
        ++ownerNodeExpiryDeletes;
      }
      nodes.remove(path);
      if (layout.isRecordsOwnerNode(path)) ownerNodeByKey.remove(Layout.name(path), path);
    }
    // Since 3.6 the txn lists the ephemerals the server deleted: where it
    // disagrees with the replay, the replay missed something.
    if (txn instanceof CloseSessionTxn) {
      List<String> listed = ((CloseSessionTxn) txn).getPaths2Delete();
      Set<String> serverSet = listed == null ? new TreeSet<>() : new TreeSet<>(listed);
      if (!serverSet.equals(removed)) {
        Set<String> unseen = new TreeSet<>(serverSet);
        unseen.removeAll(removed);
        Set<String> extra = new TreeSet<>(removed);
        extra.removeAll(serverSet);
        notes.add("zxid " + hex(header.getZxid()) + ": closeSession of " + hex(session) + " deleted " + unseen
            + " that the replay never saw created" + (extra.isEmpty() ? "" : ", and not " + extra));
        for (String path : unseen) {
          nodes.remove(path);
          if (layout.isOwnerNode(path)) ++unknownOwnerDeletes;
          if (layout.isRecordsOwnerNode(path)) ownerNodeByKey.remove(Layout.name(path), path);
        }
      }
    }
  }

  private void checkRecordWrite(long zxid, long session, String path) {
    ++recordWritesChecked;
    String ownerPath = ownerNodeByKey.get(Layout.name(path));
    Node owner = ownerPath == null ? null : nodes.get(ownerPath);
    if (owner == null)
      violations.add(new Violation(zxid, "record_written_without_owner_node", session, null, path));
    else if (owner.owner != session)
      violations.add(new Violation(zxid, "record_written_by_non_owner", session, owner, path));
  }

  /** Drops a node from the model (after a delete, or before a create replaces it). */
  private void forget(String path) {
    Node node = nodes.remove(path);
    if (node == null) return;
    if (node.owner != 0) {
      Set<String> owned = ephemeralsBySession.get(node.owner);
      if (owned != null) {
        owned.remove(path);
        if (owned.isEmpty()) ephemeralsBySession.remove(node.owner);
      }
    }
    if (layout.isRecordsOwnerNode(path)) ownerNodeByKey.remove(Layout.name(path), path);
  }
}
