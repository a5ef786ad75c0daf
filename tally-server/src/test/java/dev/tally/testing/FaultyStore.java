package dev.tally.testing;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.CounterStore;
import dev.tally.store.IdempotencyRecord;
import dev.tally.store.StoreStatistic;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real store with fault-injection seams: the next {@code n} commits fail as a full disk would,
 * before anything is written; the next commit can be held until a latch opens (a slow disk).
 * Thread-safe.
 */
public final class FaultyStore implements CounterStore {

  private final CounterStore inner;
  private final AtomicInteger failNext = new AtomicInteger();
  private final AtomicInteger commits = new AtomicInteger();
  private final AtomicReference<CountDownLatch[]> hold = new AtomicReference<>();
  private volatile boolean onDiskOnly;

  public FaultyStore(CounterStore inner) {
    this.inner = inner;
  }

  public void failNextCommits(int n) {
    failNext.set(n);
  }

  /**
   * The next commit signals {@code held} and then waits until {@code release} opens (at most 30 s)
   * before it goes on (or fails, if failures are asked for).
   */
  public void holdNextCommit(CountDownLatch held, CountDownLatch release) {
    hold.set(new CountDownLatch[] {held, release});
  }

  /**
   * From now on no value is in memory: {@link #getIfInMemory} answers null, as for a store larger
   * than its memory, whose values only a disk read finds.
   */
  public void valuesOnDiskOnly() {
    onDiskOnly = true;
  }

  public int commits() {
    return commits.get();
  }

  @Override
  public void commit(Commit commit) {
    CountDownLatch[] h = hold.getAndSet(null);
    if (h != null) {
      h[0].countDown();
      try {
        h[1].await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "injected: no space left on the data disk");
    }
    inner.commit(commit);
    commits.incrementAndGet();
  }

  @Override
  public CounterNames names() {
    return inner.names();
  }

  @Override
  public CounterValue get(CounterId id) {
    return inner.get(id);
  }

  @Override
  public CounterValue getIfInMemory(CounterId id) {
    return onDiskOnly ? null : inner.getIfInMemory(id);
  }

  @Override
  public List<CounterValue> getAll(List<CounterId> ids) {
    return inner.getAll(ids);
  }

  @Override
  public List<IdempotencyRecord> getKeys(List<String> keys) {
    return inner.getKeys(keys);
  }

  @Override
  public int purgeExpiredKeys(long nowSecond, int limit) {
    return inner.purgeExpiredKeys(nowSecond, limit);
  }

  @Override
  public boolean writable() {
    return inner.writable();
  }

  @Override
  public long statistic(StoreStatistic statistic) {
    return inner.statistic(statistic);
  }

  @Override
  public void close() {
    inner.close();
  }
}
