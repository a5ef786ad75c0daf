package dev.tally.engine;

import dev.tally.counter.CounterId;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Counts as reads answer them: on a single node the node's committed values ({@link
 * LocalCountReader}); in a cluster this node's own part plus the other writers' share it follows.
 * Implementations are thread-safe and never block the caller.
 */
public interface CountReader {

  /**
   * Counts and times of some counters, in the order asked.
   *
   * @param counts each counter's count
   * @param updatedAtSeconds each counter's last write time, epoch seconds (0: never written)
   * @param stalenessMillis how old the other writers' part of these counts may be, at most; -1 when
   *     they hold no other writers' part (a single node)
   */
  record Counts(long[] counts, long[] updatedAtSeconds, long stalenessMillis) {}

  /** The counts of {@code ids} if they can be answered from memory now, else null. Never blocks. */
  Counts peek(List<CounterId> ids);

  /**
   * The counts of {@code ids}; may read the disk or the cluster. The stage completes on some other
   * thread (the caller hands back), or exceptionally with a {@link dev.tally.error.TallyException}.
   *
   * @throws dev.tally.error.TallyException {@link dev.tally.error.ErrorKind#OVERLOADED} when too
   *     many reads wait already
   */
  CompletionStage<Counts> read(List<CounterId> ids);
}
