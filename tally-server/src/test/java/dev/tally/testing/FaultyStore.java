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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real store with a fault-injection seam: the next {@code n} commits fail as a full disk would,
 * before anything is written. Thread-safe.
 */
public final class FaultyStore implements CounterStore {

  private final CounterStore inner;
  private final AtomicInteger failNext = new AtomicInteger();
  private final AtomicInteger commits = new AtomicInteger();

  public FaultyStore(CounterStore inner) {
    this.inner = inner;
  }

  public void failNextCommits(int n) {
    failNext.set(n);
  }

  public int commits() {
    return commits.get();
  }

  @Override
  public void commit(Commit commit) {
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
    return inner.getIfInMemory(id);
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
