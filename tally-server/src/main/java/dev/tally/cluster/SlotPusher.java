package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.engine.CommitListener;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.CounterStore;
import dev.tally.store.Outbox;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps Redis up to date with this node's slots: one pusher thread per push target (the home
 * region's Redis Cluster first, then each remote region's), fed by the aggregator's durable
 * commits. A push round takes the counters changed since the last one and pushes their current
 * slots in batches ({@link RedisSlots#push}: one script call per primary and 256 counters); rounds
 * start at most every {@link Settings#pushInterval} while writes keep coming, so a busy counter
 * costs Redis once per round. Each pusher hands what its Redis accepted to that region's live bus
 * ({@link #onPushed}), which tells the nodes there. With {@code --ack cluster}, writes wait for the
 * home round that holds them ({@link #awaitPushed}).
 *
 * <p>Outbox: every commit also writes, durably and in the same write, an entry per target naming
 * its counters, numbered in commit order ({@link Outbox}). A round notes the number of the latest
 * commit whose counters are in the in-memory set before it takes them; once everything it took is
 * in Redis, every commit up to that number is, and their entries are cleared in one step. After a
 * crash, or while Redis is unreachable, the entries say exactly what is left to push. In the steady
 * state pushers work from the in-memory set of changed counters and read the entries only after a
 * failure, at start, or when the set overflowed its bound.
 *
 * <p>Data loss in Redis (a failover that rolled back recent writes, a flush, a brand-new cluster)
 * is detected through {@link RedisSlots#fingerprint()}, checked every second: when it changes, the
 * pusher pushes every stored counter again. Merges are maxima, so pushing again is always safe. The
 * last fingerprint fully pushed is kept in the data dir, so a node restarted after the loss pushes
 * too.
 *
 * <p>Concurrency: {@link #committed} runs on a committer thread, one commit at a time in the order
 * commits became durable (the aggregator orders a cluster member's commits), and only adds to sets.
 * Pushers block on Redis (bounded by the command timeout); everything else is non-blocking and
 * thread-safe.
 */
public final class SlotPusher implements CommitListener, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SlotPusher.class);

  /** Batches of a full re-push in flight at once. */
  static final int REPUSH_WINDOW = 4;

  /** Batches of a push round in flight at once. */
  static final int PUSH_WINDOW = 4;

  /** A region's Redis Cluster that this node pushes its slots to. */
  public record Target(String region, RedisSlots slots) {}

  /**
   * Tuning.
   *
   * @param pushBatch most counters read from the store and pushed at once
   * @param maxDirty most counters remembered in memory as changed; beyond, the outbox entries say
   * @param commandTimeout bound on one Redis command
   * @param fingerprintPeriod how often Redis is checked for lost data
   * @param pushInterval least time between the starts of two push rounds while writes keep coming:
   *     a counter written many times within it is pushed once
   */
  public record Settings(
      int pushBatch,
      int maxDirty,
      Duration commandTimeout,
      Duration fingerprintPeriod,
      Duration pushInterval) {

    public Settings {
      if (pushBatch < 1 || maxDirty < 1) {
        throw new IllegalArgumentException("need pushBatch and maxDirty >= 1");
      }
      if (!commandTimeout.isPositive()
          || !fingerprintPeriod.isPositive()
          || pushInterval.isNegative()) {
        throw new IllegalArgumentException(
            "need commandTimeout and fingerprintPeriod > 0, pushInterval >= 0");
      }
    }
  }

  private final CounterStore store;
  private final Outbox outbox;
  private final Settings settings;
  private final Path stateDir;
  private final Clock clock;
  private final List<Pusher> pushers = new ArrayList<>();
  private final List<Target> targets;
  private final AtomicLong committedSeq = new AtomicLong();
  // the outbox number of the latest commit whose counters are in every pusher's set (or whose
  // pusher overflowed): written by the committing thread after the sets
  private volatile long capturedOutboxSeq;
  private final ConcurrentSkipListMap<Long, List<CompletableFuture<Void>>> waiters =
      new ConcurrentSkipListMap<>();
  private final AtomicInteger waiting = new AtomicInteger();
  // per target: where the slots its Redis accepted go (the bus of that region)
  private final java.util.concurrent.atomic.AtomicReferenceArray<
          java.util.function.BiConsumer<List<CounterId>, List<CounterValue>>>
      pushedListeners;
  private volatile boolean closed;

  public SlotPusher(
      CounterStore store,
      Outbox outbox,
      List<Target> targets,
      Settings settings,
      Path stateDir,
      Clock clock,
      MeterRegistry registry) {
    if (targets.isEmpty()) {
      throw new IllegalArgumentException("cluster mode needs at least the home Redis");
    }
    this.store = store;
    this.outbox = outbox;
    this.settings = settings;
    this.stateDir = stateDir;
    this.clock = clock;
    this.targets = List.copyOf(targets);
    this.pushedListeners = new java.util.concurrent.atomic.AtomicReferenceArray<>(targets.size());
    for (int i = 0; i < targets.size(); i++) {
      pushedListeners.set(i, (ids, values) -> {});
      pushers.add(new Pusher(i, targets.get(i), registry));
    }
    Gauge.builder("tally.cluster.ack.waiting", waiting, AtomicInteger::get)
        .description("Writes waiting for the cluster to confirm them (--ack cluster)")
        .register(registry);
    outbox.enableOutbox(targets.size());
    capturedOutboxSeq = outbox.outboxSeq();
  }

  /**
   * Where the slots the Redis of target {@code target} (0: the home region, then the remote ones in
   * the order given) accepted go: that region's live bus, which tells the nodes there. Called on
   * that target's pusher thread; must only hand off.
   */
  public void onPushed(
      int target, java.util.function.BiConsumer<List<CounterId>, List<CounterValue>> listener) {
    pushedListeners.set(target, listener);
  }

  /** The push targets, home region first, in the order {@link #onPushed} numbers them. */
  public List<Target> targets() {
    return targets;
  }

  /** Starts the pushers; call after the aggregator started. */
  public void start() {
    for (Pusher p : pushers) {
      p.thread.start();
    }
  }

  // ---- commits

  @Override
  public void committed(List<CounterId> ids, List<CounterValue> values) {
    for (Pusher p : pushers) {
      p.changed(ids, values);
    }
    capturedOutboxSeq = outbox.outboxSeq();
    committedSeq.incrementAndGet();
    for (Pusher p : pushers) {
      if (p.idle) { // a pusher waiting out its interval is not woken: its round comes anyway
        LockSupport.unpark(p.thread);
      }
    }
  }

  /** The sequence number of the latest durable commit; read it in a write's callback. */
  public long committedSeq() {
    return committedSeq.get();
  }

  /**
   * Completes once the home Redis holds every commit up to {@code seq}, or exceptionally with
   * {@link ErrorKind#NOT_CONFIRMED} after {@code timeout}.
   */
  public CompletableFuture<Void> awaitPushed(long seq, Duration timeout, int maxWaiting) {
    Pusher home = pushers.get(0);
    if (home.pushedSeq >= seq) {
      return CompletableFuture.completedFuture(null);
    }
    if (waiting.incrementAndGet() > maxWaiting) {
      waiting.decrementAndGet();
      return CompletableFuture.failedFuture(
          new TallyException(
              ErrorKind.OVERLOADED, "too many writes are waiting for the cluster; retry shortly"));
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    // under the lock releaseWaiters takes: a list it has taken out of the map gets no new waiter
    synchronized (waiters) {
      waiters.computeIfAbsent(seq, s -> new ArrayList<>()).add(f);
    }
    if (home.pushedSeq >= seq) {
      releaseWaiters(home.pushedSeq);
    }
    LockSupport.unpark(home.thread); // a write waiting for the cluster ends the interval's wait
    return f.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .handle(
            (ok, error) -> {
              waiting.decrementAndGet();
              if (error == null) {
                return null;
              }
              if (error instanceof TimeoutException) {
                throw new TallyException(
                    ErrorKind.NOT_CONFIRMED,
                    "the write is durable on this node but Redis has not confirmed it within "
                        + timeout.toMillis()
                        + " ms; it will be pushed, and retrying with the same Idempotency-Key is"
                        + " safe");
              }
              throw error instanceof RuntimeException r ? r : new RuntimeException(error);
            });
  }

  private void releaseWaiters(long upTo) {
    List<CompletableFuture<Void>> released = new ArrayList<>();
    synchronized (waiters) {
      Map<Long, List<CompletableFuture<Void>>> done = waiters.headMap(upTo, true);
      for (Iterator<List<CompletableFuture<Void>>> it = done.values().iterator(); it.hasNext(); ) {
        released.addAll(it.next());
        it.remove();
      }
    }
    for (CompletableFuture<Void> f : released) { // outside the lock: completing runs callbacks
      f.complete(null);
    }
  }

  // ---- health

  /** False while pushes to the home region's Redis fail. */
  public boolean homeReachable() {
    return pushers.get(0).reachable;
  }

  /** Per target: reachable, why not (the last failure), backlog; for the readiness detail. */
  public Map<String, Map<String, Object>> status() {
    Map<String, Map<String, Object>> out = new LinkedHashMap<>();
    for (Pusher p : pushers) {
      Map<String, Object> t = new LinkedHashMap<>();
      t.put("reachable", p.reachable);
      String error = p.lastError;
      if (!p.reachable && error != null) {
        t.put("error", error);
      }
      t.put("backlog", p.backlog());
      if (p.fullRepush) {
        t.put("repushing", true);
      }
      out.put(p.region, t);
    }
    return out;
  }

  /** Counters waiting to be pushed to the home Redis (estimate). */
  public long backlog() {
    return pushers.get(0).backlog();
  }

  @Override
  public void close() {
    closed = true;
    for (Pusher p : pushers) {
      LockSupport.unpark(p.thread);
    }
    for (Pusher p : pushers) {
      try {
        p.thread.join(settings.commandTimeout().toMillis() * 2 + 1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    List<CompletableFuture<Void>> left = new ArrayList<>();
    synchronized (waiters) {
      waiters.values().forEach(left::addAll);
      waiters.clear();
    }
    for (CompletableFuture<Void> f : left) {
      f.completeExceptionally(
          new TallyException(ErrorKind.UNAVAILABLE, "the node is shutting down"));
    }
  }

  private static String describe(Throwable t) {
    return RedisSlots.describe(t);
  }

  /** Pushes to one target. Its fields are written by its own thread unless noted. */
  private final class Pusher {
    final int index;
    final String region;
    final RedisSlots slots;
    final Thread thread;

    /** Counters committed since they were last taken for a push; any thread adds. */
    final ConcurrentHashMap<CounterId, CounterValue> dirty = new ConcurrentHashMap<>();

    /** True while this pusher has nothing to do and waits for a commit to wake it. */
    volatile boolean idle;

    /** The outbox entries may name counters not in {@link #dirty}: read them on the next round. */
    volatile boolean overflow = true;

    volatile boolean fullRepush;

    /** False after a failed push round, until one succeeds; starts hopeful. */
    volatile boolean reachable = true;

    // why the last round failed, for /health/ready; null after a good round
    volatile String lastError;

    volatile long pushedSeq;
    private CounterId repushCursor;
    private String knownFingerprint;
    private String repushFingerprint;
    private long nextFingerprintNanos;
    private long backoffMillis;
    private final Counter pushed;
    private final Counter failures;
    private final Counter repushes;
    private final Timer pushTimer;

    Pusher(int index, Target target, MeterRegistry registry) {
      this.index = index;
      this.region = target.region();
      this.slots = target.slots();
      this.thread =
          Thread.ofPlatform().name("tally-push-" + region).daemon(true).unstarted(this::run);
      this.knownFingerprint = readFingerprint();
      this.pushed =
          Counter.builder("tally.cluster.pushed.counters")
              .description("Counter slots pushed to Redis")
              .tag("region", region)
              .register(registry);
      this.failures =
          Counter.builder("tally.cluster.push.failures")
              .description("Pushes to Redis that failed (retried)")
              .tag("region", region)
              .register(registry);
      this.repushes =
          Counter.builder("tally.cluster.repushes")
              .description("Full re-pushes after Redis lost data or changed primaries")
              .tag("region", region)
              .register(registry);
      this.pushTimer =
          Timer.builder("tally.cluster.push.duration")
              .description("Time to push one batch of slots to Redis")
              .tag("region", region)
              .publishPercentileHistogram()
              .register(registry);
      Gauge.builder("tally.cluster.backlog", this, Pusher::backlog)
          .description("Counters committed and not yet pushed to this region's Redis (estimate)")
          .tag("region", region)
          .register(registry);
      Gauge.builder("tally.cluster.reachable", this, p -> p.reachable ? 1 : 0)
          .description("1 when the last push to this region's Redis succeeded")
          .tag("region", region)
          .register(registry);
    }

    void changed(List<CounterId> ids, List<CounterValue> values) {
      if (overflow || dirty.size() + ids.size() > settings.maxDirty()) {
        overflow = true; // the outbox entries name them all
        return;
      }
      for (int i = 0; i < ids.size(); i++) {
        dirty.put(ids.get(i), values.get(i)); // commits come in order: the newest value wins
      }
    }

    long backlog() {
      return overflow || fullRepush
          ? Math.max(dirty.size(), outbox.outboxEstimate())
          : dirty.size();
    }

    private void run() {
      while (!closed) {
        long seq = committedSeq.get();
        long roundStart = System.nanoTime();
        boolean ok;
        try {
          ok = round();
        } catch (RuntimeException e) {
          log.error("pushing to region {} failed unexpectedly", region, e);
          lastError = e.toString();
          ok = false;
        }
        if (ok) {
          pushedSeq = seq;
          if (index == 0) {
            releaseWaiters(seq);
          }
          if (!reachable) {
            log.info("Redis of region {} takes pushes", region);
          }
          reachable = true;
          lastError = null;
          backoffMillis = 0;
          idle = true; // from here a commit wakes this thread (committed() reads idle after it
          // counts the commit, and this reads the count after setting idle: one of them sees
          // the other)
          if (committedSeq.get() == seq && dirty.isEmpty() && !closed) {
            LockSupport.parkNanos(settings.fingerprintPeriod().toNanos() / 4);
          }
          idle = false;
          // writes keep coming: let them gather, so a busy counter is pushed once per round;
          // writes waiting for the cluster (--ack cluster) end the wait (awaitPushed unparks)
          long deadline = roundStart + settings.pushInterval().toNanos();
          for (long wait = deadline - System.nanoTime();
              wait > 0 && !closed && !(index == 0 && !waiters.isEmpty());
              wait = deadline - System.nanoTime()) {
            LockSupport.parkNanos(wait);
          }
        } else {
          if (reachable) {
            log.warn("Redis of region {} does not take pushes; writes are kept locally", region);
          }
          reachable = false;
          backoffMillis = Math.min(2000, Math.max(50, backoffMillis * 2));
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
        }
      }
    }

    /** One round: fingerprint check, then whatever is due. False when Redis failed. */
    private boolean round() {
      // every commit up to this number is in the set (or in the entries, when it overflowed)
      long through = capturedOutboxSeq;
      if (System.nanoTime() - nextFingerprintNanos >= 0) {
        String fp;
        try {
          fp = await(slots.fingerprint());
        } catch (RedisFailure e) {
          failures.increment();
          lastError = e.getMessage();
          return false;
        }
        nextFingerprintNanos = System.nanoTime() + settings.fingerprintPeriod().toNanos();
        if (!fp.equals(knownFingerprint) && !fp.equals(repushFingerprint)) {
          log.info(
              "Redis of region {} {}: pushing every counter again",
              region,
              knownFingerprint == null ? "is new to this node" : "changed primaries or lost data");
          repushes.increment();
          repushFingerprint = fp;
          repushCursor = null;
          fullRepush = true;
        }
      }
      if (fullRepush && !repushAll()) {
        return false;
      }
      if (overflow) {
        overflow = false;
        if (!pushOutbox()) {
          overflow = true;
          return false;
        }
      }
      if (!pushDirty()) {
        return false;
      }
      outbox.outboxClear(index, through);
      return true;
    }

    /**
     * Pushes every stored counter, {@link #REPUSH_WINDOW} batches in flight at a time, from a
     * cursor that survives failures. The outbox entries are left alone (a counter changed meanwhile
     * is pushed again by the normal rounds; pushing twice is harmless).
     */
    private boolean repushAll() {
      while (!closed) {
        List<List<CounterId>> pageIds = new ArrayList<>(REPUSH_WINDOW);
        List<List<CounterValue>> pageValues = new ArrayList<>(REPUSH_WINDOW);
        List<CompletableFuture<Void>> inFlight = new ArrayList<>(REPUSH_WINDOW);
        CounterId cursor = repushCursor;
        long t0 = System.nanoTime();
        for (int k = 0; k < REPUSH_WINDOW; k++) {
          List<CounterId> ids = new ArrayList<>(settings.pushBatch());
          List<CounterValue> values = new ArrayList<>(settings.pushBatch());
          outbox.counterPage(cursor, settings.pushBatch(), ids, values);
          if (ids.isEmpty()) {
            break;
          }
          cursor = ids.get(ids.size() - 1);
          pageIds.add(ids);
          pageValues.add(values);
          inFlight.add(slots.push(ids, values).toCompletableFuture());
        }
        if (inFlight.isEmpty()) {
          fullRepush = false;
          knownFingerprint = repushFingerprint;
          repushFingerprint = null;
          writeFingerprint(knownFingerprint);
          log.info("region {}: every counter pushed again", region);
          return true;
        }
        try {
          await(CompletableFuture.allOf(inFlight.toArray(CompletableFuture<?>[]::new)));
        } catch (RedisFailure e) {
          failures.increment();
          lastError = e.getMessage();
          log.debug("re-push to region {} failed: {}", region, e.getMessage());
          return false;
        }
        pushTimer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        for (int k = 0; k < pageIds.size(); k++) {
          pushed.increment(pageIds.get(k).size());
          tellPushed(pageIds.get(k), pageValues.get(k));
        }
        repushCursor = cursor;
      }
      return false;
    }

    /**
     * Pushes the counters the outbox entries name, with their stored values, page by page; each
     * page's entries are cleared once it is in Redis (the values were read after those commits).
     */
    private boolean pushOutbox() {
      long after = 0;
      while (!closed) {
        java.util.Set<CounterId> page = new java.util.LinkedHashSet<>();
        long last = outbox.outboxRead(index, after, settings.pushBatch(), page);
        if (page.isEmpty()) {
          return true;
        }
        List<CounterId> ids = new ArrayList<>(page);
        if (!push(ids, store.getAll(ids))) {
          return false;
        }
        outbox.outboxClear(index, last);
        after = last;
      }
      return false;
    }

    /**
     * Pushes the changed counters in batches, {@link #PUSH_WINDOW} of them in flight at a time: a
     * pusher that is behind (a backlog) drains at Redis's pace, not at one round trip per batch.
     * Batches hold distinct counters, so the order they land in does not matter.
     */
    private boolean pushDirty() {
      Iterator<CounterId> it = dirty.keySet().iterator();
      java.util.ArrayDeque<Batch> inFlight = new java.util.ArrayDeque<>(PUSH_WINDOW);
      while (!closed) {
        while (it.hasNext() && inFlight.size() < PUSH_WINDOW) {
          List<CounterId> ids = new ArrayList<>(settings.pushBatch());
          List<CounterValue> values = new ArrayList<>(settings.pushBatch());
          while (it.hasNext() && ids.size() < settings.pushBatch()) {
            CounterId id = it.next();
            // the value removed is the newest committed; a later commit puts the counter back
            CounterValue v = dirty.remove(id);
            if (v != null) {
              ids.add(id);
              values.add(v);
            }
          }
          if (!ids.isEmpty()) {
            inFlight.add(new Batch(ids, values, slots.push(ids, values), System.nanoTime()));
          }
        }
        Batch oldest = inFlight.poll();
        if (oldest == null) {
          return true;
        }
        if (!landed(oldest)) {
          overflow = true; // what this round took is still in the outbox entries
          return false;
        }
      }
      return false;
    }

    private record Batch(
        List<CounterId> ids, List<CounterValue> values, CompletionStage<Void> push, long t0) {}

    /** Waits for a batch's push; once Redis holds it, tells the region's live bus. */
    private boolean landed(Batch b) {
      try {
        await(b.push());
      } catch (RedisFailure e) {
        failures.increment();
        lastError = e.getMessage();
        log.debug(
            "push of {} counters to region {} failed: {}", b.ids().size(), region, e.getMessage());
        return false;
      }
      pushTimer.record(System.nanoTime() - b.t0(), TimeUnit.NANOSECONDS);
      pushed.increment(b.ids().size());
      tellPushed(b.ids(), b.values());
      return true;
    }

    /** Pushes one batch and waits for it; once Redis holds it, tells the region's live bus. */
    private boolean push(List<CounterId> ids, List<CounterValue> values) {
      return landed(
          new Batch(
              List.copyOf(ids), List.copyOf(values), slots.push(ids, values), System.nanoTime()));
    }

    private void tellPushed(List<CounterId> ids, List<CounterValue> values) {
      try {
        pushedListeners.get(index).accept(ids, values);
      } catch (RuntimeException e) {
        log.error("listener of pushed slots failed", e);
      }
    }

    private <T> T await(CompletionStage<T> stage) throws RedisFailure {
      try {
        return stage
            .toCompletableFuture()
            .get(settings.commandTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisFailure("interrupted");
      } catch (ExecutionException | TimeoutException e) {
        throw new RedisFailure(describe(e));
      } catch (RuntimeException e) {
        throw new RedisFailure(describe(e));
      }
    }

    private Path fingerprintFile() {
      return stateDir.resolve("cluster-" + index + "-" + region + ".fingerprint");
    }

    private String readFingerprint() {
      try {
        Path f = fingerprintFile();
        return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8).strip() : null;
      } catch (IOException e) {
        log.warn("cannot read {}: {}; every counter will be pushed again", fingerprintFile(), e);
        return null;
      }
    }

    private void writeFingerprint(String fp) {
      try {
        Path tmp = stateDir.resolve(fingerprintFile().getFileName() + ".tmp");
        Files.writeString(tmp, fp + "\n", StandardCharsets.UTF_8);
        Files.move(
            tmp,
            fingerprintFile(),
            StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        log.warn("cannot save the Redis fingerprint ({}); a restart will push everything again", e);
      }
    }
  }

  /** A Redis command failed or timed out; the pusher retries. */
  private static final class RedisFailure extends Exception {
    private static final long serialVersionUID = 1L;

    RedisFailure(String message) {
      super(message, null, false, false);
    }
  }
}
