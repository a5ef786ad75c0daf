package dev.tally.store;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import java.util.ArrayList;
import java.util.List;

/**
 * One atomic group commit: new counter values and the idempotency keys of the writes that produced
 * them. The store writes all of it or none of it. Not thread-safe: built and committed by the
 * aggregator's committer thread, then reused after {@link #clear()}.
 */
public final class Commit {

  private final List<CounterId> counterIds = new ArrayList<>();
  private final List<CounterValue> counterValues = new ArrayList<>();
  private final List<String> keys = new ArrayList<>();
  private final List<IdempotencyRecord> keyRecords = new ArrayList<>();

  public void putCounter(CounterId id, CounterValue value) {
    counterIds.add(id);
    counterValues.add(value);
  }

  public void putKey(String key, IdempotencyRecord record) {
    keys.add(key);
    keyRecords.add(record);
  }

  public int counterCount() {
    return counterIds.size();
  }

  public CounterId counterId(int i) {
    return counterIds.get(i);
  }

  public CounterValue counterValue(int i) {
    return counterValues.get(i);
  }

  public int keyCount() {
    return keys.size();
  }

  public String key(int i) {
    return keys.get(i);
  }

  public IdempotencyRecord keyRecord(int i) {
    return keyRecords.get(i);
  }

  public boolean isEmpty() {
    return counterIds.isEmpty() && keys.isEmpty();
  }

  public void clear() {
    counterIds.clear();
    counterValues.clear();
    keys.clear();
    keyRecords.clear();
  }
}
