package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.engine.CountReader;
import dev.tally.engine.LocalCountReader;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;

/**
 * Counts of a cluster member: this node's own committed part ({@link LocalCountReader}) plus the
 * other writers' share from the {@link FollowedCounters} view, with the later of the two times.
 * Reads of followed counters are answered from memory; a counter not followed yet costs one Redis
 * read, after which it is followed. Thread-safe; holds no state of its own.
 */
public final class ClusterCountReader implements CountReader {

  private final LocalCountReader local;
  private final FollowedCounters view;
  private final BooleanSupplier redisReachable;

  /**
   * @param redisReachable false while the home Redis is known to be down: a counter not followed
   *     then fails at once instead of after the command timeout
   */
  public ClusterCountReader(
      LocalCountReader local, FollowedCounters view, BooleanSupplier redisReachable) {
    this.local = local;
    this.view = view;
    this.redisReachable = redisReachable;
  }

  @Override
  public Counts peek(List<CounterId> ids) {
    long[] counts = new long[ids.size()];
    long[] times = new long[ids.size()];
    long staleness = 0;
    for (int i = 0; i < counts.length; i++) {
      CounterId id = ids.get(i);
      FollowedCounters.Share s = view.peek(id);
      if (s == null) {
        return null;
      }
      CounterValue own = local.peekValue(id);
      if (own == null) {
        return null;
      }
      counts[i] = own.count() + s.others();
      times[i] = Math.max(own.updatedAtSecond(), s.updatedAtSecond());
      staleness = Math.max(staleness, view.stalenessMillis(id.postId()));
    }
    return new Counts(counts, times, staleness);
  }

  @Override
  public CompletionStage<Counts> read(List<CounterId> ids) {
    // this node's own part from memory when it is there, so that a read waiting only for counters
    // not followed yet (a member whose view is still filling after a start) costs no hop to the
    // store's read threads and no store read besides its Redis read
    Counts inMemory = local.peek(ids);
    CompletionStage<Counts> own =
        inMemory != null ? CompletableFuture.completedFuture(inMemory) : local.read(ids);
    CompletionStage<FollowedCounters.Share[]> others;
    if (!redisReachable.getAsBoolean() && !allFollowed(ids)) {
      others =
          CompletableFuture.failedFuture(
              new TallyException(
                  ErrorKind.UNAVAILABLE,
                  "the cluster's counts are unreachable: Redis does not answer"));
    } else {
      others = view.follow(ids);
    }
    return own.thenCombine(
        others,
        (mine, shares) -> {
          long[] counts = new long[ids.size()];
          long[] times = new long[ids.size()];
          long staleness = 0;
          for (int i = 0; i < counts.length; i++) {
            counts[i] = mine.counts()[i] + shares[i].others();
            times[i] = Math.max(mine.updatedAtSeconds()[i], shares[i].updatedAtSecond());
            staleness = Math.max(staleness, view.stalenessMillis(ids.get(i).postId()));
          }
          return new Counts(counts, times, staleness);
        });
  }

  private boolean allFollowed(List<CounterId> ids) {
    for (CounterId id : ids) {
      if (view.peek(id) == null) {
        return false;
      }
    }
    return true;
  }
}
