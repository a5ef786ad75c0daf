package dev.tally.store;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import java.util.List;

/**
 * A node's durable state: its own slot of every counter it has written, and the idempotency keys of
 * recent writes.
 *
 * <p>Threading: reads ({@code get*}) are safe from any thread. {@link #commit} and {@link
 * #purgeExpiredKeys} are called by the aggregator's committers, several at once; commits in flight
 * at the same time never share a counter (each committer owns its counters). The owner (the node's
 * main) opens and closes the store.
 */
public interface CounterStore extends AutoCloseable {

  /** The counter names this store serves, with the codes they are stored under. */
  CounterNames names();

  /** The stored value of {@code id}, or {@link CounterValue#NEVER_WRITTEN}. */
  CounterValue get(CounterId id);

  /**
   * The stored value of {@code id} if the store can tell without disk I/O (from memory: write
   * buffers, block cache), else null. Never blocks on the disk: safe on an event loop.
   */
  CounterValue getIfInMemory(CounterId id);

  /** The stored values of {@code ids}, in the same order. */
  List<CounterValue> getAll(List<CounterId> ids);

  /** The records of {@code keys}, in the same order; null where a key is unknown. */
  List<IdempotencyRecord> getKeys(List<String> keys);

  /**
   * Writes {@code commit} atomically and durably: when this returns, every part of it survives a
   * crash of the process or the machine.
   *
   * @throws dev.tally.error.TallyException (retriable) when the write failed; then none of it is
   *     stored
   */
  void commit(Commit commit);

  /**
   * Forgets up to {@code limit} idempotency keys that expired at or before {@code nowSecond}.
   *
   * @return how many keys were forgotten
   */
  int purgeExpiredKeys(long nowSecond, int limit);

  /** False once a write failed and the store has not recovered, or after close. */
  boolean writable();

  /** A store figure for metrics and tools (bytes, keys); -1 where unknown or closed. */
  long statistic(StoreStatistic statistic);

  /** Closes the store; pending reads fail. Idempotent. */
  @Override
  void close();
}
