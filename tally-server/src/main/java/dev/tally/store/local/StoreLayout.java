package dev.tally.store.local;

import dev.tally.counter.CounterId;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.HashLinkedListMemTableConfig;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.ReadTier;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteOptions;

/**
 * The store's column families, what their keys and values hold, and the RocksDB options they are
 * opened, written and read with. Built once and read-only after, so safe to share between threads;
 * owned by {@link StoreDb}, which closes its options after the database.
 *
 * <pre>
 * column family "default"  (meta)                                    see CounterCodes
 *   key   : "counter-code/" | counter name, UTF-8
 *   value : the counter's code (1 byte, 1..255); a code never moves
 *
 * column family "counters"                                           see Codec
 *   key   : post id (8 bytes, big-endian) | counter code (1 byte)           = 9 bytes
 *   value : varint P | varint N | varint updated-at (epoch seconds)         = 3..30 bytes
 *
 * column family "idempotency"                                        see Codec, KeyFormat
 *   key   : 0x80 | 2 bits, 8 bits, 8 bits: an 18-bit hash of the key | the Idempotency-Key,
 *           US-ASCII (1..255 bytes); stores of earlier versions hold bare keys until they expire
 *   value : varint post id | code (1 byte) | zigzag delta | zigzag count
 *           | varint updated-at | varint expires-at
 *
 * column family "idempotency-expiry"   (an index to forget keys in expiry order)
 *   key   : expires-at (8 bytes, big-endian) | the first idempotency key of a commit with it,
 *           as stored in "idempotency"
 *   value : the commit's other keys with this expiry, each as length (1 byte) | key (without the
 *           hash prefix, which it gets back when the entry's own key has one); often empty
 *           (one entry per commit and expiry second, not per key; entries of the earlier format,
 *           one per key, are those with an empty value)
 *
 * column family "outbox"   (one entry per commit and push target)    see RocksOutbox
 *   key   : push target (1 byte) | commit number (8 bytes, big-endian)      = 9 bytes
 *   value : the ids (9 bytes each, as in "counters") of the commit's counters
 *   earlier format, converted to entries when the outbox is enabled:
 *   key   : push target (1 byte) | counter id (9 bytes)                     = 10 bytes
 *   value : empty
 * </pre>
 *
 * Varints are unsigned LEB128 ({@link dev.tally.counter.Varint}); zigzag maps a signed value to an
 * unsigned one before it is written as a varint. A typical counter (P below 2^21, N below 2^7, a
 * 2020s timestamp) takes 3 + 1 + 5 = 9 value bytes before compression.
 */
final class StoreLayout implements AutoCloseable {

  static {
    RocksDB.loadLibrary();
  }

  /** The column families, in the order they are opened. */
  enum Family {
    META(RocksDB.DEFAULT_COLUMN_FAMILY),
    COUNTERS("counters"),
    KEYS("idempotency"),
    EXPIRY("idempotency-expiry"),
    OUTBOX("outbox");

    final byte[] name;

    Family(String name) {
      this(name.getBytes(StandardCharsets.UTF_8));
    }

    Family(byte[] name) {
      this.name = name;
    }
  }

  // hash buckets of the counters' memtable: 8 MiB of its arena, ≈ one bucket per counter of a
  // million-counter working set
  private static final int MEMTABLE_BUCKETS = 1 << 20;
  // The counters' memtable: a counter takes ≈ 57 bytes of it with its share of the buckets, so
  // RocksDB's default of 64 MiB held ≈ 1.1M counters and, under writes spread over a million
  // of them, filled and flushed every ≈ 12 s, each flush sorting about every counter again (4-5 s
  // of CPU). At 128 MiB the same load flushes when the log's bound asks (--wal-limit-mb), half as
  // often; at most two such memtables exist at once (docs/operations.md, "Overload").
  static final long COUNTERS_WRITE_BUFFER_BYTES = 128L << 20;
  // locks striped over the counters for their in-place updates (see options()): one committer
  // writes and a few event loops read, so a few dozen stripes keep contention negligible, and
  // their array (56 bytes a lock) stays in the CPU's cache, where RocksDB's default of 10,000 cost
  // a cache miss per updated counter (4 % of a node's CPU at `-P 16`; docs/performance-notes.md)
  private static final long INPLACE_LOCKS = 64;

  /**
   * The write-ahead log's default bound ({@code --wal-limit-mb}), which bounds the replay after a
   * crash: up to ≈ 16 s to ready on the test machine under writes spread over a million counters
   * (docs/operations.md), and against 64 MiB it took spread batch writes from ≈ 440k to ≈ 540k
   * increments/s, fewer flushes being forced by the log (docs/performance-notes.md).
   */
  static final long DEFAULT_WAL_LIMIT_BYTES = 256L << 20;

  /** Spent write-ahead logs kept to be written over by the next ones (see the constructor). */
  static final int SPARE_LOGS = 4;

  private final long walLimitBytes;
  private final LRUCache blockCache;
  private final DBOptions dbOptions;
  private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
  private final List<BloomFilter> filters = new ArrayList<>();
  private final List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
  private final WriteOptions syncWrite = new WriteOptions().setSync(true);
  private final WriteOptions asyncWrite = new WriteOptions().setSync(false);
  private final ReadOptions memoryOnly = new ReadOptions().setReadTier(ReadTier.BLOCK_CACHE_TIER);

  StoreLayout(long blockCacheBytes) {
    this(blockCacheBytes, DEFAULT_WAL_LIMIT_BYTES);
  }

  /**
   * @param blockCacheBytes RocksDB's block cache
   * @param walLimitBytes the write-ahead logs' total size beyond which the memtables that pin the
   *     oldest log are flushed, so that it can be reused
   */
  StoreLayout(long blockCacheBytes, long walLimitBytes) {
    this.walLimitBytes = walLimitBytes;
    this.blockCache = new LRUCache(blockCacheBytes);
    this.dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setMaxBackgroundJobs(2)
            .setBytesPerSync(1 << 20)
            .setKeepLogFileNum(5)
            // A write-ahead log that has served its turn is kept and written over by a later one
            // instead of being deleted: its blocks are allocated and written, so a commit's sync
            // writes the data alone, where appending to a new file also writes the file's size
            // (its inode) each time, which cost a third of the sync's CPU and latency on the test
            // machine's ext4 (docs/performance-notes.md). A new store is given spent logs to begin
            // with (SpareLogs); beyond their size its logs grow as new files until its first are
            // spent (after about the log bound of writing), and are reused after. Old records
            // left in a reused log carry the old log's number, and replay after a crash stops at
            // them. Logs are spent in groups: a log ends whenever a family's memtable is flushed
            // (the idempotency keys' every ≈ 64 MiB of keys) but stays until all of its data is
            // flushed, which for the counters comes at the log bound, and then the logs of that
            // stretch are spent at once. With one kept, the others were deleted and half of the
            // next logs under keyed writes were new files; SPARE_LOGS covers such a group. Their
            // disk is at most about the log bound again (docs/operations.md).
            .setRecycleLogFileNum(SPARE_LOGS)
            // the counters' hash memtable (see options()) takes one writer at a time, which is
            // what the single committer gives it anyway
            .setAllowConcurrentMemtableWrite(false)
            // After a crash the log since the last flush is replayed before the node is ready
            // (≈ 20-35 MiB/s on the test machine). Left to itself RocksDB lets the log grow to
            // four times all memtables (GiBs here: the small column families rarely flush and pin
            // old log files); this bound flushes what pins the oldest log beyond it.
            .setMaxTotalWalSize(walLimitBytes)
            // and the replayed memtables are kept rather than flushed before the store opens
            .setAvoidFlushDuringRecovery(true);
    for (Family family : Family.values()) {
      descriptors.add(new ColumnFamilyDescriptor(family.name, options(family)));
    }
  }

  /**
   * Column family options. Counters are looked up mostly where they exist: their last level (which
   * holds nearly all data) keeps no bloom filter and uses 16 KiB blocks, which took compacted
   * counters from 8.8 to 7.0 bytes each (BENCHMARKS.md). Idempotency keys are looked up mostly
   * where they do not exist, so they keep filters on every level. The others are plain.
   */
  private ColumnFamilyOptions options(Family family) {
    ColumnFamilyOptions o = new ColumnFamilyOptions();
    BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(blockCache);
    if (family == Family.COUNTERS || family == Family.KEYS) {
      BloomFilter filter = new BloomFilter(10, false);
      filters.add(filter);
      table.setFilterPolicy(filter).setOptimizeFiltersForMemory(true);
    }
    if (family == Family.COUNTERS) {
      table.setBlockSize(16 * 1024);
      // Every counter key is 9 bytes and is found by its whole self: a memtable hashed on the
      // whole key inserts and finds a counter in a few memory accesses, where the default skip
      // list spends a CPU-cache miss per level on random keys (most of the committer's time on
      // writes spread over many counters; docs/performance-notes.md). Ordered scans of this
      // family (CounterScans) must ask for total order.
      // A counter written again while its last version is still in the memtable is updated in
      // place when its value is no longer (the usual case: varints grow rarely), so the memtable
      // holds about one entry per counter instead of one per commit, and a flush sorts each
      // counter once. In-place updates give up consistent snapshots of this family, which
      // nothing here uses (CounterScans says so).
      o.setInplaceUpdateSupport(true).setInplaceUpdateNumLocks(INPLACE_LOCKS);
      o.setWriteBufferSize(COUNTERS_WRITE_BUFFER_BYTES);
      o.useFixedLengthPrefixExtractor(CounterId.ENCODED_LENGTH)
          .setMemTableConfig(hashedMemtable(MEMTABLE_BUCKETS));
    }
    if (family == Family.KEYS) {
      // Idempotency keys are only ever read, written and deleted one by one, never scanned. A skip
      // list of random keys spent half of a keyed write's commit in its search; a memtable hashed
      // on the whole key moved most of that cost to the flush, which sorts the buckets' keys into
      // a skip list at random places, 3-5 µs a key on RocksDB's thread (docs/performance-notes.md,
      // "Idempotency keys by hash prefix"). So keys are stored behind a hash prefix of their own
      // (Codec.keyBytes) and the memtable is hashed on that prefix: a bucket holds the few keys of
      // one prefix in order, found in a few memory accesses still, and a flush, which reads the
      // buckets one after the other, searches its skip list once for a bucket's first key and
      // appends the rest of that ascending run. Capped, not fixed, at three bytes: keys of the
      // earlier form,
      // bare and as short as one byte, are still looked up and deleted. The expiry index, which the
      // purge scans in order, keeps its skip list.
      o.useCappedPrefixExtractor(Codec.KEY_PREFIX_LENGTH)
          .setMemTableConfig(hashedMemtable(Codec.KEY_PREFIXES));
    }
    o.setTableFormatConfig(table)
        .setCompressionType(CompressionType.LZ4_COMPRESSION)
        .setBottommostCompressionType(CompressionType.ZSTD_COMPRESSION)
        .setOptimizeFiltersForHits(family == Family.COUNTERS)
        .setLevelCompactionDynamicLevelBytes(true);
    cfOptions.add(o);
    return o;
  }

  /** A memtable hashed on each key's prefix (the options' prefix extractor), for point access. */
  private static HashLinkedListMemTableConfig hashedMemtable(int buckets) {
    return new HashLinkedListMemTableConfig()
        .setBucketCount(buckets)
        .setIfLogBucketDistWhenFlush(false);
  }

  /** The write-ahead logs' bound ({@code --wal-limit-mb}). */
  long walLimitBytes() {
    return walLimitBytes;
  }

  DBOptions dbOptions() {
    return dbOptions;
  }

  /** One descriptor per {@link Family}, in its order. */
  List<ColumnFamilyDescriptor> descriptors() {
    return descriptors;
  }

  /** Writes that are durable when they return: the write-ahead log is fsync'ed. */
  WriteOptions syncWrite() {
    return syncWrite;
  }

  /** Writes whose loss in a crash costs nothing but repeated work. */
  WriteOptions asyncWrite() {
    return asyncWrite;
  }

  /** Reads that fail with {@code Incomplete} rather than read a table block from disk. */
  ReadOptions memoryOnly() {
    return memoryOnly;
  }

  /** Frees the options; after the database that used them is closed. */
  @Override
  public void close() {
    syncWrite.close();
    asyncWrite.close();
    memoryOnly.close();
    dbOptions.close();
    cfOptions.forEach(ColumnFamilyOptions::close);
    filters.forEach(BloomFilter::close);
    blockCache.close();
  }
}
