package dev.tally.store.local;

import dev.tally.counter.CounterId;
import dev.tally.store.local.StoreDb.Handles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksIterator;

/**
 * Ordered scans of the counters column family, page by page, for {@link
 * dev.tally.store.Outbox#counterPage}. Thread-safe: the scans kept open are guarded by their list,
 * and a scan taken from it is used by one caller at a time. Owned by {@link RocksCounterStore}; its
 * {@link StoreDb} calls {@link #closeAll} before the database closes, since iterators must go
 * first.
 *
 * <p>An ordered scan of the counters' hash memtable first sorts what the memtable holds, so a scan
 * is kept open from one page to the next: a page that continues where an open scan stopped costs
 * only its own counters. Whether a kept scan shows counters committed after it began is up to
 * RocksDB; callers must not depend on it (a re-push finds them in the outbox). The counters are
 * updated in place in the memtable, which gives up consistent snapshots: a scan yields ids only,
 * and their values are read by key. Open scans are bounded in number and age.
 */
final class CounterScans {

  // ordered scans left open between pages, at most, and for how long
  private static final int MAX_SCANS = 8;
  private static final long SCAN_MAX_AGE_NANOS = 60_000_000_000L;

  /** An ordered scan of the counters, open between pages; used by one caller at a time. */
  private static final class Scan {
    final ReadOptions options;
    final RocksIterator iterator;
    final long startedNanos;
    CounterId last;

    Scan(ReadOptions options, RocksIterator iterator, long startedNanos) {
      this.options = options;
      this.iterator = iterator;
      this.startedNanos = startedNanos;
    }

    void close() {
      iterator.close();
      options.close();
    }
  }

  // guarded by itself; every scan in it belongs to the open database
  private final List<Scan> scans = new ArrayList<>();

  /**
   * Appends to {@code ids} up to {@code limit} counter ids in id order after {@code after}
   * (exclusive; null from the first). A full page keeps its scan open for the page after it.
   */
  void page(Handles h, CounterId after, int limit, List<CounterId> ids) {
    Scan scan = take(after);
    if (scan == null) {
      ReadOptions ro = new ReadOptions().setTotalOrderSeek(true);
      scan = new Scan(ro, h.db().newIterator(h.counters(), ro), System.nanoTime());
      if (after == null) {
        scan.iterator.seekToFirst();
      } else {
        seekAfter(scan.iterator, after.toBytes());
      }
    }
    RocksIterator it = scan.iterator;
    int n = 0;
    for (; it.isValid() && n < limit; it.next(), n++) {
      ids.add(CounterId.fromBytes(it.key()));
    }
    if (n > 0 && n == limit) {
      // kept even when it just ran out: the page after this one then costs nothing either
      scan.last = ids.get(ids.size() - 1);
      keep(scan);
    } else {
      scan.close();
    }
  }

  /** Positions {@code it} just past {@code from}. */
  private static void seekAfter(RocksIterator it, byte[] from) {
    it.seek(from);
    if (it.isValid() && Arrays.equals(it.key(), from)) {
      it.next();
    }
  }

  /** The open scan that stopped right at {@code after}, removed from the open ones; or null. */
  private Scan take(CounterId after) {
    if (after == null) {
      return null;
    }
    synchronized (scans) {
      long now = System.nanoTime();
      Scan found = null;
      for (var i = scans.iterator(); i.hasNext(); ) {
        Scan s = i.next();
        if (now - s.startedNanos > SCAN_MAX_AGE_NANOS) {
          i.remove();
          s.close();
        } else if (found == null && after.equals(s.last)) {
          i.remove();
          found = s;
        }
      }
      return found;
    }
  }

  private void keep(Scan scan) {
    synchronized (scans) {
      scans.add(scan);
      if (scans.size() > MAX_SCANS) {
        scans.remove(0).close();
      }
    }
  }

  /** Scans kept open between pages. */
  int open() {
    synchronized (scans) {
      return scans.size();
    }
  }

  /** Closes every scan kept open; before the database closes (its iterators must go first). */
  void closeAll() {
    synchronized (scans) {
      scans.forEach(Scan::close);
      scans.clear();
    }
  }
}
