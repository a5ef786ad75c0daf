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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.HashLinkedListMemTableConfig;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.ReadTier;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded durable store: RocksDB in {@code <data-dir>/store}.
 *
 * <p>Durability: every {@link #commit} is one RocksDB write batch written with {@code sync=true},
 * so the write-ahead log is fsync'ed before the call returns. Counter values and the idempotency
 * keys of the writes that made them are in the same batch: a crash keeps both or neither. Byte
 * layouts are drawn in {@link Codec}.
 *
 * <p>Concurrency: RocksDB reads are thread-safe; commits come from one thread (the aggregator's
 * committer). After a failed write {@link #writable()} is false until a write succeeds again. After
 * a failed log write (a full disk) RocksDB refuses further writes until the store is reopened: the
 * node must be restarted once space is back (tested by DiskFullIT).
 *
 * <p>Counter codes: the meta column family maps each counter name to its one-byte code ({@code
 * counter-code/<name>} → code). A name seen for the first time gets the lowest free code; a code
 * never moves.
 */
public final class RocksCounterStore implements CounterStore, Outbox {

  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  private static final String CF_COUNTERS = "counters";
  private static final String CF_KEYS = "idempotency";
  private static final String CF_EXPIRY = "idempotency-expiry";
  private static final String CF_OUTBOX = "outbox";
  private static final String CODE_PREFIX = "counter-code/";
  private static final int OUTBOX_KEY_LENGTH = 9;
  // counters per entry when marks of the earlier format are converted
  private static final int LEGACY_ENTRY_SIZE = 1024;
  // fewer entries to clear than this are deleted one by one, more with one range deletion
  private static final int POINT_DELETES = 4096;

  static {
    RocksDB.loadLibrary();
  }

  // hash buckets of the counters' memtable: 8 MiB of its arena, ≈ one bucket per counter that a
  // 64 MiB memtable holds
  private static final int MEMTABLE_BUCKETS = 1 << 20;
  // the write-ahead log's bound, which bounds the replay after a crash
  private static final long MAX_WAL_BYTES = 64L << 20;
  // ordered scans left open between pages (see counterPage), at most, and for how long
  private static final int MAX_SCANS = 8;
  private static final long SCAN_MAX_AGE_NANOS = 60_000_000_000L;

  /** How a column family is read, which decides its table options. */
  private enum Family {
    COUNTERS,
    KEYS,
    PLAIN
  }

  private final Path dir;
  private final LRUCache blockCache;
  private final DBOptions dbOptions;
  private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final List<ColumnFamilyDescriptor> descriptors;
  // reopened after a failed log write (see reopenIfSpace): guarded by `lifecycle`
  private RocksDB db;
  private ColumnFamilyHandle meta;
  private ColumnFamilyHandle counters;
  private ColumnFamilyHandle keys;
  private ColumnFamilyHandle expiry;
  private ColumnFamilyHandle outbox;
  private volatile int outboxTargets;
  // the number of the latest commit with outbox entries: written by the committer
  private volatile long outboxSeq;
  // for the backlog estimate: counters and entries written since open (committer only)
  private volatile long outboxIdsWritten;
  private volatile long outboxEntriesWritten;
  // per target, the number through which its entries were cleared since open
  private final long[] outboxCleared = new long[128];
  private final java.util.concurrent.locks.ReentrantReadWriteLock lifecycle =
      new java.util.concurrent.locks.ReentrantReadWriteLock();
  private final WriteOptions syncWrite;
  private final WriteOptions asyncWrite;
  private final ReadOptions memoryOnly;
  private final CounterNames names;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile boolean writable = true;

  private RocksCounterStore(Path dir, List<String> counterNames, long blockCacheBytes)
      throws RocksDBException {
    this.dir = dir;
    this.blockCache = new LRUCache(blockCacheBytes);
    this.dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setMaxBackgroundJobs(2)
            .setBytesPerSync(1 << 20)
            .setKeepLogFileNum(5)
            // the counters' hash memtable (see options()) takes one writer at a time, which is
            // what the single committer gives it anyway
            .setAllowConcurrentMemtableWrite(false)
            // After a crash the log since the last flush is replayed before the node is ready
            // (≈ 20-25 MiB/s on the test machine). Left to itself RocksDB lets the log grow to
            // four times all memtables (GiBs here: the small column families rarely flush and pin
            // old log files); this bound flushes what pins the oldest log beyond it.
            .setMaxTotalWalSize(MAX_WAL_BYTES)
            // and the replayed memtables are kept rather than flushed before the store opens
            .setAvoidFlushDuringRecovery(true);
    this.descriptors =
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, options(Family.PLAIN)),
            new ColumnFamilyDescriptor(bytes(CF_COUNTERS), options(Family.COUNTERS)),
            new ColumnFamilyDescriptor(bytes(CF_KEYS), options(Family.KEYS)),
            new ColumnFamilyDescriptor(bytes(CF_EXPIRY), options(Family.PLAIN)),
            new ColumnFamilyDescriptor(bytes(CF_OUTBOX), options(Family.PLAIN)));
    openDb();
    this.syncWrite = new WriteOptions().setSync(true);
    this.asyncWrite = new WriteOptions().setSync(false);
    this.memoryOnly = new ReadOptions().setReadTier(ReadTier.BLOCK_CACHE_TIER);
    this.names = resolveNames(counterNames);
  }

  private void openDb() throws RocksDBException {
    handles.clear();
    this.db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    this.meta = handles.get(0);
    this.counters = handles.get(1);
    this.keys = handles.get(2);
    this.expiry = handles.get(3);
    this.outbox = handles.get(4);
  }

  private void closeDb() {
    closeScans();
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    db.close();
  }

  /**
   * After a failed write RocksDB refuses every further write until it is reopened (a full disk
   * stops its log for good). Once the disk has room again, reopen it: the log replays, nothing
   * durable is lost. Readers are held off for the moment of the swap. Committer thread only.
   */
  private void reopenIfSpace() {
    long usable;
    try {
      usable = Files.getFileStore(dir).getUsableSpace();
    } catch (java.io.IOException e) {
      return;
    }
    if (usable < REOPEN_FREE_BYTES) {
      return; // reads keep working on the open store meanwhile
    }
    lifecycle.writeLock().lock();
    try {
      if (closed.get()) {
        return;
      }
      closeDb();
      openDb();
      log.info("store reopened after a write failure ({} MiB free)", usable >> 20);
    } catch (RocksDBException e) {
      log.warn("store reopen failed: {}", describe(e));
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  /** Called under the read lock: native handles are valid unless the store was closed. */
  private void ensureOpen() {
    if (closed.get()) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "the store is closed");
    }
  }

  /** Free space needed before a store that failed a write is reopened. */
  private static final long REOPEN_FREE_BYTES = 32L << 20;

  /**
   * Opens (or creates) the store in {@code dir}, serving {@code counterNames}.
   *
   * @throws TallyException when the directory cannot be opened (in use by another process, not
   *     writable, corrupt)
   */
  public static RocksCounterStore open(Path dir, List<String> counterNames, long blockCacheBytes) {
    try {
      Files.createDirectories(dir);
      return new RocksCounterStore(dir, counterNames, blockCacheBytes);
    } catch (RocksDBException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot open the store in " + dir + ": " + e.getMessage(), e);
    } catch (java.io.IOException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot create the store directory " + dir + ": " + e, e);
    }
  }

  /**
   * Column family options. Counters are looked up mostly where they exist: their last level (which
   * holds nearly all data) keeps no bloom filter and uses 16 KiB blocks, which took compacted
   * counters from 8.8 to 7.0 bytes each (BENCHMARKS.md). Idempotency keys are looked up mostly
   * where they do not exist, so they keep filters on every level.
   */
  private ColumnFamilyOptions options(Family family) {
    ColumnFamilyOptions o = new ColumnFamilyOptions();
    BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(blockCache);
    if (family != Family.PLAIN) {
      table.setFilterPolicy(new BloomFilter(10, false)).setOptimizeFiltersForMemory(true);
    }
    if (family == Family.COUNTERS) {
      table.setBlockSize(16 * 1024);
      // Every counter key is 9 bytes and is found by its whole self: a memtable hashed on the
      // whole key inserts and finds a counter in a few memory accesses, where the default skip
      // list spends a CPU-cache miss per level on random keys (most of the committer's time on
      // writes spread over many counters; docs/performance-notes.md). Ordered scans of this
      // family (counterPage) must ask for total order.
      // A counter written again while its last version is still in the memtable is updated in
      // place when its value is no longer (the usual case: varints grow rarely), so the memtable
      // holds about one entry per counter instead of one per commit, and a flush sorts each
      // counter once. In-place updates give up consistent snapshots of this family, which
      // nothing here uses (counterPage's scans say so).
      o.setInplaceUpdateSupport(true);
      o.useFixedLengthPrefixExtractor(CounterId.ENCODED_LENGTH)
          .setMemTableConfig(
              new HashLinkedListMemTableConfig()
                  .setBucketCount(MEMTABLE_BUCKETS)
                  .setIfLogBucketDistWhenFlush(false));
    }
    o.setTableFormatConfig(table)
        .setCompressionType(CompressionType.LZ4_COMPRESSION)
        .setBottommostCompressionType(CompressionType.ZSTD_COMPRESSION)
        .setOptimizeFiltersForHits(family == Family.COUNTERS)
        .setLevelCompactionDynamicLevelBytes(true);
    cfOptions.add(o);
    return o;
  }

  private CounterNames resolveNames(List<String> wanted) throws RocksDBException {
    Map<String, Integer> known = new LinkedHashMap<>();
    boolean[] used = new boolean[CounterNames.MAX_CODE + 1];
    try (RocksIterator it = db.newIterator(meta)) {
      byte[] prefix = bytes(CODE_PREFIX);
      for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
        String name =
            new String(
                it.key(), prefix.length, it.key().length - prefix.length, StandardCharsets.UTF_8);
        int code = it.value()[0] & 0xFF;
        known.put(name, code);
        used[code] = true;
      }
    }
    Map<String, Integer> served = new LinkedHashMap<>();
    try (WriteBatch batch = new WriteBatch()) {
      for (String name : wanted) {
        Integer code = known.get(name);
        if (code == null) {
          int free = 1;
          while (free <= CounterNames.MAX_CODE && used[free]) {
            free++;
          }
          if (free > CounterNames.MAX_CODE) {
            throw new TallyException(
                ErrorKind.UNAVAILABLE, "no free counter code left for " + name);
          }
          used[free] = true;
          code = free;
          batch.put(meta, bytes(CODE_PREFIX + name), new byte[] {(byte) free});
          log.info("counter '{}' is new in this store: code {}", name, free);
        }
        served.put(name, code);
      }
      if (batch.count() > 0) {
        db.write(syncWrite, batch);
      }
    }
    return CounterNames.of(served);
  }

  @Override
  public CounterNames names() {
    return names;
  }

  @Override
  public CounterValue get(CounterId id) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      try {
        byte[] v = db.get(counters, id.toBytes());
        return v == null ? CounterValue.NEVER_WRITTEN : Codec.counterValue(v);
      } catch (RocksDBException e) {
        throw readFailure(e);
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public CounterValue getIfInMemory(CounterId id) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      try {
        byte[] v = db.get(counters, memoryOnly, id.toBytes());
        return v == null ? CounterValue.NEVER_WRITTEN : Codec.counterValue(v);
      } catch (RocksDBException e) {
        if (e.getStatus() != null && e.getStatus().getCode() == Status.Code.Incomplete) {
          return null; // would need to read a table block from disk
        }
        throw readFailure(e);
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public List<CounterValue> getAll(List<CounterId> ids) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      if (ids.isEmpty()) {
        return List.of();
      }
      List<byte[]> rawKeys = new ArrayList<>(ids.size());
      for (CounterId id : ids) {
        rawKeys.add(id.toBytes());
      }
      try {
        List<byte[]> values = db.multiGetAsList(Collections.nCopies(ids.size(), counters), rawKeys);
        List<CounterValue> out = new ArrayList<>(values.size());
        for (byte[] v : values) {
          out.add(v == null ? CounterValue.NEVER_WRITTEN : Codec.counterValue(v));
        }
        return out;
      } catch (RocksDBException e) {
        throw readFailure(e);
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public List<IdempotencyRecord> getKeys(List<String> wanted) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      if (wanted.isEmpty()) {
        return List.of();
      }
      List<byte[]> rawKeys = new ArrayList<>(wanted.size());
      for (String k : wanted) {
        rawKeys.add(Codec.keyBytes(k));
      }
      try {
        List<byte[]> values = db.multiGetAsList(Collections.nCopies(wanted.size(), keys), rawKeys);
        List<IdempotencyRecord> out = new ArrayList<>(values.size());
        for (byte[] v : values) {
          out.add(v == null ? null : Codec.idempotencyRecord(v));
        }
        return out;
      } catch (RocksDBException e) {
        throw readFailure(e);
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public void commit(Commit commit) {
    if (commit.isEmpty()) {
      return;
    }
    if (closed.get()) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "the store is closed");
    }
    if (!writable) {
      reopenIfSpace();
    }
    lifecycle.readLock().lock();
    try (WriteBatch batch = new WriteBatch()) {
      ensureOpen();
      int targets = outboxTargets;
      int n = commit.counterCount();
      // one outbox entry per target naming every counter of the commit (see Outbox)
      byte[] entry = targets > 0 && n > 0 ? new byte[n * CounterId.ENCODED_LENGTH] : null;
      for (int i = 0; i < n; i++) {
        byte[] id = commit.counterId(i).toBytes();
        batch.put(counters, id, Codec.counterValue(commit.counterValue(i)));
        if (entry != null) {
          System.arraycopy(id, 0, entry, i * CounterId.ENCODED_LENGTH, id.length);
        }
      }
      long seq = outboxSeq + 1;
      if (entry != null) {
        for (int t = 0; t < targets; t++) {
          batch.put(outbox, outboxKey(t, seq), entry);
        }
      }
      for (int i = 0; i < commit.keyCount(); i++) {
        byte[] k = Codec.keyBytes(commit.key(i));
        IdempotencyRecord r = commit.keyRecord(i);
        batch.put(keys, k, Codec.idempotencyRecord(r));
        batch.put(expiry, Codec.expiryKey(r.expiresAtSecond(), k), new byte[0]);
      }
      db.write(syncWrite, batch);
      writable = true;
      if (entry != null) {
        outboxSeq = seq;
        outboxIdsWritten += n;
        outboxEntriesWritten++;
      }
    } catch (RocksDBException e) {
      writable = false;
      throw writeFailure(e);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public void enableOutbox(int targets) {
    if (targets < 0 || targets > 127) {
      throw new IllegalArgumentException("outbox targets must be 0..127, got " + targets);
    }
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      long last = convertLegacyMarks();
      for (int t = 0; t < 128; t++) {
        last = Math.max(last, lastOutboxSeq(t));
      }
      outboxSeq = last;
      outboxTargets = targets;
    } catch (RocksDBException e) {
      throw writeFailure(e);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** The number of {@code target}'s last entry, 0 when it has none. */
  private long lastOutboxSeq(int target) {
    try (RocksIterator it = db.newIterator(outbox)) {
      it.seekForPrev(outboxKey(target, -1L)); // the largest possible key of the target
      for (; it.isValid(); it.prev()) {
        byte[] k = it.key();
        if (k[0] != (byte) target) {
          return 0;
        }
        if (k.length == OUTBOX_KEY_LENGTH) {
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
  private long convertLegacyMarks() throws RocksDBException {
    Map<Integer, List<byte[]>> marks = new LinkedHashMap<>();
    long last = 0;
    try (RocksIterator it = db.newIterator(outbox)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] k = it.key();
        if (k.length == 1 + CounterId.ENCODED_LENGTH) {
          marks.computeIfAbsent((int) k[0], t -> new ArrayList<>()).add(k);
        } else if (k.length == OUTBOX_KEY_LENGTH) {
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
            batch.delete(outbox, k);
          }
          batch.put(outbox, outboxKey(e.getKey(), ++last), entry);
        }
      }
      db.write(syncWrite, batch);
    }
    log.info("outbox: converted the marks of {} targets to entries", marks.size());
    return last;
  }

  /** Positions {@code it} at {@code from}, or just past it when {@code exclusive}. */
  private static void seekAfter(RocksIterator it, byte[] from, boolean exclusive) {
    it.seek(from);
    if (exclusive && it.isValid() && Arrays.equals(it.key(), from)) {
      it.next();
    }
  }

  @Override
  public long outboxSeq() {
    return outboxSeq;
  }

  @Override
  public long outboxRead(int target, long afterSeq, int limit, Set<CounterId> ids) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      long last = afterSeq;
      try (Slice upper = new Slice(new byte[] {(byte) (target + 1)});
          ReadOptions ro = new ReadOptions().setIterateUpperBound(upper);
          RocksIterator it = db.newIterator(outbox, ro)) {
        for (it.seek(outboxKey(target, afterSeq + 1)); it.isValid() && ids.size() < limit; ) {
          byte[] k = it.key();
          if (k.length == OUTBOX_KEY_LENGTH && k[0] == (byte) target) {
            byte[] v = it.value();
            for (int off = 0; off + CounterId.ENCODED_LENGTH <= v.length; ) {
              ids.add(
                  CounterId.fromBytes(Arrays.copyOfRange(v, off, off += CounterId.ENCODED_LENGTH)));
            }
            last = seqOf(k);
          }
          it.next();
        }
      }
      return last;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public void outboxClear(int target, long throughSeq) {
    lifecycle.readLock().lock();
    try (WriteBatch batch = new WriteBatch()) {
      if (closed.get()) {
        return;
      }
      long from = outboxCleared[target] + 1;
      if (throughSeq < from) {
        return;
      }
      if (throughSeq - from < POINT_DELETES) {
        for (long seq = from; seq <= throughSeq; seq++) {
          batch.delete(outbox, outboxKey(target, seq));
        }
      } else {
        batch.deleteRange(outbox, outboxKey(target, 0), outboxKey(target, throughSeq + 1));
      }
      db.write(asyncWrite, batch);
      outboxCleared[target] = throughSeq;
    } catch (RocksDBException e) {
      log.debug("clearing pushed outbox entries failed (they are pushed again): {}", describe(e));
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public long outboxEstimate() {
    long entries = statistic(StoreStatistic.OUTBOX_ENTRIES_ESTIMATED);
    long written = outboxEntriesWritten;
    return written == 0 ? entries : entries * outboxIdsWritten / written;
  }

  /**
   * {@inheritDoc}
   *
   * <p>An ordered scan of the counters' hash memtable first sorts what the memtable holds, so a
   * scan is kept open from one page to the next: a page that continues where an open scan stopped
   * costs only its own counters. The scan yields ids; their values are read by key. Whether a kept
   * scan shows counters committed after it began is up to RocksDB; the caller must not depend on it
   * (a re-push finds them in the outbox). Open scans are bounded in number and age.
   */
  @Override
  public void counterPage(
      CounterId after, int limit, List<CounterId> ids, List<CounterValue> values) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      Scan scan = takeScan(after);
      if (scan == null) {
        ReadOptions ro = new ReadOptions().setTotalOrderSeek(true);
        scan = new Scan(ro, db.newIterator(counters, ro), System.nanoTime());
        if (after == null) {
          scan.iterator.seekToFirst();
        } else {
          seekAfter(scan.iterator, after.toBytes(), true);
        }
      }
      RocksIterator it = scan.iterator;
      int first = ids.size();
      int n = 0;
      for (; it.isValid() && n < limit; it.next(), n++) {
        ids.add(CounterId.fromBytes(it.key()));
      }
      // The values are read by key, not from the iterator: counters are updated in place in the
      // memtable, and only reads by key take the lock that makes such an update atomic (an
      // iterator could see a value half overwritten). They are also the newest.
      values.addAll(getAll(ids.subList(first, ids.size())));
      if (n > 0 && n == limit) {
        // kept even when it just ran out: the page after this one then costs nothing either
        scan.last = ids.get(ids.size() - 1);
        keepScan(scan);
      } else {
        scan.close();
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

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

  // guarded by itself; every scan in it belongs to the open db
  private final List<Scan> scans = new ArrayList<>();

  /** The open scan that stopped right at {@code after}, removed from the open ones; or null. */
  private Scan takeScan(CounterId after) {
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

  private void keepScan(Scan scan) {
    synchronized (scans) {
      scans.add(scan);
      if (scans.size() > MAX_SCANS) {
        scans.remove(0).close();
      }
    }
  }

  /** Scans kept open between pages (for tests). */
  int openScans() {
    synchronized (scans) {
      return scans.size();
    }
  }

  /** Before the db closes (under the write lock): its iterators must go first. */
  private void closeScans() {
    synchronized (scans) {
      scans.forEach(Scan::close);
      scans.clear();
    }
  }

  /** An outbox entry's key: the target, then the commit's number (big-endian, so in order). */
  private static byte[] outboxKey(int target, long seq) {
    byte[] k = new byte[OUTBOX_KEY_LENGTH];
    k[0] = (byte) target;
    for (int i = 0; i < 8; i++) {
      k[1 + i] = (byte) (seq >>> (56 - 8 * i));
    }
    return k;
  }

  private static long seqOf(byte[] key) {
    long seq = 0;
    for (int i = 1; i < OUTBOX_KEY_LENGTH; i++) {
      seq = (seq << 8) | (key[i] & 0xff);
    }
    return seq;
  }

  @Override
  public int purgeExpiredKeys(long nowSecond, int limit) {
    lifecycle.readLock().lock();
    try {
      if (closed.get()) {
        return 0;
      }
      int purged = 0;
      try (ReadOptions ro = new ReadOptions();
          RocksIterator it = db.newIterator(expiry, ro);
          WriteBatch batch = new WriteBatch()) {
        for (it.seekToFirst(); it.isValid() && purged < limit; it.next()) {
          byte[] ek = it.key();
          long expiresAt = Codec.expiryOf(ek);
          if (expiresAt > nowSecond) {
            break;
          }
          byte[] k = Codec.keyOfExpiry(ek);
          byte[] current = db.get(keys, k);
          // a key reused after it expired has a later expiry of its own: keep that record
          if (current != null && Codec.idempotencyRecord(current).expiresAtSecond() <= nowSecond) {
            batch.delete(keys, k);
          }
          batch.delete(expiry, ek);
          purged++;
        }
        if (batch.count() > 0) {
          db.write(asyncWrite, batch);
        }
      } catch (RocksDBException e) {
        log.warn("purging expired idempotency keys failed: {}", e.getMessage());
      }
      return purged;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public boolean writable() {
    return writable && !closed.get();
  }

  @Override
  public long statistic(StoreStatistic statistic) {
    lifecycle.readLock().lock();
    try {
      if (closed.get()) {
        return -1;
      }
      try {
        return switch (statistic) {
          case COUNTERS_ESTIMATED -> db.getLongProperty(counters, "rocksdb.estimate-num-keys");
          case KEYS_ESTIMATED -> db.getLongProperty(keys, "rocksdb.estimate-num-keys");
          case OUTBOX_ENTRIES_ESTIMATED -> db.getLongProperty(outbox, "rocksdb.estimate-num-keys");
          case SST_BYTES -> {
            long sum = 0;
            for (ColumnFamilyHandle h : handles) {
              sum += db.getLongProperty(h, "rocksdb.total-sst-files-size");
            }
            yield sum;
          }
          case COUNTERS_SST_BYTES -> db.getLongProperty(counters, "rocksdb.total-sst-files-size");
          case MEMTABLE_BYTES -> db.getLongProperty("rocksdb.cur-size-all-mem-tables");
          case LIVE_BYTES -> db.getLongProperty("rocksdb.estimate-live-data-size");
        };
      } catch (RocksDBException e) {
        return -1;
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Flushes memtables and compacts every column family fully; for measurements and tools. */
  public void compact() {
    try {
      // force: a lone file would otherwise be moved to the last level as it is, never rewritten
      // with the last level's compression and zeroed sequence numbers
      try (org.rocksdb.FlushOptions flush = new org.rocksdb.FlushOptions().setWaitForFlush(true);
          org.rocksdb.CompactRangeOptions full =
              new org.rocksdb.CompactRangeOptions()
                  .setBottommostLevelCompaction(
                      org.rocksdb.CompactRangeOptions.BottommostLevelCompaction.kForce)) {
        for (ColumnFamilyHandle h : handles) {
          db.flush(flush, h);
          db.compactRange(h, null, null, full);
        }
      }
    } catch (RocksDBException e) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "compaction failed: " + e.getMessage(), e);
    }
  }

  public Path directory() {
    return dir;
  }

  /**
   * Writes a consistent copy of the store, as of now, into {@code target} (which must not exist)
   * while the store keeps serving: a RocksDB checkpoint, its table files hard-linked when {@code
   * target} is on the same file system, copied otherwise. Every write acknowledged before the call
   * is in it.
   */
  public void checkpoint(Path target) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      try (org.rocksdb.Checkpoint cp = org.rocksdb.Checkpoint.create(db)) {
        cp.createCheckpoint(target.toString());
      }
    } catch (RocksDBException e) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "backup failed: " + describe(e), e);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      log.warn("final WAL sync failed: {}", e.getMessage());
    }
    lifecycle.writeLock().lock();
    try {
      closeDb();
    } finally {
      lifecycle.writeLock().unlock();
    }
    syncWrite.close();
    asyncWrite.close();
    memoryOnly.close();
    dbOptions.close();
    cfOptions.forEach(ColumnFamilyOptions::close);
    blockCache.close();
  }

  private static TallyException readFailure(RocksDBException e) {
    return new TallyException(ErrorKind.UNAVAILABLE, "store read failed: " + describe(e), e);
  }

  private static TallyException writeFailure(RocksDBException e) {
    return new TallyException(ErrorKind.UNAVAILABLE, "store write failed: " + describe(e), e);
  }

  private static String describe(RocksDBException e) {
    Status s = e.getStatus();
    if (s != null && s.getSubCode() == Status.SubCode.NoSpace) {
      return "no space left on the data disk";
    }
    return s != null ? s.getCodeString() : e.getMessage();
  }

  private static boolean startsWith(byte[] b, byte[] prefix) {
    if (b.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (b[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
