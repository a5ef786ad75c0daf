package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.CounterStore;
import dev.tally.store.IdempotencyRecord;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One committer thread of an {@link Aggregator}: takes the submissions routed to it, applies them
 * in queue order to its private copy of the counters it owns, writes one batch to the store and
 * then answers every write. See {@link Aggregator} for the guarantees; this class keeps them for
 * the counters routed to it, which no other committer touches.
 *
 * <p>Everything but {@link #enqueue} and the lifecycle runs on the committer's own thread.
 */
final class Committer {

  private static final Logger log = LoggerFactory.getLogger(Aggregator.class);

  /**
   * Writes routed to one committer and where their answers go; {@code refused}, when not null,
   * marks writes to answer as idempotency conflicts without applying them (their key is in flight
   * on another committer, see {@link Aggregator}).
   */
  record Submission(Write[] writes, boolean[] refused, Aggregator.Callback callback) {}

  private final Aggregator owner;
  private final CounterStore store;
  private final ReadCache readCache;
  private final Clock clock;
  private final Aggregator.Settings settings;
  private final boolean purges;
  private final LinkedBlockingQueue<Submission> queue = new LinkedBlockingQueue<>();
  private final Thread thread;

  // committer-thread state
  private final CounterTable state;
  private final List<Submission> batch = new ArrayList<>();
  private final Map<String, IdempotencyRecord> keysInBatch = new HashMap<>();
  // load()'s scratch, cleared for each batch: the committer is one thread
  private final List<CounterId> toLoad = new ArrayList<>();
  private final List<String> keysToLoad = new ArrayList<>();
  private final List<Pending> toFill = new ArrayList<>(); // the entries of toLoad, in its order
  // every counter of the batch, from its committed value (one look into `state` or the store per
  // distinct counter) to its value after the batch, in first-seen order; and where each is in
  // that list: this small index, not the big table that misses the CPU caches
  private final List<Pending> pendingOrder = new ArrayList<>();
  private final BatchIndex pending = new BatchIndex(1024);
  private final Commit commit = new Commit();
  private long lastPurgeMillis;

  /**
   * @param purges whether this committer forgets expired idempotency keys (one of a node's
   *     committers does)
   */
  Committer(
      Aggregator owner,
      String name,
      int stateCounters,
      boolean purges,
      CounterStore store,
      ReadCache readCache,
      Clock clock,
      Aggregator.Settings settings) {
    this.owner = owner;
    this.store = store;
    this.readCache = readCache;
    this.clock = clock;
    this.settings = settings;
    this.purges = purges;
    this.state = new CounterTable(stateCounters);
    this.thread = Thread.ofPlatform().name(name).unstarted(this::run);
  }

  void start() {
    lastPurgeMillis = clock.millis();
    thread.start();
  }

  /** Any thread: queues {@code s}; the caller counted its writes as pending. */
  void enqueue(Submission s) {
    queue.add(s);
  }

  boolean alive() {
    return thread.isAlive();
  }

  /** Waits for the thread to end; interrupts it if it is still busy then. True if it ended. */
  boolean join(long millis) {
    try {
      thread.join(Math.max(1, millis));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      thread.interrupt();
      return false;
    }
    return true;
  }

  private void run() {
    try {
      while (true) {
        Submission first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (owner.drained()) {
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
          owner.answered(n);
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
      Write[] writes = s.writes();
      boolean[] refused = s.refused();
      WriteResult[] results = new WriteResult[writes.length];
      for (int i = 0; i < results.length; i++) {
        results[i] = refused != null && refused[i] ? Aggregator.keyTaken() : apply(writes[i], now);
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
    int writes = total;
    Wakeups.holdDuring(() -> commitAndHandOut(writes, ids, values, answers));
  }

  /**
   * Writes the commit, tells the listeners about it if it is durable, then answers its writes; the
   * event loops they wake are woken once each, after the last answer ({@link Wakeups}). Where the
   * aggregator orders commits (a cluster member's, see {@link Aggregator#orderCommits}), the write
   * and the listeners run under its lock: the commits' outbox numbers and the listeners then follow
   * the order in which commits became durable.
   */
  private void commitAndHandOut(
      int total, List<CounterId> ids, List<CounterValue> values, List<WriteResult[]> answers) {
    Lock order = owner.commitOrder();
    if (order != null) {
      order.lock();
    }
    try {
      boolean durable = true;
      readCache.beginCommit();
      try {
        long t0 = System.nanoTime();
        store.commit(commit);
        owner.meters().commitTimer().record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
      } catch (TallyException e) {
        durable = false;
        log.warn("group commit of {} writes failed: {}", total, e.getMessage());
        for (WriteResult[] results : answers) {
          Arrays.fill(results, WriteResult.failed(e));
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
        owner.meters().batchWrites().record(total);
        owner.meters().batchCounters().record(ids.size());
        owner.tellListeners(ids, values);
      }
    } finally {
      if (order != null) {
        order.unlock();
      }
    }
    for (int b = 0; b < batch.size(); b++) {
      WriteResult[] results = answers.get(b);
      owner.meters().count(results);
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
        if (pending.get(id.postId(), id.code()) < 0) {
          Pending e = new Pending(id);
          int slot = state.find(id.postId(), id.code());
          if (slot >= 0) {
            e.set(state.p(slot), state.n(slot), state.updatedAtSecond(slot));
          } else {
            counters.add(id);
            toFill.add(e);
          }
          pending.put(id.postId(), id.code(), pendingOrder.size());
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
        return Aggregator.keyTaken();
      }
    }
    Pending e = pendingOrder.get(pending.get(w.counter().postId(), w.counter().code()));
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

  private void failAll(TallyException e) {
    for (Submission s : batch) {
      WriteResult[] results = new WriteResult[s.writes().length];
      Arrays.fill(results, WriteResult.failed(e));
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
    if (!purges) {
      return;
    }
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
}
