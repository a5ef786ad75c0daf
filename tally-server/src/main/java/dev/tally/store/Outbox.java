package dev.tally.store;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import java.util.List;
import java.util.Set;

/**
 * The store as a cluster node's outbox: which counters changed since they were last pushed to each
 * push target (a region's Redis), kept durably in the same commits as the counters themselves, so
 * that a crash never loses the fact that something is still to be pushed.
 *
 * <p>The outbox is a log of commits: every commit that changes counters also writes, for every
 * target, one entry numbered with the commit's outbox sequence number and naming the counters it
 * changed. One entry per commit, not per counter, keeps a commit's extra work small; a pusher that
 * has pushed every commit up to some number clears the entries up to it in one step.
 *
 * <p>Threading: {@link #enableOutbox} before the first commit; commits with outbox entries come one
 * at a time (a cluster member's aggregator orders its committers' commits), and {@link #outboxSeq}
 * read by the committing thread right after its commit, before the next one, is that commit's
 * number; the rest from any thread.
 */
public interface Outbox {

  /**
   * From now on every commit with counters also writes an entry for targets 0..targets-1. Marks of
   * the earlier format (one key per counter) are turned into entries.
   */
  void enableOutbox(int targets);

  /** The number of the latest commit that wrote outbox entries; 0 when there was none yet. */
  long outboxSeq();

  /**
   * Reads {@code target}'s entries after {@code afterSeq} in commit order, adding the counters they
   * name to {@code ids}, until {@code ids} holds {@code limit} or more or the entries end. Returns
   * the number of the last entry read, {@code afterSeq} when there was none.
   */
  long outboxRead(int target, long afterSeq, int limit, Set<CounterId> ids);

  /**
   * Removes {@code target}'s entries numbered {@code throughSeq} or less: every counter they name
   * is in Redis with a value at least as new. The removal need not be durable: an entry that comes
   * back after a crash only causes one more (idempotent) push.
   */
  void outboxClear(int target, long throughSeq);

  /** Counters named by the entries of every target, as estimated by the store. */
  long outboxEstimate();

  /**
   * Up to {@code limit} stored counters in id order after {@code after} (exclusive; null for the
   * first page), appended to {@code ids} and {@code values}.
   */
  void counterPage(CounterId after, int limit, List<CounterId> ids, List<CounterValue> values);
}
