package nominee.testing;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

/**
 * nominee-txnlog-check: reads the transaction logs of a ZooKeeper
 * ensemble's servers (their dataDirs' version-2/log.*) with the server's own
 * classes, replays them in zxid order and checks, at every zxid, what
 * Replay.java lists: no session deletes another session's ephemeral, every
 * owner node goes by its owner's hand or its owner's closeSession, and (with
 * --records) every record write is by the key's owner at that zxid. It
 * trusts neither nominee nor its histories: only what the server logged.
 *
 *   nominee-txnlog-check [--root PATH] [--records DIR [--records-prefix P]]
 *                        [--quorum Q] [--trace TEXT] [--max-lines N] DATADIR...
 *
 * Prints each violation and note on its own line ("violation ...", "note
 * ..."; at most --max-lines of each, default 100), then one JSON line with
 * what it read and checked. Exit status: 0 no violation, 1 a violation, 2
 * bad usage or unreadable logs.
 */
public final class TxnLogChecker {

  private static final String USAGE =
      "usage: nominee-txnlog-check [--root PATH] [--records DIR [--records-prefix P]] [--quorum Q] [--trace TEXT]\n"
          + "                            [--max-lines N] DATADIR...\n"
          + "  DATADIR          a ZooKeeper dataDir (holding version-2/log.*), one per server of the ensemble\n"
          + "  --root PATH      owner nodes are <PATH>/work/<prefix>/owners/<shard>/<key> (default: any root)\n"
          + "  --records DIR    check writes of the sample worker's records, DIR/<key> (its records_dir():\n"
          + "                   <root>/records/<prefix>) against the owner nodes of <root>/work/<prefix>\n"
          + "  --records-prefix P  the encoded divider prefix of those records (default: DIR's last segment)\n"
          + "  --quorum Q       a txn in fewer than Q logs was never committed and is not replayed\n"
          + "                   (default: a majority of the DATADIRs, so give every server's)\n"
          + "  --trace TEXT     print every change to a path containing TEXT (\"trace ...\" lines)\n"
          + "  --max-lines N    print at most N violations and N notes (default 100; all are counted)\n";

  private static final class UsageError extends Exception {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  private String root = null;
  private String records = null;
  private String recordsPrefix = null;
  private int maxLines = 100;
  private String trace = null;
  private int quorum = 0;  // 0: a majority of the data dirs
  private long uncommitted = 0;
  private final List<File> dataDirs = new ArrayList<>();

  public static void main(String[] args) {
    TxnLogChecker checker = new TxnLogChecker();
    try {
      checker.parse(args);
    } catch (UsageError e) {
      System.err.print("nominee-txnlog-check: " + e.getMessage() + "\n" + USAGE);
      System.exit(2);
    }
    int status;
    try {
      status = checker.run();
    } catch (IllegalArgumentException e) {
      System.err.println("nominee-txnlog-check: " + e.getMessage());
      status = 2;
    } catch (Exception e) {
      System.err.println("nominee-txnlog-check: cannot read the logs: " + e);
      status = 2;
    }
    System.out.flush();
    System.exit(status);
  }

  private static String path(String flag, String value) throws UsageError {
    if (!value.startsWith("/") || (value.length() > 1 && value.endsWith("/")) || value.contains("//"))
      throw new UsageError(flag + " '" + value + "' must be an absolute znode path without a trailing '/'");
    return value;
  }

  private void parse(String[] args) throws UsageError {
    for (int i = 0; i < args.length; ++i) {
      String arg = args[i];
      if ("--help".equals(arg) || "-h".equals(arg)) {
        System.out.print(USAGE);
        System.exit(0);
      }
      if (!arg.startsWith("--")) {
        dataDirs.add(new File(arg));
        continue;
      }
      if (i + 1 >= args.length) throw new UsageError(arg + " needs a value");
      String value = args[++i];
      switch (arg) {
        case "--root":
          root = path(arg, value);
          break;
        case "--records":
          records = path(arg, value);
          if ("/".equals(records)) throw new UsageError("--records '/' is not a records directory");
          break;
        case "--records-prefix":
          if (value.isEmpty() || value.contains("/"))
            throw new UsageError("--records-prefix '" + value + "' must be one non-empty path segment");
          recordsPrefix = value;
          break;
        case "--trace":
          trace = value;
          break;
        case "--quorum":
          try {
            quorum = Integer.parseInt(value);
          } catch (NumberFormatException e) {
            quorum = -1;
          }
          if (quorum < 1) throw new UsageError("--quorum '" + value + "' must be a whole number >= 1");
          break;
        case "--max-lines":
          try {
            maxLines = Integer.parseInt(value);
          } catch (NumberFormatException e) {
            maxLines = -1;
          }
          if (maxLines < 0) throw new UsageError("--max-lines '" + value + "' must be a whole number >= 0");
          break;
        default:
          throw new UsageError("unknown flag '" + arg + "'");
      }
    }
    if (dataDirs.isEmpty()) throw new UsageError("no data directory given");
    if (recordsPrefix != null && records == null) throw new UsageError("--records-prefix needs --records");
    if (quorum > dataDirs.size())
      throw new UsageError("--quorum " + quorum + " exceeds the " + dataDirs.size() + " data directories given");
  }

  private int run() throws Exception {
    List<String> notes = new ArrayList<>();
    Replay replay = new Replay(new Layout(root, records, recordsPrefix), notes, trace);
    long divergent, repeated;
    try (MergedLog log = new MergedLog(dataDirs, notes)) {
      final int quorum = this.quorum > 0 ? this.quorum : dataDirs.size() / 2 + 1;
      for (MergedLog.Entry e = log.next(); e != null; e = log.next()) {
        // A committed txn was acked, so logged, by a quorum, and no server
        // drops a committed txn from its log. A txn in fewer logs is a
        // proposal a dying leader logged that was never committed: a
        // follower that synced from a snapshot keeps such a txn in its old
        // log files, and replaying it (say, a closeSession that never
        // happened) would make the rest of the history look wrong.
        if (e.loggedBy < quorum) {
          ++uncommitted;
          notes.add("zxid " + Replay.hex(e.header.getZxid()) + " (type " + e.header.getType() + ", session "
              + Replay.hex(e.header.getClientId()) + ") is in " + e.loggedBy + " of " + dataDirs.size()
              + " logs, fewer than a quorum of " + quorum + ": not committed, not replayed");
          continue;
        }
        replay.apply(e.header, e.txn);
      }
      divergent = log.divergentZxids();
      repeated = log.repeatedZxids();
    }
    int printed = 0;
    for (Replay.Violation v : replay.violations)
      if (printed++ < maxLines) System.out.println(v);
    if (replay.violations.size() > maxLines)
      System.out.println("violation ... and " + (replay.violations.size() - maxLines) + " more");
    printed = 0;
    for (String note : notes)
      if (printed++ < maxLines) System.out.println("note " + note);
    if (notes.size() > maxLines) System.out.println("note ... and " + (notes.size() - maxLines) + " more");
    System.out.println(summary(replay, notes.size(), divergent, repeated));
    return replay.violations.isEmpty() ? 0 : 1;
  }

  private String summary(Replay r, int notes, long divergent, long repeated) {
    StringBuilder json = new StringBuilder("{\"checker\": \"nominee-txnlog-check\"");
    json.append(", \"servers\": ").append(dataDirs.size());
    json.append(", \"first_zxid\": \"").append(Replay.hex(Math.max(r.firstZxid, 0))).append('"');
    json.append(", \"last_zxid\": \"").append(Replay.hex(Math.max(r.lastZxid, 0))).append('"');
    field(json, "txns", r.txns);
    field(json, "failed_txns", r.failedTxns);
    field(json, "multis", r.multis);
    field(json, "sessions_created", r.sessionsCreated);
    field(json, "creates", r.creates);
    field(json, "ephemeral_creates", r.ephemeralCreates);
    field(json, "deletes", r.deletes);
    field(json, "set_datas", r.setDatas);
    field(json, "session_closes", r.sessionCloses);
    field(json, "expiries", r.expiries);
    field(json, "expired_ephemerals", r.expiredEphemerals);
    field(json, "owner_node_creates", r.ownerNodeCreates);
    field(json, "owner_node_deletes_checked", r.ownerNodeDeletesChecked);
    field(json, "owner_node_expiry_deletes", r.ownerNodeExpiryDeletes);
    field(json, "record_writes_checked", r.recordWritesChecked);
    field(json, "record_deletes", r.recordDeletes);
    field(json, "unknown_deletes", r.unknownDeletes);
    field(json, "unknown_owner_node_deletes", r.unknownOwnerDeletes);
    field(json, "divergent_zxids", divergent);
    field(json, "repeated_zxids", repeated);
    field(json, "uncommitted_skipped", uncommitted);
    field(json, "notes", notes);
    field(json, "violations", r.violations.size());
    return json.append('}').toString();
  }

  private static void field(StringBuilder json, String name, long value) {
    json.append(", \"").append(name).append("\": ").append(value);
  }
}
