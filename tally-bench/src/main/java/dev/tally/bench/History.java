package dev.tally.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The history of a load run's increments, for the exactness check: every write sent (attempted),
 * each with its idempotency key and whether it was acknowledged. Thread-safe.
 *
 * <p>After the run: every acknowledged increment must be in the final count (none lost), and no
 * increment may be counted twice (the count never exceeds the distinct writes attempted). Once the
 * in-doubt writes (sent, no 200 seen) are retried with their keys, the count must equal the number
 * of distinct writes attempted exactly.
 */
public final class History {

  /** One increment sent: its counter and key. */
  public record Op(long post, String counter, String key) {}

  /** Outcome of the check for one counter. */
  public record CounterCheck(
      long post, String counter, long attempted, long acknowledged, long observedDelta) {
    public long lost() {
      return Math.max(0, acknowledged - observedDelta);
    }

    public long duplicated() {
      return Math.max(0, observedDelta - attempted);
    }
  }

  private final Map<String, long[]> perCounter = new ConcurrentHashMap<>();
  private final Map<String, Op> inDoubt = new ConcurrentHashMap<>();
  private final AtomicLong attempted = new AtomicLong();
  private final AtomicLong acknowledged = new AtomicLong();

  private static String name(long post, String counter) {
    return post + "/" + counter;
  }

  /** A write was sent; until {@link #acknowledged} it is in doubt. */
  public void sent(Op op) {
    perCounter.computeIfAbsent(name(op.post(), op.counter()), k -> new long[2]);
    synchronized (this) {
      perCounter.get(name(op.post(), op.counter()))[0]++;
    }
    inDoubt.put(op.key(), op);
    attempted.incrementAndGet();
  }

  /** A 200 came back for {@code op}. */
  public void acknowledged(Op op) {
    synchronized (this) {
      perCounter.get(name(op.post(), op.counter()))[1]++;
    }
    inDoubt.remove(op.key());
    acknowledged.incrementAndGet();
  }

  public long attempted() {
    return attempted.get();
  }

  public long acknowledgedCount() {
    return acknowledged.get();
  }

  /** Writes sent without a 200 seen: retry these with the same keys. */
  public List<Op> inDoubt() {
    return new ArrayList<>(inDoubt.values());
  }

  /** Counters written, as {@code post/counter}. */
  public List<String> counters() {
    return new ArrayList<>(perCounter.keySet());
  }

  /** Compares each counter's observed change ({@code delta.get(name)}) with the history. */
  public synchronized List<CounterCheck> check(Map<String, Long> observedDelta) {
    List<CounterCheck> out = new ArrayList<>();
    perCounter.forEach(
        (name, v) -> {
          int slash = name.indexOf('/');
          out.add(
              new CounterCheck(
                  Long.parseLong(name.substring(0, slash)),
                  name.substring(slash + 1),
                  v[0],
                  v[1],
                  observedDelta.getOrDefault(name, 0L)));
        });
    return out;
  }
}
