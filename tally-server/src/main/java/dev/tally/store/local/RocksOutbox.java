package dev.tally.store.local;

import dev.tally.counter.CounterId;
import dev.tally.store.Outbox;
import dev.tally.store.local.StoreDb.Handles;
import dev.tally.store.local.StoreLayout.Family;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's {@link Outbox} entries in the outbox column family (layout in {@link StoreLayout}):
 * appended to the committer's write batches, read and cleared by the pushers. Thread-safe as {@link
 * Outbox} says: {@link #append} and {@link #appended} by one committing thread at a time, the rest
 * from any thread. Owned by {@link RocksCounterStore}, which makes it on its {@link StoreDb} and
 * implements {@link Outbox} with it.
 */
final class RocksOutbox {

  // the store's logger: one name for everything the store logs
  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  private static final int KEY_LENGTH = 9;
  private static final int MAX_TARGETS = 128;
  // counters per entry when marks of the earlier format are converted
  private static final int LEGACY_ENTRY_SIZE = 1024;
  // fewer entries to clear than this are deleted one by one, more with one range deletion
  private static final int POINT_DELETES = 4096;

  private final StoreDb db;
  private volatile int targets;
  // the number of the latest commit with outbox entries: written by the committer
  private volatile long seq;
  // for the backlog estimate: counters and entries written since open (committer only)
  private volatile long idsWritten;
  private volatile long entriesWritten;
  // per target, the number through which its entries were cleared since open
  private final long[] cleared = new long[MAX_TARGETS];

  RocksOutbox(StoreDb db) {
    this.db = db;
  }

  /** See {@link Outbox#enableOutbox}. */
  void enable(int targets) {
    if (targets < 0 || targets >= MAX_TARGETS) {
      throw new IllegalArgumentException("outbox targets must be 0..127, got " + targets);
    }
    try {
      db.run(
          h -> {
            long last = convertLegacyMarks(h);
            for (int t = 0; t < MAX_TARGETS; t++) {
              last = Math.max(last, lastSeq(h, t));
            }
            seq = last;
            this.targets = targets;
          });
    } catch (RocksDBException e) {
      throw StoreDb.writeFailure(e);
    }
  }

  /** See {@link Outbox#outboxSeq}. */
  long seq() {
    return seq;
  }

  /**
   * A new entry for a commit of {@code counters} counters, for the committer to fill with their
   * ids, in order; null when the commit writes no outbox entry. Committer only.
   */
  byte[] newEntry(int counters) {
    return targets > 0 && counters > 0 ? new byte[counters * CounterId.ENCODED_LENGTH] : null;
  }

  /**
   * Adds {@code entry} for every target to the commit's {@code batch}, numbered after the last
   * commit's; returns that number. Committer only; {@link #appended} once the batch is written.
   */
  long append(Handles h, BatchRep batch, byte[] entry) {
    long next = seq + 1;
    int family = h.id(Family.OUTBOX);
    for (int t = 0; t < targets; t++) {
      batch.put(family, key(t, next), entry);
    }
    return next;
  }

  /**
   * The batch with entry {@code number} of {@code counters} counters is durable. Committer only.
   */
  void appended(long number, int counters) {
    seq = number;
    idsWritten += counters;
    entriesWritten++;
  }

  /** See {@link Outbox#outboxRead}. */
  long read(int target, long afterSeq, int limit, Set<CounterId> ids) {
    return db.open(
        h -> {
          long last = afterSeq;
          try (Slice upper = new Slice(new byte[] {(byte) (target + 1)});
              ReadOptions ro = new ReadOptions().setIterateUpperBound(upper);
              RocksIterator it = h.db().newIterator(h.outbox(), ro)) {
            for (it.seek(key(target, afterSeq + 1)); it.isValid() && ids.size() < limit; ) {
              byte[] k = it.key();
              if (k.length == KEY_LENGTH && k[0] == (byte) target) {
                byte[] v = it.value();
                for (int off = 0; off + CounterId.ENCODED_LENGTH <= v.length; ) {
                  ids.add(
                      CounterId.fromBytes(
                          Arrays.copyOfRange(v, off, off += CounterId.ENCODED_LENGTH)));
                }
                last = seqOf(k);
              }
              it.next();
            }
          }
          return last;
        });
  }

  /** See {@link Outbox#outboxClear}; does nothing once the store is closed. */
  void clear(int target, long throughSeq) {
    try {
      db.ifOpen(false, h -> clear(h, target, throughSeq));
    } catch (RocksDBException e) {
      log.debug(
          "clearing pushed outbox entries failed (they are pushed again): {}", StoreDb.describe(e));
    }
  }

  /** Deletes what is left of {@code target}'s entries through {@code throughSeq}; true if any. */
  private boolean clear(Handles h, int target, long throughSeq) throws RocksDBException {
    long from = cleared[target] + 1;
    if (throughSeq < from) {
      return false;
    }
    try (WriteBatch batch = new WriteBatch()) {
      if (throughSeq - from < POINT_DELETES) {
        for (long s = from; s <= throughSeq; s++) {
          batch.delete(h.outbox(), key(target, s));
        }
      } else {
        batch.deleteRange(h.outbox(), key(target, 0), key(target, throughSeq + 1));
      }
      h.db().write(h.asyncWrite(), batch);
    }
    cleared[target] = throughSeq;
    return true;
  }

  /**
   * See {@link Outbox#outboxEstimate}: the store's estimate of its {@code entries}, times the
   * counters per entry written since open.
   */
  long estimate(long entries) {
    long written = entriesWritten;
    return written == 0 ? entries : entries * idsWritten / written;
  }

  /** The number of {@code target}'s last entry, 0 when it has none. */
  private static long lastSeq(Handles h, int target) {
    try (RocksIterator it = h.db().newIterator(h.outbox())) {
      it.seekForPrev(key(target, -1L)); // the largest possible key of the target
      for (; it.isValid(); it.prev()) {
        byte[] k = it.key();
        if (k[0] != (byte) target) {
          return 0;
        }
        if (k.length == KEY_LENGTH) {
          return seqOf(k);
        }
      }
      return 0;
    }
  }

  /**
   * Turns the marks of the earlier outbox format (one key per target and counter) into entries of
   * this one, numbered after every existing entry, in one durable write. Returns the last number
   * used (0 when there were no such marks).
   */
  private static long convertLegacyMarks(Handles h) throws RocksDBException {
    Map<Integer, List<byte[]>> marks = new LinkedHashMap<>();
    long last = 0;
    try (RocksIterator it = h.db().newIterator(h.outbox())) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] k = it.key();
        if (k.length == 1 + CounterId.ENCODED_LENGTH) {
          marks.computeIfAbsent((int) k[0], t -> new ArrayList<>()).add(k);
        } else if (k.length == KEY_LENGTH) {
          last = Math.max(last, seqOf(k));
        }
      }
    }
    if (marks.isEmpty()) {
      return last;
    }
    try (WriteBatch batch = new WriteBatch()) {
      for (Map.Entry<Integer, List<byte[]>> e : marks.entrySet()) {
        List<byte[]> keysOfTarget = e.getValue();
        for (int from = 0; from < keysOfTarget.size(); from += LEGACY_ENTRY_SIZE) {
          int to = Math.min(keysOfTarget.size(), from + LEGACY_ENTRY_SIZE);
          byte[] entry = new byte[(to - from) * CounterId.ENCODED_LENGTH];
          for (int i = from; i < to; i++) {
            byte[] k = keysOfTarget.get(i);
            System.arraycopy(
                k, 1, entry, (i - from) * CounterId.ENCODED_LENGTH, CounterId.ENCODED_LENGTH);
            batch.delete(h.outbox(), k);
          }
          batch.put(h.outbox(), key(e.getKey(), ++last), entry);
        }
      }
      h.db().write(h.syncWrite(), batch);
    }
    log.info("outbox: converted the marks of {} targets to entries", marks.size());
    return last;
  }

  /** An entry's key: the target, then the commit's number (big-endian, so in order). */
  private static byte[] key(int target, long seq) {
    byte[] k = new byte[KEY_LENGTH];
    k[0] = (byte) target;
    for (int i = 0; i < 8; i++) {
      k[1 + i] = (byte) (seq >>> (56 - 8 * i));
    }
    return k;
  }

  private static long seqOf(byte[] key) {
    long seq = 0;
    for (int i = 1; i < KEY_LENGTH; i++) {
      seq = (seq << 8) | (key[i] & 0xff);
    }
    return seq;
  }
}
