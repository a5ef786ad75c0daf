package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The node's own committed values as counts: from the {@link ReadCache} when in memory, else read
 * on the bounded read executor. Thread-safe; holds no state of its own.
 */
public final class LocalCountReader implements CountReader {

  private final ReadCache cache;
  private final Executor readExecutor;

  public LocalCountReader(ReadCache cache, Executor readExecutor) {
    this.cache = cache;
    this.readExecutor = readExecutor;
  }

  @Override
  public Counts peek(List<CounterId> ids) {
    long[] counts = new long[ids.size()];
    long[] times = new long[ids.size()];
    for (int i = 0; i < counts.length; i++) {
      CounterValue v = cache.peek(ids.get(i));
      if (v == null) {
        return null;
      }
      counts[i] = v.count();
      times[i] = v.updatedAtSecond();
    }
    return new Counts(counts, times, -1);
  }

  @Override
  public CompletionStage<Counts> read(List<CounterId> ids) {
    try {
      return CompletableFuture.supplyAsync(() -> counts(cache.readAll(ids)), readExecutor);
    } catch (RejectedExecutionException e) {
      throw new TallyException(ErrorKind.OVERLOADED, "too many reads are waiting; retry shortly");
    }
  }

  /** The committed value of {@code id} if it is in memory, else null; never blocks. */
  public CounterValue peekValue(CounterId id) {
    return cache.peek(id);
  }

  private static Counts counts(List<CounterValue> values) {
    long[] counts = new long[values.size()];
    long[] times = new long[values.size()];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = values.get(i).count();
      times[i] = values.get(i).updatedAtSecond();
    }
    return new Counts(counts, times, -1);
  }
}
