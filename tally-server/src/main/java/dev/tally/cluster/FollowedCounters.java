package dev.tally.cluster;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.engine.CommitListener;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.live.ClusterTotals;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.LongPredicate;

/**
 * The other writers' shares of the counters this node follows, held in memory so that reads and
 * write answers need no Redis round trip. Thread-safe; made and owned by the node.
 *
 * <p>A counter is followed from the first time this node needs the other writers' share of it: one
 * Redis read ({@link RedisSlots#records}) loads every writer's slot, and from then on the slots the
 * other writers push arrive as change notifications on the live bus ({@link #merge}), each the
 * pushing writer's own P and N. Both are merged by per-writer maximum, the same CRDT merge Redis
 * applies, so a notification that arrives before the load, twice, or out of order changes nothing
 * it should not. This node's own slot is never held here: its own part of a count always comes from
 * its local store, so it includes every write it acknowledged, pushed or not.
 *
 * <p>Memory is bounded: at most {@code maxCounters} counters are followed, least recently used
 * beyond that are dropped (and loaded again if needed). An entry costs about 150–200 bytes with one
 * other writer.
 *
 * <p>Freshness: a notification can be lost (pub/sub delivers at most once: a failover, a dropped
 * subscription, a publisher that dropped or failed to send). The bus tells this view, and this view
 * reads the affected counters from Redis again ({@link #refresh}); meanwhile reads state how old
 * their cluster part may be (the bus's {@link #staleness}).
 *
 * <p>Concurrency: entries are guarded by their own monitor, held for a few field updates. Loads
 * complete on Redis I/O threads; notifications arrive on the bus's I/O threads; nothing blocks.
 */
public final class FollowedCounters implements CommitListener {

  /** Counters read from Redis per refresh chunk. */
  private static final int REFRESH_CHUNK = 1000;

  /** The other writers' share of a counter and its last write time over them. */
  public record Share(long others, long updatedAtSecond) {}

  /** Where counters' records are read: the home region's Redis ({@link RedisSlots#records}). */
  @FunctionalInterface
  public interface Records {
    /** Every writer's slot and the time of each of {@code ids} (same order). */
    CompletionStage<StoredCounter[]> read(List<CounterId> ids);
  }

  /** How fresh a bucket's notifications are: the bus answers; milliseconds, -1 when unknown. */
  public interface Staleness {
    long millis(long postId);
  }

  /** One followed counter; guarded by itself. */
  private static final class Followed {
    long[] entries = EMPTY; // writer, P, N of each other writer
    long others;
    long second;
    boolean loaded;
    CompletableFuture<Share> loading;

    Share share() {
      return new Share(others, second);
    }

    /** Merges one writer's slot; true when the share or time changed. */
    boolean merge(long writer, long p, long n, long updatedAtSecond) {
      boolean changed = false;
      if (updatedAtSecond > second) {
        second = updatedAtSecond;
        changed = true;
      }
      for (int i = 0; i < entries.length; i += 3) {
        if (entries[i] == writer) {
          long dp = Math.max(0, p - entries[i + 1]);
          long dn = Math.max(0, n - entries[i + 2]);
          if (dp == 0 && dn == 0) {
            return changed;
          }
          entries[i + 1] += dp;
          entries[i + 2] += dn;
          others += dp - dn;
          return true;
        }
      }
      if (p == 0 && n == 0) {
        return changed;
      }
      long[] grown = Arrays.copyOf(entries, entries.length + 3);
      grown[entries.length] = writer;
      grown[entries.length + 1] = p;
      grown[entries.length + 2] = n;
      entries = grown;
      others += p - n;
      return true;
    }
  }

  private static final long[] EMPTY = new long[0];

  /** Removes the entries of writers in {@code gone}; true if one was removed. Caller holds f. */
  private static boolean drop(Followed f, java.util.Set<Long> gone) {
    boolean removed = false;
    for (int i = 0; i < f.entries.length; ) {
      if (gone.contains(f.entries[i])) {
        f.others -= f.entries[i + 1] - f.entries[i + 2];
        long[] shrunk = new long[f.entries.length - 3];
        System.arraycopy(f.entries, 0, shrunk, 0, i);
        System.arraycopy(f.entries, i + 3, shrunk, i, f.entries.length - i - 3);
        f.entries = shrunk;
        removed = true;
      } else {
        i += 3;
      }
    }
    return removed;
  }

  private final Records home;
  private final long me;
  private final Cache<CounterId, Followed> followed;
  private final Counter loads;
  private final Counter refreshed;
  private volatile Staleness staleness = postId -> -1;
  private volatile ClusterTotals totals;
  private volatile LongPredicate watched = postId -> false;
  private volatile Function<CounterId, CounterValue> own = id -> null;
  private volatile java.util.Set<Long> retired = java.util.Set.of();

  /**
   * @param home where unknown counters are loaded from: the home region's Redis
   * @param writerId this node's writer id, whose slot is left out
   * @param maxCounters most counters followed at once
   */
  public FollowedCounters(Records home, long writerId, long maxCounters, MeterRegistry registry) {
    if (maxCounters < 1) {
      throw new IllegalArgumentException("maxCounters must be positive");
    }
    this.home = home;
    this.me = writerId;
    this.followed = Caffeine.newBuilder().maximumSize(maxCounters).executor(Runnable::run).build();
    this.loads =
        Counter.builder("tally.cluster.follow.loads")
            .description("Counters read from Redis because this node did not follow them yet")
            .register(registry);
    this.refreshed =
        Counter.builder("tally.cluster.follow.refreshes")
            .description("Followed counters read from Redis again after notifications were lost")
            .register(registry);
    Gauge.builder("tally.cluster.followed.counters", followed, Cache::estimatedSize)
        .description("Counters whose other writers' shares this node holds in memory")
        .register(registry);
    Gauge.builder("tally.cluster.follow.max", () -> maxCounters)
        .description("Most counters followed at once (--cluster-follow-max)")
        .register(registry);
  }

  /** Where freshness comes from: the live bus, once it exists. */
  public void staleness(Staleness s) {
    this.staleness = s;
  }

  /**
   * Where changed counts go: {@code totals} (the live streams) gets this node's own value ({@code
   * own}, from memory) plus the other writers' share of every counter of a post {@code watched}
   * says is watched, on every local commit and every notification that changed a share.
   */
  public void feed(
      ClusterTotals totals, LongPredicate watched, Function<CounterId, CounterValue> own) {
    this.watched = watched;
    this.own = own;
    this.totals = totals;
  }

  /** The share of {@code id} if it is followed and loaded, else null. Never blocks. */
  public Share peek(CounterId id) {
    Followed f = followed.getIfPresent(id);
    if (f == null) {
      return null;
    }
    synchronized (f) {
      return f.loaded ? f.share() : null;
    }
  }

  /** How old the cluster part of a read of {@code postId}'s counters may be; -1 when unknown. */
  public long stalenessMillis(long postId) {
    return staleness.millis(postId);
  }

  /**
   * The shares of {@code ids} (same order), following the counters not followed yet: those cost one
   * Redis read each (pipelined). Fails with {@link ErrorKind#UNAVAILABLE} when one of them cannot
   * be read.
   */
  public CompletionStage<Share[]> follow(List<CounterId> ids) {
    Share[] out = new Share[ids.size()];
    List<CompletableFuture<Share>> waits = null;
    int[] waitIndex = null;
    List<CounterId> toLoad = null;
    List<Followed> loading = null;
    for (int i = 0; i < out.length; i++) {
      CounterId id = ids.get(i);
      Followed f = followed.get(id, k -> new Followed());
      CompletableFuture<Share> wait;
      synchronized (f) {
        if (f.loaded) {
          out[i] = f.share();
          continue;
        }
        if (f.loading == null) {
          f.loading = new CompletableFuture<>();
          if (toLoad == null) {
            toLoad = new ArrayList<>();
            loading = new ArrayList<>();
          }
          toLoad.add(id);
          loading.add(f);
        }
        wait = f.loading;
      }
      if (waits == null) {
        waits = new ArrayList<>();
        waitIndex = new int[out.length];
      }
      waitIndex[waits.size()] = i;
      waits.add(wait);
    }
    if (toLoad != null) {
      load(toLoad, loading);
    }
    if (waits == null) {
      return CompletableFuture.completedFuture(out);
    }
    List<CompletableFuture<Share>> pending = waits;
    int[] at = waitIndex;
    return CompletableFuture.allOf(pending.toArray(CompletableFuture<?>[]::new))
        .thenApply(
            ignored -> {
              for (int k = 0; k < pending.size(); k++) {
                out[at[k]] = pending.get(k).join();
              }
              return out;
            });
  }

  private void load(List<CounterId> ids, List<Followed> entries) {
    loads.increment(ids.size());
    home.read(ids)
        .whenComplete(
            (records, error) -> {
              for (int i = 0; i < entries.size(); i++) {
                Followed f = entries.get(i);
                CompletableFuture<Share> done;
                Share share = null;
                synchronized (f) {
                  done = f.loading;
                  f.loading = null;
                  if (error == null) {
                    mergeRecord(f, records[i]);
                    f.loaded = true;
                    share = f.share();
                  }
                }
                if (error == null) {
                  done.complete(share);
                } else {
                  followed.asMap().remove(ids.get(i), f);
                  done.completeExceptionally(
                      TallyException.in(
                          error,
                          ErrorKind.UNAVAILABLE,
                          "the cluster's counts are unreachable: " + RedisSlots.describe(error)));
                }
              }
            });
  }

  /**
   * Merges a record Redis holds into an entry; caller holds f. Slots merge by maximum, except a
   * retired writer's: the record decides whether it still has one (before its fold) or not (after:
   * the record's base entry holds it now). True when the share changed.
   */
  private boolean mergeRecord(Followed f, StoredCounter record) {
    long[] e = record.entries();
    boolean changed = false;
    Slot baseBefore = slotOf(f, WriterRetirement.BASE_WRITER);
    for (int k = 0; k < e.length; k += 3) {
      if (e[k] != me) {
        changed |= f.merge(e[k], e[k + 1], e[k + 2], 0);
      }
    }
    if (record.updatedAtSecond() > f.second) {
      f.second = record.updatedAtSecond();
      changed = true;
    }
    // a writer absent from the record is gone from it for good when it is known retired, or when
    // the record's base entry grew: only a fold raises the base, and it removes the writers it
    // folds in the same step (otherwise their share would count twice until the node learns)
    Slot baseAfter = record.slotOf(WriterRetirement.BASE_WRITER);
    boolean folded = f.loaded && !baseBefore.dominates(baseAfter);
    java.util.Set<Long> gone = retired;
    if (folded || !gone.isEmpty()) {
      java.util.Set<Long> absent = new java.util.HashSet<>();
      for (int i = 0; i < f.entries.length; i += 3) {
        long w = f.entries[i];
        if (w != WriterRetirement.BASE_WRITER
            && (folded || gone.contains(w))
            && !holds(record, w)) {
          absent.add(w);
        }
      }
      changed |= !absent.isEmpty() && drop(f, absent);
    }
    return changed;
  }

  private static Slot slotOf(Followed f, long writer) {
    for (int i = 0; i < f.entries.length; i += 3) {
      if (f.entries[i] == writer) {
        return new Slot(f.entries[i + 1], f.entries[i + 2]);
      }
    }
    return Slot.ZERO;
  }

  private static boolean holds(StoredCounter record, long writer) {
    long[] e = record.entries();
    for (int k = 0; k < e.length; k += 3) {
      if (e[k] == writer) {
        return true;
      }
    }
    return false;
  }

  /**
   * The writers retired so far ({@link WriterRetirement}), as the node learns them periodically:
   * their notifications are ignored from now on, and the followed counters holding a share of one
   * are read again, until Redis's records show it folded into the base.
   */
  public CompletionStage<Void> retired(java.util.Set<Long> writers) {
    this.retired = java.util.Set.copyOf(writers);
    if (writers.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    java.util.Set<Long> gone = this.retired;
    return refresh(
        id -> {
          Followed f = followed.getIfPresent(id);
          if (f == null) {
            return false;
          }
          synchronized (f) {
            for (int i = 0; i < f.entries.length; i += 3) {
              if (gone.contains(f.entries[i])) {
                return true;
              }
            }
          }
          return false;
        });
  }

  /**
   * Bus I/O thread: {@code writer} pushed slot (p, n) of {@code id}, last written at {@code
   * second}. Ignored unless {@code id} is followed; never blocks.
   */
  public void merge(CounterId id, long writer, long p, long n, long second) {
    if (writer == me || retired.contains(writer)) {
      return;
    }
    Followed f = followed.getIfPresent(id);
    if (f == null) {
      return;
    }
    Share share;
    synchronized (f) {
      if (!f.merge(writer, p, n, second) || !f.loaded) {
        return;
      }
      share = f.share();
    }
    announce(id, share);
  }

  /** Merges a record read again into a followed counter, and tells the streams if it changed. */
  private void applyRecord(CounterId id, StoredCounter record) {
    Followed f = followed.getIfPresent(id);
    if (f == null) {
      return;
    }
    Share share;
    synchronized (f) {
      if (!mergeRecord(f, record) || !f.loaded) {
        return;
      }
      share = f.share();
    }
    announce(id, share);
  }

  /**
   * Hands a watched counter's cluster-wide count to the streams, with this node's part from memory.
   */
  private void announce(CounterId id, Share share) {
    ClusterTotals t = totals;
    if (t != null && watched.test(id.postId())) {
      CounterValue mine = own.apply(id);
      if (mine != null) {
        hand(t, id, mine, share);
      }
    }
  }

  /** The count the streams show: this node's part {@code mine} plus the others' {@code share}. */
  private static void hand(ClusterTotals t, CounterId id, CounterValue mine, Share share) {
    t.totals(
        List.of(id),
        new long[] {mine.count() + share.others()},
        Math.max(mine.updatedAtSecond(), share.updatedAtSecond()));
  }

  /**
   * Committer thread: this node's new values; the counters of watched posts go to the live streams
   * with the other writers' share added. Only hands off.
   */
  @Override
  public void committed(List<CounterId> ids, List<CounterValue> values) {
    ClusterTotals t = totals;
    if (t == null) {
      return;
    }
    LongPredicate w = watched;
    for (int i = 0; i < ids.size(); i++) {
      CounterId id = ids.get(i);
      if (!w.test(id.postId())) {
        continue;
      }
      Share s = peek(id);
      if (s != null) {
        hand(t, id, values.get(i), s);
      }
    }
  }

  /**
   * Reads the followed counters {@code which} accepts from Redis again and merges what it holds:
   * for counters whose notifications may have been lost. Completes when done, exceptionally if a
   * read failed (the counters read are merged all the same; the caller tries again).
   */
  public CompletionStage<Void> refresh(java.util.function.Predicate<CounterId> which) {
    List<CounterId> ids = new ArrayList<>();
    for (CounterId id : followed.asMap().keySet()) {
      if (which.test(id)) {
        ids.add(id);
      }
    }
    return refreshIds(ids);
  }

  /**
   * One tick of the anti-entropy sweep (one caller thread): reads the next slice of the followed
   * counters again, sized so that every followed counter is read again within {@code cycleMillis}
   * at one call per {@code tickMillis}, but at most {@code maxPerTick} a call. A notice lost
   * without anything saying so (a loss no silence, gap or resubscription revealed) is so healed
   * within a cycle, for at most {@code maxPerTick / tickMillis} Redis reads a millisecond.
   */
  public CompletionStage<Void> sweep(long tickMillis, long cycleMillis, int maxPerTick) {
    if (sweepAt >= sweepList.size()) {
      sweepList = new ArrayList<>(followed.asMap().keySet());
      sweepAt = 0;
      if (sweepList.isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
    }
    // a tick's share of the cycle, carried over in fractions: a view of ten counters reads one
    // every 3 s of a 30 s cycle, not one every tick
    sweepCredit += (double) sweepList.size() * tickMillis / Math.max(1, cycleMillis);
    sweepCredit = Math.min(sweepCredit, maxPerTick);
    int n = (int) sweepCredit;
    if (n == 0) {
      return CompletableFuture.completedFuture(null);
    }
    sweepCredit -= n;
    List<CounterId> slice =
        List.copyOf(sweepList.subList(sweepAt, Math.min(sweepList.size(), sweepAt + n)));
    sweepAt += slice.size();
    return refreshIds(slice);
  }

  private List<CounterId> sweepList = List.of(); // the sweep's caller thread only
  private int sweepAt;
  private double sweepCredit;

  private CompletionStage<Void> refreshIds(List<CounterId> ids) {
    List<CompletableFuture<Void>> chunks = new ArrayList<>();
    for (int from = 0; from < ids.size(); from += REFRESH_CHUNK) {
      List<CounterId> chunk = ids.subList(from, Math.min(ids.size(), from + REFRESH_CHUNK));
      refreshed.increment(chunk.size());
      chunks.add(
          home.read(chunk)
              .toCompletableFuture()
              .thenAccept(
                  records -> {
                    for (int i = 0; i < chunk.size(); i++) {
                      applyRecord(chunk.get(i), records[i]);
                    }
                  }));
    }
    return CompletableFuture.allOf(chunks.toArray(CompletableFuture<?>[]::new));
  }

  /**
   * Reads {@code ids} from Redis (following those not followed yet), merges what Redis holds, and
   * hands the counts of watched posts to the streams whether they changed or not: for streams that
   * start or may have missed notifications. Completes exceptionally when Redis failed.
   */
  public CompletionStage<Void> resync(List<CounterId> ids) {
    List<Followed> entries = new ArrayList<>(ids.size());
    for (CounterId id : ids) {
      entries.add(followed.get(id, k -> new Followed()));
    }
    return home.read(ids)
        .thenAccept(
            records -> {
              for (int i = 0; i < ids.size(); i++) {
                Followed f = entries.get(i);
                Share share;
                synchronized (f) {
                  mergeRecord(f, records[i]);
                  f.loaded = true;
                  share = f.share();
                }
                announce(ids.get(i), share);
              }
            });
  }

  /** Counters followed now, after pending evictions. */
  public long size() {
    followed.cleanUp();
    return followed.estimatedSize();
  }
}
