package dev.tally.store;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import java.util.List;

/**
 * The store as a cluster node's outbox: which counters changed since they were last pushed to each
 * push target (a region's Redis), kept durably in the same commits as the counters themselves, so
 * that a crash never loses the fact that something is still to be pushed.
 *
 * <p>Threading: {@link #enableOutbox} before the first commit; {@link #outboxRemoveIfCurrent} only
 * on the committer thread (it must not race a commit of the same counter); the pages from any
 * thread.
 */
public interface Outbox {

  /** From now on every committed counter is also marked as unpushed for targets 0..targets-1. */
  void enableOutbox(int targets);

  /**
   * Up to {@code limit} counters marked unpushed for {@code target}, in id order, after {@code
   * after} (exclusive; null for the first page).
   */
  List<CounterId> outboxPage(int target, CounterId after, int limit);

  /**
   * Clears the marks of {@code ids} for {@code target} where the counter's stored value is still
   * {@code values} (what was pushed); a counter committed again since keeps its mark. Committer
   * thread only. The removal need not be durable: a mark that comes back after a crash only causes
   * one more (idempotent) push.
   */
  void outboxRemoveIfCurrent(int target, List<CounterId> ids, List<CounterValue> values);

  /** Marks of every target, as estimated by the store. */
  long outboxEstimate();

  /**
   * Up to {@code limit} stored counters in id order after {@code after} (exclusive; null for the
   * first page), appended to {@code ids} and {@code values}.
   */
  void counterPage(CounterId after, int limit, List<CounterId> ids, List<CounterValue> values);
}
