package nominee.testing;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.apache.jute.Record;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.TxnLog;
import org.apache.zookeeper.server.persistence.Util;
import org.apache.zookeeper.txn.TxnHeader;

/**
 * The transaction logs of one or more servers of an ensemble, read with the
 * server's own FileTxnLog and merged into one stream in zxid order. Each
 * server logs every committed txn, but a server that was down, or that
 * resynced from a snapshot, has holes: merging fills one server's hole from
 * another's log, so the replay sees as much of the history as any server
 * kept. For a zxid several servers logged, their headers must agree (the
 * same session, cxid and type); when they do not, the entry of the log
 * that goes furthest wins and the disagreement is reported as a note.
 */
final class MergedLog implements AutoCloseable {

  /** One txn: its header, its body (deserialized by FileTxnLog), who logged it and how many logs hold it. */
  static final class Entry {
    final TxnHeader header;
    final Record txn;
    final String server;
    int loggedBy = 1;

    Entry(TxnHeader header, Record txn, String server) {
      this.header = header;
      this.txn = txn;
      this.server = server;
    }
  }

  /** One server's log, positioned at its next txn (header null: exhausted). */
  private static final class Stream {
    final String name;
    final File logDir;
    final FileTxnLog log;
    TxnLog.TxnIterator iterator;
    TxnHeader header;
    Record txn;
    long repeated = 0;  // zxids this server's files hold more than once

    Stream(String name, File logDir, FileTxnLog log) throws IOException {
      this.name = name;
      this.logDir = logDir;
      this.log = log;
      // read(0): from the oldest log file on; FileTxnLog skips the zeroed
      // preallocated tail of each file and goes on to the next.
      this.iterator = log.read(0);
      this.header = iterator.getHeader();
      this.txn = iterator.getTxn();
    }

    /**
     * Moves on. A damaged record ends its log file, not the stream: a
     * server killed mid-write leaves a torn record at the end of the file it
     * was writing and starts a new file when it restarts, and what it
     * logged after the restart counts as much as what it logged before.
     */
    void advance(List<String> notes) throws IOException {
      final long at = header.getZxid();
      try {
        // A server that restarts can log zxids it had logged already into
        // a new file (FileTxnLog reads on across files): the stream moves
        // only forward, so each zxid is counted once per server.
        while (iterator.next()) {
          header = iterator.getHeader();
          txn = iterator.getTxn();
          if (header.getZxid() > at) return;
          ++repeated;
        }
      } catch (IOException e) {
        long next = nextLogStart(at);
        notes.add("the log of " + name + " holds a damaged record after 0x" + Long.toHexString(at) + " ("
            + e.getMessage() + ")" + (next < 0 ? "; it ends there" : "; reading on from its next file"));
        closeQuietly(iterator);
        if (next >= 0) {
          iterator = log.read(next);
          header = iterator.getHeader();
          txn = iterator.getTxn();
          // read(z) starts in the file that holds z: skip what was seen.
          while (header != null && header.getZxid() <= at) {
            if (!iterator.next()) {
              header = null;
              break;
            }
            header = iterator.getHeader();
            txn = iterator.getTxn();
          }
          if (header != null) return;
        }
      }
      header = null;
      txn = null;
    }

    /** The first zxid of the oldest log file that starts after zxid, or -1. */
    private long nextLogStart(long zxid) {
      long best = -1;
      File[] files = logDir.listFiles((dir, n) -> n.startsWith(FileTxnLog.LOG_FILE_PREFIX + "."));
      if (files == null) return -1;
      for (File f : files) {
        long start = Util.getZxidFromName(f.getName(), FileTxnLog.LOG_FILE_PREFIX);
        if (start > zxid && (best < 0 || start < best)) best = start;
      }
      return best;
    }

    private static void closeQuietly(TxnLog.TxnIterator it) {
      try {
        it.close();
      } catch (IOException ignored) {
        // Closing a file we only read: nothing to lose.
      }
    }
  }

  private final List<Stream> streams = new ArrayList<>();
  private final List<String> notes;
  private long divergent = 0;

  /**
   * Opens the log of each data dir (the directory that holds version-2/).
   * Throws IllegalArgumentException naming the path when one is missing or
   * holds no log file.
   */
  MergedLog(List<File> dataDirs, List<String> notes) throws IOException {
    this.notes = notes;
    for (File dataDir : dataDirs) {
      if (!dataDir.isDirectory()) throw new IllegalArgumentException("no such directory: " + dataDir);
      File logDir = new File(dataDir, "version-2");
      if (!logDir.isDirectory())
        throw new IllegalArgumentException("no transaction log directory " + logDir + " (is " + dataDir
            + " a ZooKeeper dataDir?)");
      File[] logs = logDir.listFiles((dir, name) -> name.startsWith(FileTxnLog.LOG_FILE_PREFIX + "."));
      if (logs == null || logs.length == 0)
        throw new IllegalArgumentException("no transaction log (log.*) in " + logDir);
      Stream s = new Stream(dataDir.getPath(), logDir, new FileTxnLog(logDir));
      if (s.header == null) notes.add("the log of " + s.name + " holds no txn");
      streams.add(s);
    }
  }

  long divergentZxids() {
    return divergent;
  }

  /** Zxids a server's log files held a second time (after a restart), skipped. */
  long repeatedZxids() {
    long n = 0;
    for (Stream s : streams) n += s.repeated;
    return n;
  }

  /** The next txn in zxid order, or null when every log is exhausted. */
  Entry next() throws IOException {
    long zxid = Long.MAX_VALUE;
    for (Stream s : streams)
      if (s.header != null) zxid = Math.min(zxid, s.header.getZxid());
    if (zxid == Long.MAX_VALUE) return null;
    Entry chosen = null;
    Stream chosenFrom = null;
    for (Stream s : streams) {
      if (s.header == null || s.header.getZxid() != zxid) continue;
      Entry e = new Entry(s.header, s.txn, s.name);
      if (chosen == null) {
        chosen = e;
        chosenFrom = s;
      } else if (sameTxn(chosen.header, e.header)) {
        ++chosen.loggedBy;
      } else {
        ++divergent;
        notes.add("servers disagree at zxid 0x" + Long.toHexString(zxid) + ": " + chosen.server + " logged "
            + describe(chosen.header) + ", " + s.name + " logged " + describe(e.header));
        if (lastZxid(s) > lastZxid(chosenFrom)) {
          chosen = e;
          chosenFrom = s;
        }
      }
    }
    for (Stream s : streams)
      if (s.header != null && s.header.getZxid() == zxid) s.advance(notes);
    return chosen;
  }

  private static long lastZxid(Stream s) {
    return s.log.getLastLoggedZxid();
  }

  private static boolean sameTxn(TxnHeader a, TxnHeader b) {
    return a.getClientId() == b.getClientId() && a.getCxid() == b.getCxid() && a.getType() == b.getType()
        && a.getTime() == b.getTime();
  }

  private static String describe(TxnHeader h) {
    return "type " + h.getType() + " by session 0x" + Long.toHexString(h.getClientId()) + " cxid " + h.getCxid();
  }

  @Override
  public void close() {
    for (Stream s : streams) {
      try {
        s.iterator.close();
        s.log.close();
      } catch (IOException e) {
        notes.add("closing the log of " + s.name + ": " + Objects.toString(e.getMessage()));
      }
    }
  }
}
