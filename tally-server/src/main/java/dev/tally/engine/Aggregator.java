package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.CounterStore;
import dev.tally.store.IdempotencyRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write path: coalesces concurrent writes and commits them to the store in durable groups, then
 * answers each write with the count right after it.
 *
 * <p>Concurrency: {@link #submit} is called from any thread (the HTTP event loops) and never
 * blocks: it puts the writes on a queue bounded by {@code maxPendingWrites} and returns, or throws
 * {@link ErrorKind#OVERLOADED} when the bound is reached. {@code committers} threads, owned by this
 * object, each own the counters whose id hashes to it (ADR 0008): a write goes to its counter's
 * committer, which takes everything queued for it (up to {@code maxBatchWrites}), applies it in
 * queue order to its private copy of its counters, writes one batch to the store and then runs
 * every callback. While it writes, new requests queue up and form the next batch, so batches grow
 * with load and a lone write is committed at once. A hot counter costs one store update per batch,
 * however many writes it got. Committers write to the store at the same time; the store merges
 * their batches into one log write and sync where it can. Callbacks run on committer threads and
 * must only hand off. A submission whose writes belong to several committers is answered once, by
 * the last of them, with every write's result in its place.
 *
 * <p>Durability: a callback reports {@code APPLIED} only after the store made the write's batch
 * durable. The idempotency key of each applied write is in the same batch as its effect. If the
 * store write fails, every write of the batch fails (retriable) and the committer drops the batch's
 * effects, so a retry applies them once.
 *
 * <p>Idempotency keys across committers: a key's record is written by the committer of its write's
 * counter, so a key reused for a counter of another committer is checked here, at submit. While a
 * write with the key is in flight on one committer, a write with the same key routed to another (so
 * for another counter: a different write) is answered as a conflict, as it would be once the first
 * is durable; after that, the other committer finds the first's record in the store (and if the key
 * was recorded before either, both are answered from the record). The one difference from a single
 * committer: if the first write then fails, the second was refused all the same (a key reused for a
 * different write is a client's mistake either way; nothing was counted).
 *
 * <p>Ordering: writes to one counter are applied in queue order, so N concurrent increments of a
 * counter at c are answered c+1 … c+N, each value once. Writes to counters of different committers
 * may be answered in any order.
 */
public final class Aggregator implements WritePath, AutoCloseable {

  /** Receives the answers to one {@link #submit}, in the order of its writes. */
  @FunctionalInterface
  public interface Callback {
    void done(WriteResult[] results);
  }

  /**
   * Tuning; see {@code TallyConfig} for the documented keys.
   *
   * @param committers committer threads, each owning a share of the counters (1 to 64)
   */
  public record Settings(
      int maxBatchWrites,
      int maxPendingWrites,
      int stateCacheCounters,
      Duration idempotencyRetention,
      Duration purgeInterval,
      int committers) {

    public Settings {
      if (maxBatchWrites < 1 || maxPendingWrites < 1 || stateCacheCounters < 0) {
        throw new IllegalArgumentException(
            "need maxBatchWrites and maxPendingWrites >= 1, stateCacheCounters >= 0");
      }
      if (!idempotencyRetention.isPositive() || !purgeInterval.isPositive()) {
        throw new IllegalArgumentException("idempotency retention and purge interval must be > 0");
      }
      if (committers < 1 || committers > MAX_COMMITTERS) {
        throw new IllegalArgumentException("committers must be 1.." + MAX_COMMITTERS);
      }
    }

    /** One committer. */
    public Settings(
        int maxBatchWrites,
        int maxPendingWrites,
        int stateCacheCounters,
        Duration idempotencyRetention,
        Duration purgeInterval) {
      this(
          maxBatchWrites,
          maxPendingWrites,
          stateCacheCounters,
          idempotencyRetention,
          purgeInterval,
          1);
    }
  }

  /** Most committer threads. */
  public static final int MAX_COMMITTERS = 64;

  /** The meters every committer adds to. */
  record Meters(
      Counter applied,
      Counter replayed,
      Counter failed,
      Counter rejected,
      DistributionSummary batchWrites,
      DistributionSummary batchCounters,
      Timer commitTimer) {

    void count(WriteResult[] results) {
      for (WriteResult r : results) {
        switch (r.outcome()) {
          case APPLIED -> applied.increment();
          case REPLAYED -> replayed.increment();
          case FAILED -> failed.increment();
        }
      }
    }
  }

  /**
   * A key in flight: the committer its writes went to and how many are unanswered. Guarded by the
   * map's entry.
   */
  private static final class KeyUse {
    final int committer;
    int uses = 1;

    KeyUse(int committer) {
      this.committer = committer;
    }
  }

  private static final Logger log = LoggerFactory.getLogger(Aggregator.class);

  private final CounterStore store;
  private final Clock clock;
  private final Settings settings;
  private final Committer[] committers;
  private final AtomicInteger pendingWrites = new AtomicInteger();
  private final CopyOnWriteArrayList<CommitListener> listeners = new CopyOnWriteArrayList<>();
  // only with more than one committer; guarded by the map's own per-key locking (compute)
  private final ConcurrentHashMap<String, KeyUse> keysInFlight = new ConcurrentHashMap<>();
  private final Meters meters;
  private volatile boolean closing;
  // set by orderCommits() before start; read by the committers
  private volatile Lock commitOrder;

  public Aggregator(
      CounterStore store,
      ReadCache readCache,
      Clock clock,
      Settings settings,
      MeterRegistry registry) {
    this.store = store;
    this.clock = clock;
    this.settings = settings;
    int n = settings.committers();
    this.committers = new Committer[n];
    for (int i = 0; i < n; i++) {
      committers[i] =
          new Committer(
              this,
              n == 1 ? "tally-committer" : "tally-committer-" + i,
              // the bound on the committers' copies holds for all of them together
              settings.stateCacheCounters() / n,
              i == 0,
              store,
              readCache,
              clock,
              settings);
    }
    this.meters =
        new Meters(
            writes(registry, "applied"),
            writes(registry, "replayed"),
            writes(registry, "failed"),
            writes(registry, "rejected"),
            DistributionSummary.builder("tally.commit.batch.writes")
                .description("Writes per group commit")
                .publishPercentileHistogram()
                .minimumExpectedValue(1.0)
                .maximumExpectedValue((double) settings.maxBatchWrites())
                .register(registry),
            DistributionSummary.builder("tally.commit.batch.counters")
                .description("Distinct counters per group commit (the store updates it made)")
                .publishPercentileHistogram()
                .minimumExpectedValue(1.0)
                .maximumExpectedValue((double) settings.maxBatchWrites())
                .register(registry),
            Timer.builder("tally.commit.duration")
                .description("Time to write one group commit durably")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(50_000))
                .maximumExpectedValue(Duration.ofSeconds(5))
                .register(registry));
    Gauge.builder("tally.queue.writes", pendingWrites, AtomicInteger::get)
        .description("Writes accepted and not yet answered")
        .register(registry);
    Gauge.builder("tally.queue.capacity.writes", settings, s -> s.maxPendingWrites())
        .description("Most writes that may wait at once; more are answered 503")
        .register(registry);
    Gauge.builder("tally.committers", settings, s -> s.committers())
        .description("Committer threads, each owning a share of the counters")
        .register(registry);
  }

  private static Counter writes(MeterRegistry registry, String outcome) {
    return Counter.builder("tally.writes")
        .description("Writes by outcome: applied, replayed (idempotent repeat), failed, rejected")
        .tag("outcome", outcome)
        .register(registry);
  }

  /**
   * Adds a listener for durable commits; see {@link CommitListener} for its threading rules. With
   * more than one committer it is called from each of their threads, at the same time.
   */
  public void addListener(CommitListener listener) {
    listeners.add(listener);
  }

  /**
   * From now on commits are written and told to the listeners one at a time, in the order they
   * become durable: for a cluster member, whose outbox numbers commits as they are written and
   * whose pushers clear the outbox through the number of the latest commit they heard of.
   * Committers still apply and answer their writes in parallel. Call before {@link #start}; nothing
   * changes with one committer.
   */
  public void orderCommits() {
    if (committers.length > 1) {
      commitOrder = new ReentrantLock();
    }
  }

  public void start() {
    for (Committer c : committers) {
      c.start();
    }
  }

  /**
   * Queues {@code writes}; {@code callback} later gets one result per write, on a committer thread.
   *
   * @throws TallyException {@link ErrorKind#OVERLOADED} when too many writes are waiting, {@link
   *     ErrorKind#UNAVAILABLE} when the node is shutting down; then nothing was queued
   */
  @Override
  public void submit(Write[] writes, Callback callback) {
    int n = writes.length;
    if (pendingWrites.addAndGet(n) > settings.maxPendingWrites()) {
      pendingWrites.addAndGet(-n);
      meters.rejected().increment(n);
      throw new TallyException(ErrorKind.OVERLOADED, "too many writes are waiting; retry shortly");
    }
    // the increment above comes first, so a committer that sees `closing` still waits for us
    if (closing) {
      pendingWrites.addAndGet(-n);
      throw new TallyException(ErrorKind.UNAVAILABLE, "the node is shutting down");
    }
    if (committers.length == 1 || n == 0) {
      committers[0].enqueue(new Committer.Submission(writes, null, callback));
    } else {
      route(writes, callback);
    }
  }

  /** The committer of {@code id}: a hash of it, other than the committers' tables' own. */
  static int committerOf(CounterId id, int committers) {
    long h = (id.postId() ^ (long) id.code() << 56) * 0xBF58476D1CE4E5B9L;
    h ^= h >>> 31;
    return (int) (((h >>> 32) * committers) >>> 32);
  }

  private void route(Write[] writes, Callback callback) {
    int n = committers.length;
    int[] to = new int[writes.length];
    int first = -1;
    boolean one = true;
    boolean keys = false;
    for (int i = 0; i < writes.length; i++) {
      Write w = writes[i];
      to[i] = committerOf(w.counter(), n);
      if (first < 0) {
        first = to[i];
      } else if (to[i] != first) {
        one = false;
      }
      keys |= w.idempotencyKey() != null;
    }
    boolean[] refused = null;
    Callback answer = callback;
    if (keys) {
      boolean[] claimed = new boolean[writes.length];
      refused = claimKeys(writes, to, claimed);
      answer =
          results -> {
            releaseKeys(writes, claimed);
            callback.done(results);
          };
    }
    if (one) {
      committers[first].enqueue(new Committer.Submission(writes, refused, answer));
      return;
    }
    // split by committer; the last part answered answers the whole
    int[] sizes = new int[n];
    for (int c : to) {
      sizes[c]++;
    }
    int parts = 0;
    for (int size : sizes) {
      parts += size > 0 ? 1 : 0;
    }
    WriteResult[] joined = new WriteResult[writes.length];
    AtomicInteger left = new AtomicInteger(parts);
    Callback whole = answer;
    for (int c = 0; c < n; c++) {
      if (sizes[c] == 0) {
        continue;
      }
      Write[] part = new Write[sizes[c]];
      boolean[] partRefused = refused == null ? null : new boolean[sizes[c]];
      int[] at = new int[sizes[c]];
      for (int i = 0, j = 0; i < writes.length; i++) {
        if (to[i] == c) {
          part[j] = writes[i];
          if (partRefused != null) {
            partRefused[j] = refused[i];
          }
          at[j++] = i;
        }
      }
      committers[c].enqueue(
          new Committer.Submission(
              part,
              partRefused,
              results -> {
                for (int j = 0; j < at.length; j++) {
                  joined[at[j]] = results[j];
                }
                if (left.decrementAndGet() == 0) {
                  whole.done(joined);
                }
              }));
    }
  }

  /**
   * Notes the idempotency keys of {@code writes} as in flight on their committers (marking them in
   * {@code claimed}); returns which writes to refuse as conflicts: those whose key is in flight on
   * another committer, so for a different write (an earlier one of the same submission included),
   * and not yet recorded. Reads the store only then, which is rare: a client reusing a key for a
   * different write.
   */
  private boolean[] claimKeys(Write[] writes, int[] to, boolean[] claimed) {
    boolean[] refused = new boolean[writes.length];
    for (int i = 0; i < writes.length; i++) {
      String key = writes[i].idempotencyKey();
      if (key == null) {
        continue;
      }
      int c = to[i];
      KeyUse use =
          keysInFlight.compute(
              key,
              (k, u) -> {
                if (u == null) {
                  return new KeyUse(c);
                }
                if (u.committer == c) {
                  u.uses++;
                }
                return u;
              });
      claimed[i] = use.committer == c;
      // another committer's write holds it: a conflict, unless the key is already recorded (then
      // that write is itself a replay or a conflict, and this one is answered from the record)
      refused[i] = !claimed[i] && !recorded(key);
    }
    return refused;
  }

  /**
   * True when the store holds an unexpired record of {@code key}; false when it does not or cannot
   * tell (closing, failing): then the write is refused, which changes nothing.
   */
  private boolean recorded(String key) {
    try {
      IdempotencyRecord r = store.getKeys(List.of(key)).get(0);
      return r != null && !r.expiredAt(clock.instant().getEpochSecond());
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** After the answers: the keys {@link #claimKeys} noted are no longer in flight. */
  private void releaseKeys(Write[] writes, boolean[] claimed) {
    for (int i = 0; i < writes.length; i++) {
      String key = writes[i].idempotencyKey();
      if (claimed[i]) {
        keysInFlight.computeIfPresent(key, (k, u) -> --u.uses == 0 ? null : u);
      }
    }
  }

  /** The answer to a write whose idempotency key a different write holds. */
  static WriteResult keyTaken() {
    return WriteResult.failed(
        new TallyException(
            ErrorKind.IDEMPOTENCY_CONFLICT,
            "this Idempotency-Key was already used for a different write"));
  }

  /** Writes accepted and not yet answered. */
  public int pendingWrites() {
    return pendingWrites.get();
  }

  /** True while every committer thread runs and the store takes writes. */
  public boolean healthy() {
    if (closing || !store.writable()) {
      return false;
    }
    for (Committer c : committers) {
      if (!c.alive()) {
        return false;
      }
    }
    return true;
  }

  /** Idempotency keys noted as in flight (with several committers); for tests. */
  int keysInFlight() {
    return keysInFlight.size();
  }

  // ---- for the committers

  Meters meters() {
    return meters;
  }

  /** The lock that orders commits, or null when they need no order (see {@link #orderCommits}). */
  Lock commitOrder() {
    return commitOrder;
  }

  /** A committer answered {@code n} writes. */
  void answered(int n) {
    pendingWrites.addAndGet(-n);
  }

  /** True once the node is closing and every write was answered: the committers may stop. */
  boolean drained() {
    return closing && pendingWrites.get() == 0;
  }

  void tellListeners(List<CounterId> ids, List<CounterValue> values) {
    for (CommitListener l : listeners) {
      try {
        l.committed(ids, values);
      } catch (RuntimeException e) {
        log.error("commit listener failed", e);
      }
    }
  }

  /**
   * Stops taking writes, answers every write already queued, and stops the committers. Waits up to
   * {@code timeout}.
   */
  public void close(Duration timeout) {
    closing = true;
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean ended = true;
    for (Committer c : committers) {
      ended &= c.join(TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }
    if (!ended) {
      log.warn("committer still busy after {}; {} writes unanswered", timeout, pendingWrites.get());
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }
}
