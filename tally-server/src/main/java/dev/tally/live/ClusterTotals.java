package dev.tally.live;

import dev.tally.counter.CounterId;
import java.util.List;

/**
 * Receives counters' cluster-wide totals as a node learns them (in cluster mode, from the results
 * of its pushes to Redis). Implementations must only hand off: calls come from Redis client I/O
 * threads and must never block.
 */
@FunctionalInterface
public interface ClusterTotals {

  /**
   * {@code totals[i]} is the total of {@code ids.get(i)} across all writers, as Redis held it right
   * after this node's push; {@code updatedAtSecond} is when this node learned it (epoch seconds).
   */
  void totals(List<CounterId> ids, long[] totals, long updatedAtSecond);
}
