package dev.tally.store.local;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.CounterStore;
import dev.tally.store.IdempotencyRecord;
import dev.tally.store.Outbox;
import dev.tally.store.StoreStatistic;
import dev.tally.store.local.StoreDb.Handles;
import dev.tally.store.local.StoreLayout.Family;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded durable store: RocksDB in {@code <data-dir>/store}. Thread-safe as {@link
 * CounterStore} and {@link Outbox} say; opened and closed by the node's main.
 *
 * <p>Durability: every {@link #commit} is one RocksDB write batch written with {@code sync=true},
 * so the write-ahead log is fsync'ed before the call returns. Counter values, the idempotency keys
 * of the writes that made them and the commit's outbox entries are in the same batch: a crash keeps
 * all or none. Column families and byte layouts are drawn in {@link StoreLayout}.
 *
 * <p>Concurrency: RocksDB reads are thread-safe; commits come from the aggregator's committers,
 * several at once, each with counters no other commit in flight holds, and RocksDB merges
 * concurrent ones into one log write and sync. Each committer thread builds its batch in a {@link
 * BatchRep} of its own. Purging expired idempotency keys reads a key's record before deleting it,
 * so it excludes commits that write keys (a key reused after its expiry must survive). Every use of
 * the database holds {@link StoreDb}'s lifecycle lock, so that close and reopen never free native
 * handles under a reader. After a failed write {@link #writable()} is false until a write succeeds
 * again. After a failed log write (a full disk) RocksDB refuses further writes until the store is
 * reopened: a committer reopens it once the disk has room again (tested by DiskFullIT).
 *
 * <p>Parts: {@link StoreDb} (the database and its lifecycle), {@link StoreLayout} (column families
 * and options), {@link CounterCodes} (counter name → code), {@link RocksOutbox} (the outbox
 * entries), {@link CounterScans} (ordered scans of the counters), {@link Codec} (values).
 */
public final class RocksCounterStore implements CounterStore, Outbox {

  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  /** Free space needed before a store that failed a write is reopened. */
  private static final long REOPEN_FREE_BYTES = 32L << 20;

  private static final byte[] NO_BYTES = new byte[0];

  private static final Function<byte[], IdempotencyRecord> KEY_RECORD =
      v -> v == null ? null : Codec.idempotencyRecord(v);

  private final StoreDb db;
  // each committer's own, reused commit after commit
  private final ThreadLocal<BatchRep> reps = ThreadLocal.withInitial(BatchRep::new);
  // read side: commits that write idempotency keys; write side: a purge of expired ones
  private final ReentrantReadWriteLock keysLock = new ReentrantReadWriteLock();
  // taken to reopen after a failed write, so that committers failing together reopen once
  private final Object reopening = new Object();
  private volatile long failures; // failed writes since open
  private long reopenedAfter; // the failures counted when the store was last reopened; `reopening`
  private final CounterScans scans = new CounterScans();
  private final RocksOutbox outbox;
  private final CounterNames names;
  private volatile boolean writable = true;
  // the last expiry second of an idempotency key stored in the earlier form, 0 once none is left
  // (KeyFormat); until then a key not found in its new form is looked up in the old one too
  private volatile long legacyKeysUntil;

  private RocksCounterStore(
      Path dir,
      List<String> counterNames,
      long blockCacheBytes,
      long walLimitBytes,
      long spareLogBytes)
      throws RocksDBException {
    this.db =
        new StoreDb(
            dir, new StoreLayout(blockCacheBytes, walLimitBytes), spareLogBytes, scans::closeAll);
    this.outbox = new RocksOutbox(db);
    try {
      this.names = db.open(h -> CounterCodes.resolve(h, counterNames));
      this.legacyKeysUntil = db.open(KeyFormat::legacyUntil);
    } catch (RocksDBException | RuntimeException e) {
      db.close();
      throw e;
    }
  }

  /**
   * Opens (or creates) the store in {@code dir}, serving {@code counterNames}.
   *
   * @throws TallyException when the directory cannot be opened (in use by another process, not
   *     writable, corrupt)
   */
  public static RocksCounterStore open(Path dir, List<String> counterNames, long blockCacheBytes) {
    return open(dir, counterNames, blockCacheBytes, StoreLayout.DEFAULT_WAL_LIMIT_BYTES);
  }

  /**
   * Opens (or creates) the store in {@code dir}, serving {@code counterNames}, its write-ahead logs
   * kept under about {@code walLimitBytes} ({@code --wal-limit-mb}).
   *
   * @throws TallyException when the directory cannot be opened (in use by another process, not
   *     writable, corrupt)
   */
  public static RocksCounterStore open(
      Path dir, List<String> counterNames, long blockCacheBytes, long walLimitBytes) {
    return open(dir, counterNames, blockCacheBytes, walLimitBytes, 0);
  }

  /**
   * Opens (or creates) the store in {@code dir}, serving {@code counterNames}, its write-ahead logs
   * kept under about {@code walLimitBytes} ({@code --wal-limit-mb}); a store it creates is first
   * given spent logs of {@code spareLogBytes} each to write over ({@code --spare-log-mb}; at most a
   * quarter of the bound each; 0: none).
   *
   * @throws TallyException when the directory cannot be opened (in use by another process, not
   *     writable, corrupt)
   */
  public static RocksCounterStore open(
      Path dir,
      List<String> counterNames,
      long blockCacheBytes,
      long walLimitBytes,
      long spareLogBytes) {
    try {
      Files.createDirectories(dir);
      return new RocksCounterStore(
          dir, counterNames, blockCacheBytes, walLimitBytes, spareLogBytes);
    } catch (RocksDBException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot open the store in " + dir + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot create the store directory " + dir + ": " + e, e);
    }
  }

  @Override
  public CounterNames names() {
    return names;
  }

  @Override
  public CounterValue get(CounterId id) {
    try {
      return db.open(h -> counterValue(h.db().get(h.counters(), id.toBytes())));
    } catch (RocksDBException e) {
      throw StoreDb.readFailure(e);
    }
  }

  @Override
  public CounterValue getIfInMemory(CounterId id) {
    try {
      return db.open(h -> counterValue(h.db().get(h.counters(), h.memoryOnly(), id.toBytes())));
    } catch (RocksDBException e) {
      if (e.getStatus() != null && e.getStatus().getCode() == Status.Code.Incomplete) {
        return null; // would need to read a table block from disk
      }
      throw StoreDb.readFailure(e);
    }
  }

  @Override
  public List<CounterValue> getAll(List<CounterId> ids) {
    List<byte[]> rawKeys = new ArrayList<>(ids.size());
    for (CounterId id : ids) {
      rawKeys.add(id.toBytes());
    }
    return db.open(h -> multiGet(h, h.counters(), rawKeys, RocksCounterStore::counterValue));
  }

  @Override
  public List<IdempotencyRecord> getKeys(List<String> wanted) {
    List<byte[]> rawKeys = new ArrayList<>(wanted.size());
    for (String k : wanted) {
      rawKeys.add(Codec.keyBytes(k));
    }
    return db.open(
        h -> {
          List<IdempotencyRecord> found = multiGet(h, h.keys(), rawKeys, KEY_RECORD);
          return legacyKeysUntil == 0 ? found : withLegacyKeys(h, wanted, found);
        });
  }

  /** {@code found}, with the keys it lacks looked up in their earlier form (see KeyFormat). */
  private static List<IdempotencyRecord> withLegacyKeys(
      Handles h, List<String> wanted, List<IdempotencyRecord> found) {
    List<byte[]> legacy = new ArrayList<>();
    for (int i = 0; i < found.size(); i++) {
      if (found.get(i) == null) {
        legacy.add(Codec.legacyKeyBytes(wanted.get(i)));
      }
    }
    if (legacy.isEmpty()) {
      return found;
    }
    List<IdempotencyRecord> old = multiGet(h, h.keys(), legacy, KEY_RECORD);
    List<IdempotencyRecord> all = new ArrayList<>(found);
    for (int i = 0, j = 0; i < all.size(); i++) {
      if (all.get(i) == null) {
        all.set(i, old.get(j++));
      }
    }
    return all;
  }

  /** The values of {@code rawKeys} in {@code family}, decoded, in the same order. */
  private static <T> List<T> multiGet(
      Handles h, ColumnFamilyHandle family, List<byte[]> rawKeys, Function<byte[], T> decode) {
    if (rawKeys.isEmpty()) {
      return List.of();
    }
    try {
      List<byte[]> values =
          h.db().multiGetAsList(Collections.nCopies(rawKeys.size(), family), rawKeys);
      List<T> out = new ArrayList<>(values.size());
      for (byte[] v : values) {
        out.add(decode.apply(v));
      }
      return out;
    } catch (RocksDBException e) {
      throw StoreDb.readFailure(e);
    }
  }

  private static CounterValue counterValue(byte[] stored) {
    return stored == null ? CounterValue.NEVER_WRITTEN : Codec.counterValue(stored);
  }

  @Override
  public void commit(Commit commit) {
    if (commit.isEmpty()) {
      return;
    }
    db.ensureOpen();
    if (!writable) {
      reopenIfSpace(failures);
    }
    BatchRep rep = reps.get();
    boolean keys = commit.keyCount() > 0;
    if (keys) {
      keysLock.readLock().lock();
    }
    try {
      db.run(h -> write(h, commit, rep));
    } catch (RocksDBException e) {
      synchronized (reopening) {
        failures++;
        writable = false;
      }
      throw StoreDb.writeFailure(e);
    } finally {
      if (keys) {
        keysLock.readLock().unlock();
      }
      rep.clear();
    }
  }

  /** Writes {@code commit}, durably, as one batch built in {@code rep}. Committer threads only. */
  private void write(Handles h, Commit commit, BatchRep rep) throws RocksDBException {
    int n = commit.counterCount();
    // one outbox entry per target naming every counter of the commit (see Outbox)
    byte[] entry = outbox.newEntry(n);
    int counters = h.id(Family.COUNTERS);
    for (int i = 0; i < n; i++) {
      CounterId id = commit.counterId(i);
      rep.putCounter(counters, id, commit.counterValue(i));
      if (entry != null) {
        id.writeTo(entry, i * CounterId.ENCODED_LENGTH);
      }
    }
    long seq = entry != null ? outbox.append(h, rep, entry) : 0;
    int keyCount = commit.keyCount();
    if (keyCount > 0) {
      int keys = h.id(Family.KEYS);
      // the expiry index: one entry per expiry second of the commit (a commit's keys all share
      // one), naming its first key in the entry's key and the others in its value
      long expiresAt = Long.MIN_VALUE;
      byte[] first = null;
      Codec.ExpiryKeys more = null;
      for (int i = 0; i < keyCount; i++) {
        byte[] k = Codec.keyBytes(commit.key(i));
        IdempotencyRecord r = commit.keyRecord(i);
        rep.put(keys, k, Codec.idempotencyRecord(r));
        if (r.expiresAtSecond() != expiresAt) {
          if (first != null) {
            putExpiry(h, rep, expiresAt, first, more);
          }
          expiresAt = r.expiresAtSecond();
          first = k;
          more = null;
        } else {
          if (more == null) {
            more = new Codec.ExpiryKeys(keyCount - i);
          }
          more.add(k);
        }
      }
      putExpiry(h, rep, expiresAt, first, more);
    }
    try (WriteBatch batch = rep.toWriteBatch()) {
      h.db().write(h.syncWrite(), batch);
    }
    writable = true;
    if (entry != null) {
      outbox.appended(seq, n);
    }
  }

  private static void putExpiry(
      Handles h, BatchRep rep, long expiresAt, byte[] first, Codec.ExpiryKeys more) {
    rep.put(
        h.id(Family.EXPIRY),
        Codec.expiryKey(expiresAt, first),
        more == null ? NO_BYTES : more.toBytes());
  }

  /**
   * After a failed write RocksDB refuses every further write until it is reopened (a full disk
   * stops its log for good). Once the disk has room again, reopen it: the log replays, nothing
   * durable is lost. Readers are held off for the moment of the swap. Committer threads: the first
   * to come after a failure reopens, the others find it done.
   */
  private void reopenIfSpace(long failed) {
    synchronized (reopening) {
      if (reopenedAfter == failed) {
        return; // another committer reopened it since that failure
      }
      if (reopenIfSpace()) {
        reopenedAfter = failed;
      }
    }
  }

  private boolean reopenIfSpace() {
    long usable;
    try {
      usable = Files.getFileStore(db.directory()).getUsableSpace();
    } catch (IOException e) {
      return false;
    }
    if (usable < REOPEN_FREE_BYTES) {
      return false; // reads keep working on the open store meanwhile
    }
    try {
      if (db.reopen()) {
        log.info("store reopened after a write failure ({} MiB free)", usable >> 20);
        return true;
      }
    } catch (RocksDBException e) {
      log.warn("store reopen failed: {}", StoreDb.describe(e));
    }
    return false;
  }

  @Override
  public void enableOutbox(int targets) {
    outbox.enable(targets);
  }

  @Override
  public long outboxSeq() {
    return outbox.seq();
  }

  @Override
  public long outboxRead(int target, long afterSeq, int limit, Set<CounterId> ids) {
    return outbox.read(target, afterSeq, limit, ids);
  }

  @Override
  public void outboxClear(int target, long throughSeq) {
    outbox.clear(target, throughSeq);
  }

  @Override
  public long outboxEstimate() {
    return outbox.estimate(statistic(StoreStatistic.OUTBOX_ENTRIES_ESTIMATED));
  }

  /** {@inheritDoc} See {@link CounterScans} for how the ids are found. */
  @Override
  public void counterPage(
      CounterId after, int limit, List<CounterId> ids, List<CounterValue> values) {
    db.run(
        h -> {
          int first = ids.size();
          scans.page(h, after, limit, ids);
          // The values are read by key, not from the scan: counters are updated in place in the
          // memtable, and only reads by key take the lock that makes such an update atomic (an
          // iterator could see a value half overwritten). They are also the newest.
          values.addAll(getAll(ids.subList(first, ids.size())));
        });
  }

  /** The last expiry second of a key of the earlier form, 0 once none is left (for tests). */
  long legacyKeysUntil() {
    return legacyKeysUntil;
  }

  /** Scans kept open between pages (for tests). */
  int openScans() {
    return scans.open();
  }

  @Override
  public int purgeExpiredKeys(long nowSecond, int limit) {
    keysLock.writeLock().lock();
    try {
      return db.ifOpen(0, h -> purgeExpiredKeys(h, nowSecond, limit));
    } finally {
      keysLock.writeLock().unlock();
    }
  }

  private int purgeExpiredKeys(Handles h, long nowSecond, int limit) {
    int purged = 0;
    try (ReadOptions ro = new ReadOptions();
        RocksIterator it = h.db().newIterator(h.expiry(), ro);
        WriteBatch batch = new WriteBatch()) {
      List<byte[]> named = new ArrayList<>();
      boolean passed = false; // every entry due by nowSecond was taken
      for (it.seekToFirst(); purged < limit; it.next()) {
        if (!it.isValid()) {
          it.status();
          passed = true;
          break;
        }
        byte[] ek = it.key();
        long expiresAt = Codec.expiryOf(ek);
        if (expiresAt > nowSecond) {
          passed = true;
          break;
        }
        named.clear();
        byte[] first = Codec.keyOfExpiry(ek);
        named.add(first);
        Codec.moreKeysOfExpiry(it.value(), Codec.isLegacyKey(first), named);
        for (byte[] k : named) {
          byte[] current = h.db().get(h.keys(), k);
          // a key reused after it expired has a later expiry of its own: keep that record
          if (current != null && Codec.idempotencyRecord(current).expiresAtSecond() <= nowSecond) {
            batch.delete(h.keys(), k);
          }
        }
        batch.delete(h.expiry(), ek);
        purged += named.size();
      }
      if (batch.count() > 0) {
        h.db().write(h.asyncWrite(), batch);
      }
      if (passed && legacyKeysUntil != 0 && nowSecond >= legacyKeysUntil) {
        // every key of the earlier form expired by then, and this purge took the last of them
        KeyFormat.noLegacyKeys(h);
        legacyKeysUntil = 0;
      }
    } catch (RocksDBException e) {
      log.warn("purging expired idempotency keys failed: {}", e.getMessage());
    }
    return purged;
  }

  @Override
  public boolean writable() {
    return writable && !db.isClosed();
  }

  @Override
  public long statistic(StoreStatistic statistic) {
    return db.ifOpen(
        -1L,
        h -> {
          try {
            return statistic(h, statistic);
          } catch (RocksDBException e) {
            return -1L;
          }
        });
  }

  private static long statistic(Handles h, StoreStatistic statistic) throws RocksDBException {
    RocksDB rocks = h.db();
    return switch (statistic) {
      case COUNTERS_ESTIMATED -> rocks.getLongProperty(h.counters(), "rocksdb.estimate-num-keys");
      case KEYS_ESTIMATED -> rocks.getLongProperty(h.keys(), "rocksdb.estimate-num-keys");
      case OUTBOX_ENTRIES_ESTIMATED ->
          rocks.getLongProperty(h.outbox(), "rocksdb.estimate-num-keys");
      case SST_BYTES -> {
        long sum = 0;
        for (ColumnFamilyHandle family : h.all()) {
          sum += rocks.getLongProperty(family, "rocksdb.total-sst-files-size");
        }
        yield sum;
      }
      case COUNTERS_SST_BYTES ->
          rocks.getLongProperty(h.counters(), "rocksdb.total-sst-files-size");
      case MEMTABLE_BYTES -> rocks.getLongProperty("rocksdb.cur-size-all-mem-tables");
      case LIVE_BYTES -> rocks.getLongProperty("rocksdb.estimate-live-data-size");
    };
  }

  /** Flushes memtables and compacts every column family fully; for measurements and tools. */
  public void compact() {
    // force: a lone file would otherwise be moved to the last level as it is, never rewritten
    // with the last level's compression and zeroed sequence numbers
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true);
        CompactRangeOptions full =
            new CompactRangeOptions()
                .setBottommostLevelCompaction(
                    CompactRangeOptions.BottommostLevelCompaction.kForce)) {
      db.run(
          h -> {
            for (ColumnFamilyHandle family : h.all()) {
              h.db().flush(flush, family);
              h.db().compactRange(family, null, null, full);
            }
          });
    } catch (RocksDBException e) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "compaction failed: " + e.getMessage(), e);
    }
  }

  public Path directory() {
    return db.directory();
  }

  /**
   * Writes a consistent copy of the store, as of now, into {@code target} (which must not exist)
   * while the store keeps serving: a RocksDB checkpoint, its table files hard-linked when {@code
   * target} is on the same file system, copied otherwise. Every write acknowledged before the call
   * is in it.
   */
  public void checkpoint(Path target) {
    try {
      db.run(
          h -> {
            try (Checkpoint cp = Checkpoint.create(h.db())) {
              cp.createCheckpoint(target.toString());
            }
          });
    } catch (RocksDBException e) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "backup failed: " + StoreDb.describe(e), e);
    }
  }

  @Override
  public void close() {
    db.close();
  }
}
