package dev.tally.engine;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.store.CounterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded cache of committed counter values for the read path. Thread-safe: the committer
 * publishes each commit, readers on any thread look up and fill misses from the store.
 *
 * <p>Concurrency: a reader that misses reads the store and caches what it read, but a commit can
 * land between its store read and its insert; the committer updates only counters that are cached,
 * so the reader would leave an old value behind, for every later reader to see. Commits are
 * therefore bracketed by two counters, as in a seqlock: {@code started} before the store write,
 * {@code finished} after the cache update. A reader caches only when no commit was running when it
 * began its store read and none has started since; it checks the second and inserts under a lock
 * that the committer also takes to start a commit, so no commit can start between the check and the
 * insert (a commit starting after the insert finds the counter cached and updates it). Taking an
 * insert back after the fact is not enough: other readers would see it meanwhile. Values merge by
 * CRDT max, so an insert never lowers a newer value that is still cached.
 */
public final class ReadCache {

  private final Cache<CounterId, CounterValue> cache;
  private final CounterStore store;
  private final AtomicLong started = new AtomicLong();
  private final AtomicLong finished = new AtomicLong();
  // held to start a commit, and by readers to check that none started and insert
  private final Object inserts = new Object();

  public ReadCache(CounterStore store, long maxCounters) {
    this.store = store;
    // maintenance (eviction) on the calling threads: handing it to the common pool cost the
    // committer a thread wake-up per commit (about 5% of a write's CPU when profiled)
    this.cache = Caffeine.newBuilder().maximumSize(maxCounters).executor(Runnable::run).build();
  }

  /**
   * The committed value of {@code id} if it is in memory (this cache, or the store's memory), else
   * null: never blocks on the disk, safe on an event loop.
   */
  public CounterValue peek(CounterId id) {
    CounterValue v = cache.getIfPresent(id);
    if (v != null) {
      return v;
    }
    long f = finished.get();
    long s = started.get();
    v = store.getIfInMemory(id);
    if (v != null) {
      remember(id, v, s, f);
    }
    return v;
  }

  /** The committed value of {@code id}; may read the store (disk): call off the event loop. */
  public CounterValue read(CounterId id) {
    CounterValue v = cache.getIfPresent(id);
    if (v != null) {
      return v;
    }
    long f = finished.get();
    long s = started.get();
    v = store.get(id);
    remember(id, v, s, f);
    return v;
  }

  /** The committed values of {@code ids}, in order; may read the store: call off the event loop. */
  public List<CounterValue> readAll(List<CounterId> ids) {
    List<CounterValue> out = new ArrayList<>(ids.size());
    List<CounterId> missing = new ArrayList<>();
    for (CounterId id : ids) {
      CounterValue v = cache.getIfPresent(id);
      out.add(v);
      if (v == null) {
        missing.add(id);
      }
    }
    if (missing.isEmpty()) {
      return out;
    }
    long f = finished.get();
    long s = started.get();
    List<CounterValue> loaded = store.getAll(missing);
    for (int i = 0, j = 0; i < out.size(); i++) {
      if (out.get(i) == null) {
        out.set(i, loaded.get(j++));
      }
    }
    if (s == f) {
      synchronized (inserts) {
        if (started.get() == s) {
          for (int i = 0; i < missing.size(); i++) {
            cache.asMap().merge(missing.get(i), loaded.get(i), CounterValue::merge);
          }
        }
      }
    }
    return out;
  }

  private void remember(CounterId id, CounterValue v, long startedBefore, long finishedBefore) {
    if (startedBefore != finishedBefore) {
      return; // a commit was running: what we read may be overtaken before we insert
    }
    synchronized (inserts) {
      if (started.get() == startedBefore) {
        cache.asMap().merge(id, v, CounterValue::merge);
      }
    }
  }

  /** Committer: a commit is about to be written. */
  void beginCommit() {
    synchronized (inserts) {
      started.incrementAndGet();
    }
  }

  /**
   * Committer: the commit is durable (or failed: pass nothing); brings the cached counters among
   * {@code ids} up to their new values. Counters not cached are left out: a reader that misses
   * reads the store, which already holds the commit, and caches what it read (see {@link
   * #remember}: it drops its insert if a commit started meanwhile). Inserting every committed
   * counter cost the committer a cache insertion and an eviction per distinct counter, half of its
   * Java time on writes spread over a million counters (BENCHMARKS.md). A plain replace, not a
   * merge: commits come from one thread in order, so the committer's value is the newest committed
   * one; a reader that merges an older value afterwards keeps this one (CRDT max).
   */
  void endCommit(List<CounterId> ids, List<CounterValue> values) {
    java.util.concurrent.ConcurrentMap<CounterId, CounterValue> map = cache.asMap();
    for (int i = 0; i < ids.size(); i++) {
      map.replace(ids.get(i), values.get(i));
    }
    finished.incrementAndGet();
  }

  long size() {
    return cache.estimatedSize();
  }
}
