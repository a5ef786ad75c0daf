package dev.tally.store;

/**
 * A store figure for metrics and tools, read with {@link CounterStore#statistic}. Immutable; the
 * figures are the store's estimates at the moment they are read.
 */
public enum StoreStatistic {
  /** Counters stored. */
  COUNTERS_ESTIMATED,
  /** Idempotency keys remembered. */
  KEYS_ESTIMATED,
  /** Outbox entries (one per commit and push target, not per counter). */
  OUTBOX_ENTRIES_ESTIMATED,
  /** Bytes of every table file on disk. */
  SST_BYTES,
  /** Bytes of the counters' table files on disk. */
  COUNTERS_SST_BYTES,
  /** Bytes held by the write buffers (memtables). */
  MEMTABLE_BYTES,
  /** Bytes of live data, as estimated by the store. */
  LIVE_BYTES
}
