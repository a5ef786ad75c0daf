package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.CounterStore;
import dev.tally.store.IdempotencyRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write path: coalesces concurrent writes and commits them to the store in durable groups, then
 * answers each write with the count right after it.
 *
 * <p>Concurrency: {@link #submit} is called from any thread (the HTTP event loops) and never
 * blocks: it puts the writes on a queue bounded by {@code maxPendingWrites} and returns, or throws
 * {@link ErrorKind#OVERLOADED} when the queue is full. One committer thread, owned by this object,
 * takes everything queued (up to {@code maxBatchWrites}), applies it in queue order to its private
 * copy of the counters, writes one batch to the store and then runs every callback. While it
 * writes, new requests queue up and form the next batch, so batches grow with load and a lone write
 * is committed at once. A hot counter costs one store update per batch, however many writes it got.
 * Callbacks run on the committer thread and must only hand off.
 *
 * <p>Durability: a callback reports {@code APPLIED} only after the store made the whole batch
 * durable. The idempotency key of each applied write is in the same batch as its effect. If the
 * store write fails, every write of the batch fails (retriable) and the committer drops the batch's
 * effects, so a retry applies them once.
 *
 * <p>Ordering: writes to one counter are applied in queue order, so N concurrent increments of a
 * counter at c are answered c+1 … c+N, each value once.
 */
public final class Aggregator implements WritePath, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Aggregator.class);

  /** Receives the answers to one {@link #submit}, in the order of its writes. */
  @FunctionalInterface
  public interface Callback {
    void done(WriteResult[] results);
  }

  /** Tuning; see {@code TallyConfig} for the documented keys. */
  public record Settings(
      int maxBatchWrites,
      int maxPendingWrites,
      int stateCacheCounters,
      Duration idempotencyRetention,
      Duration purgeInterval) {

    public Settings {
      if (maxBatchWrites < 1 || maxPendingWrites < 1 || stateCacheCounters < 0) {
        throw new IllegalArgumentException(
            "need maxBatchWrites and maxPendingWrites >= 1, stateCacheCounters >= 0");
      }
      if (!idempotencyRetention.isPositive() || !purgeInterval.isPositive()) {
        throw new IllegalArgumentException("idempotency retention and purge interval must be > 0");
      }
    }
  }

  private record Submission(Write[] writes, Callback callback) {}

  private final CounterStore store;
  private final ReadCache readCache;
  private final Clock clock;
  private final Settings settings;
  private final LinkedBlockingQueue<Submission> queue = new LinkedBlockingQueue<>();
  private final AtomicInteger pendingWrites = new AtomicInteger();
  private final Thread committer;
  private final java.util.concurrent.CopyOnWriteArrayList<CommitListener> listeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile boolean closing;

  // committer-thread state
  private final CounterTable state;
  private final List<Submission> batch = new ArrayList<>();
  private final Map<String, IdempotencyRecord> keysInBatch = new HashMap<>();
  // load()'s scratch, cleared for each batch: the committer is one thread
  private final List<CounterId> toLoad = new ArrayList<>();
  private final List<String> keysToLoad = new ArrayList<>();
  private final List<Pending> toFill = new ArrayList<>(); // the entries of toLoad, in its order
  // every counter of the batch, from its committed value (one look into `state` or the store per
  // distinct counter) to its value after the batch: this small map, not the big one that misses
  // the CPU caches; and the same entries in first-seen order
  private final Map<CounterId, Pending> pending = new HashMap<>();
  private final List<Pending> pendingOrder = new ArrayList<>();
  private final Commit commit = new Commit();
  private long lastPurgeMillis;

  private final Counter writesApplied;
  private final Counter writesReplayed;
  private final Counter writesFailed;
  private final Counter writesRejected;
  private final DistributionSummary batchWrites;
  private final DistributionSummary batchCounters;
  private final Timer commitTimer;

  public Aggregator(
      CounterStore store,
      ReadCache readCache,
      Clock clock,
      Settings settings,
      MeterRegistry registry) {
    this.store = store;
    this.readCache = readCache;
    this.clock = clock;
    this.settings = settings;
    this.state = new CounterTable(settings.stateCacheCounters());
    this.committer = Thread.ofPlatform().name("tally-committer").unstarted(this::run);
    this.writesApplied = writes(registry, "applied");
    this.writesReplayed = writes(registry, "replayed");
    this.writesFailed = writes(registry, "failed");
    this.writesRejected = writes(registry, "rejected");
    this.batchWrites =
        DistributionSummary.builder("tally.commit.batch.writes")
            .description("Writes per group commit")
            .publishPercentileHistogram()
            .minimumExpectedValue(1.0)
            .maximumExpectedValue((double) settings.maxBatchWrites())
            .register(registry);
    this.batchCounters =
        DistributionSummary.builder("tally.commit.batch.counters")
            .description("Distinct counters per group commit (the store updates it made)")
            .publishPercentileHistogram()
            .minimumExpectedValue(1.0)
            .maximumExpectedValue((double) settings.maxBatchWrites())
            .register(registry);
    this.commitTimer =
        Timer.builder("tally.commit.duration")
            .description("Time to write one group commit durably")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(50_000))
            .maximumExpectedValue(Duration.ofSeconds(5))
            .register(registry);
    Gauge.builder("tally.queue.writes", pendingWrites, AtomicInteger::get)
        .description("Writes accepted and not yet answered")
        .register(registry);
    Gauge.builder("tally.queue.capacity.writes", settings, s -> s.maxPendingWrites())
        .description("Most writes that may wait at once; more are answered 503")
        .register(registry);
  }

  private static Counter writes(MeterRegistry registry, String outcome) {
    return Counter.builder("tally.writes")
        .description("Writes by outcome: applied, replayed (idempotent repeat), failed, rejected")
        .tag("outcome", outcome)
        .register(registry);
  }

  /** Adds a listener for durable commits; see {@link CommitListener} for its threading rules. */
  public void addListener(CommitListener listener) {
    listeners.add(listener);
  }

  public void start() {
    lastPurgeMillis = clock.millis();
    committer.start();
  }

  /**
   * Queues {@code writes}; {@code callback} later gets one result per write, on the committer
   * thread.
   *
   * @throws TallyException {@link ErrorKind#OVERLOADED} when too many writes are waiting, {@link
   *     ErrorKind#UNAVAILABLE} when the node is shutting down; then nothing was queued
   */
  @Override
  public void submit(Write[] writes, Callback callback) {
    int n = writes.length;
    if (pendingWrites.addAndGet(n) > settings.maxPendingWrites()) {
      pendingWrites.addAndGet(-n);
      writesRejected.increment(n);
      throw new TallyException(ErrorKind.OVERLOADED, "too many writes are waiting; retry shortly");
    }
    // the increment above comes first, so a committer that sees `closing` still waits for us
    if (closing) {
      pendingWrites.addAndGet(-n);
      throw new TallyException(ErrorKind.UNAVAILABLE, "the node is shutting down");
    }
    queue.add(new Submission(writes, callback));
  }

  /** Writes accepted and not yet answered. */
  public int pendingWrites() {
    return pendingWrites.get();
  }

  /** True while the committer thread runs and the store takes writes. */
  public boolean healthy() {
    return committer.isAlive() && !closing && store.writable();
  }

  private void run() {
    try {
      while (true) {
        Submission first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (closing && pendingWrites.get() == 0) {
            return;
          }
          maybePurge();
          continue;
        }
        int n = drain(first);
        try {
          process();
        } catch (RuntimeException e) {
          // a bug: answer everyone rather than leave them hanging, and keep serving
          log.error("group commit failed unexpectedly", e);
          failAll(new TallyException(ErrorKind.INTERNAL, "internal error during commit", e));
        } finally {
          batch.clear();
          pending.clear();
          pendingOrder.clear();
          keysInBatch.clear();
          commit.clear();
          pendingWrites.addAndGet(-n);
        }
        maybePurge();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private int drain(Submission first) {
    batch.add(first);
    int n = first.writes().length;
    Submission next;
    while (n < settings.maxBatchWrites() && (next = queue.poll()) != null) {
      batch.add(next);
      n += next.writes().length;
    }
    return n;
  }

  private void process() {
    long now = clock.instant().getEpochSecond();
    load(now);

    int total = 0;
    List<WriteResult[]> answers = new ArrayList<>(batch.size());
    for (Submission s : batch) {
      WriteResult[] results = new WriteResult[s.writes().length];
      for (int i = 0; i < results.length; i++) {
        results[i] = apply(s.writes()[i], now);
      }
      answers.add(results);
      total += results.length;
    }

    List<CounterId> ids = new ArrayList<>(pendingOrder.size());
    List<CounterValue> values = new ArrayList<>(pendingOrder.size());
    for (Pending e : pendingOrder) {
      if (e.changed) {
        ids.add(e.id);
        values.add(new CounterValue(new Slot(e.p, e.n), e.updatedAtSecond));
      }
    }
    for (int i = 0; i < ids.size(); i++) {
      commit.putCounter(ids.get(i), values.get(i));
    }
    boolean durable = true;
    readCache.beginCommit();
    try {
      long t0 = System.nanoTime();
      store.commit(commit);
      commitTimer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    } catch (TallyException e) {
      durable = false;
      log.warn("group commit of {} writes failed: {}", total, e.getMessage());
      for (WriteResult[] results : answers) {
        java.util.Arrays.fill(results, WriteResult.failed(e));
      }
    } finally {
      readCache.endCommit(durable ? ids : List.of(), durable ? values : List.of());
    }
    if (durable) {
      for (int i = 0; i < ids.size(); i++) {
        CounterId id = ids.get(i);
        CounterValue v = values.get(i);
        state.put(id.postId(), id.code(), v.slot().p(), v.slot().n(), v.updatedAtSecond());
      }
      batchWrites.record(total);
      batchCounters.record(ids.size());
    }
    boolean applied = durable;
    Wakeups.holdDuring(() -> handOut(applied, ids, values, answers));
  }

  /**
   * Tells the listeners about a durable commit, then answers its writes; the event loops they wake
   * are woken once each, after the last answer ({@link Wakeups}).
   */
  private void handOut(
      boolean durable,
      List<CounterId> ids,
      List<CounterValue> values,
      List<WriteResult[]> answers) {
    if (durable) {
      for (CommitListener l : listeners) {
        try {
          l.committed(ids, values);
        } catch (RuntimeException e) {
          log.error("commit listener failed", e);
        }
      }
    }
    for (int b = 0; b < batch.size(); b++) {
      WriteResult[] results = answers.get(b);
      count(results);
      try {
        batch.get(b).callback().done(results);
      } catch (RuntimeException e) {
        log.error("write callback failed", e);
      }
    }
  }

  /** Loads the counters and keys this batch needs and the committer does not hold. */
  @SuppressWarnings("unused") // written only: see load()
  private long touched;

  private void load(long now) {
    List<CounterId> counters = toLoad;
    List<String> keys = keysToLoad;
    counters.clear();
    keys.clear();
    toFill.clear();
    // touch every write's counter and its place in the state table first: these loads do not wait
    // for one another, so their cache misses overlap; in the loop below, where each lookup waits
    // for the one before, they were a fifth of the committer's time (docs/performance-notes.md)
    long touched = 0;
    for (Submission s : batch) {
      for (Write w : s.writes()) {
        CounterId id = w.counter();
        touched += state.touch(id.postId(), id.code());
      }
    }
    this.touched = touched; // kept, so that the loads are not optimised away
    for (Submission s : batch) {
      for (Write w : s.writes()) {
        CounterId id = w.counter();
        if (!pending.containsKey(id)) {
          Pending e = new Pending(id);
          int slot = state.find(id.postId(), id.code());
          if (slot >= 0) {
            e.set(state.p(slot), state.n(slot), state.updatedAtSecond(slot));
          } else {
            counters.add(id);
            toFill.add(e);
          }
          pending.put(id, e);
          pendingOrder.add(e);
        }
        if (w.idempotencyKey() != null && !keysInBatch.containsKey(w.idempotencyKey())) {
          keysInBatch.put(w.idempotencyKey(), null);
          keys.add(w.idempotencyKey());
        }
      }
    }
    List<CounterValue> loaded = store.getAll(counters);
    for (int i = 0; i < counters.size(); i++) {
      CounterValue v = loaded.get(i);
      toFill.get(i).set(v.slot().p(), v.slot().n(), v.updatedAtSecond());
    }
    List<IdempotencyRecord> records = store.getKeys(keys);
    for (int i = 0; i < keys.size(); i++) {
      IdempotencyRecord r = records.get(i);
      keysInBatch.put(keys.get(i), r == null || r.expiredAt(now) ? null : r);
    }
  }

  private WriteResult apply(Write w, long now) {
    String key = w.idempotencyKey();
    if (key != null) {
      IdempotencyRecord seen = keysInBatch.get(key);
      if (seen != null) {
        if (seen.sameWrite(w.counter(), w.delta())) {
          return WriteResult.replayed(seen.count(), seen.updatedAtSecond());
        }
        return WriteResult.failed(
            new TallyException(
                ErrorKind.IDEMPOTENCY_CONFLICT,
                "this Idempotency-Key was already used for a different write"));
      }
    }
    Pending e = pending.get(w.counter());
    long p;
    long n;
    try {
      p = Slot.pAfter(e.p, w.delta());
      n = Slot.nAfter(e.n, w.delta());
    } catch (ArithmeticException overflow) {
      return WriteResult.failed(
          new TallyException(ErrorKind.UNPROCESSABLE, "the counter cannot grow any further"));
    }
    e.p = p;
    e.n = n;
    e.updatedAtSecond = Math.max(e.updatedAtSecond, now);
    e.changed = true;
    long count = p - n;
    if (key != null) {
      IdempotencyRecord r =
          new IdempotencyRecord(
              w.counter(),
              w.delta(),
              count,
              e.updatedAtSecond,
              now + settings.idempotencyRetention().toSeconds());
      keysInBatch.put(key, r);
      commit.putKey(key, r);
    }
    return WriteResult.applied(count, e.updatedAtSecond);
  }

  /** A counter of the batch being committed: its committed value, then the batch's writes on it. */
  private static final class Pending {
    final CounterId id;
    long p;
    long n;
    long updatedAtSecond;
    boolean changed;

    Pending(CounterId id) {
      this.id = id;
    }

    void set(long p, long n, long updatedAtSecond) {
      this.p = p;
      this.n = n;
      this.updatedAtSecond = updatedAtSecond;
    }
  }

  private void count(WriteResult[] results) {
    for (WriteResult r : results) {
      switch (r.outcome()) {
        case APPLIED -> writesApplied.increment();
        case REPLAYED -> writesReplayed.increment();
        case FAILED -> writesFailed.increment();
      }
    }
  }

  private void failAll(TallyException e) {
    for (Submission s : batch) {
      WriteResult[] results = new WriteResult[s.writes().length];
      java.util.Arrays.fill(results, WriteResult.failed(e));
      try {
        s.callback().done(results);
      } catch (RuntimeException ignored) {
        // already logged by the caller's own handler, nothing more to do
      }
    }
    // the committer's copy may hold effects of the failed batch: start from the store again
    state.clear();
  }

  private void maybePurge() {
    long nowMillis = clock.millis();
    if (nowMillis - lastPurgeMillis < settings.purgeInterval().toMillis()) {
      return;
    }
    lastPurgeMillis = nowMillis;
    int purged = store.purgeExpiredKeys(nowMillis / 1000, 10_000);
    if (purged > 0) {
      log.debug("forgot {} expired idempotency keys", purged);
    }
  }

  /**
   * Stops taking writes, answers every write already queued, and stops the committer. Waits up to
   * {@code timeout}.
   */
  public void close(Duration timeout) {
    closing = true;
    try {
      committer.join(timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (committer.isAlive()) {
      log.warn("committer still busy after {}; {} writes unanswered", timeout, pendingWrites.get());
      committer.interrupt();
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }
}
