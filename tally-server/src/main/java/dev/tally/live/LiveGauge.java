package dev.tally.live;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The live-viewer gauge of every post: its open streams plus the heartbeat viewers whose last
 * heartbeat is younger than the TTL, plus, in cluster mode, the other nodes' shares of the post as
 * last heard from Redis, each until it expires. Held in memory only; a restart starts every post at
 * zero. Thread-safe; owned by {@link LiveService}, which calls {@link #expire} periodically.
 *
 * <p>Concurrency: each post's state is changed only inside {@link ConcurrentHashMap#compute} on its
 * entry, so changes to one post are atomic and posts do not contend. The change listener is called
 * after the map operation, outside any lock. Heartbeat viewers of a post are kept in refresh order
 * (a refresh moves the viewer to the end), so with a fixed TTL the oldest expiry is always first
 * and expiring costs only the entries that expire. Reads count unexpired viewers without changing
 * anything; {@link #expire} removes them and tells the listener.
 *
 * <p>Other nodes' shares ({@link #remoteShares}) are kept apart from this node's watchers, as one
 * immutable entry per post replaced whole by each report from Redis: reads sum the shares that have
 * not expired without any lock, and {@link #expire} drops expired ones and tells the listener when
 * the post's announced sum changed. In single-node mode there are none and nothing here costs.
 */
public final class LiveGauge {

  /**
   * Told that a post's live count may have changed; called on the changing thread, never blocks.
   */
  @FunctionalInterface
  public interface ChangeListener {
    void changed(long postId);
  }

  /** One post's watchers; guarded by the map entry's compute lock. */
  private static final class Post {
    int streams;
    final LinkedHashMap<String, Long> viewerExpiry = new LinkedHashMap<>();
    long updatedAtSecond;

    boolean empty() {
      return streams == 0 && viewerExpiry.isEmpty();
    }

    int liveViewers(long nowMillis) {
      int expired = 0;
      for (long expiry : viewerExpiry.values()) {
        if (expiry > nowMillis) {
          break;
        }
        expired++;
      }
      return streams + viewerExpiry.size() - expired;
    }
  }

  /**
   * Other nodes' viewers of one post: {@code counts[i]} until {@code expiresAtMillis[i]} (this
   * node's clock); {@code announcedSum} is the sum the listener was last told of. Immutable.
   */
  private record Remote(
      long[] counts, long[] expiresAtMillis, long announcedSum, long updatedAtSecond) {

    long sum(long nowMillis) {
      long sum = 0;
      for (int i = 0; i < counts.length; i++) {
        if (expiresAtMillis[i] > nowMillis) {
          sum += counts[i];
        }
      }
      return sum;
    }

    boolean anyExpired(long nowMillis) {
      for (long e : expiresAtMillis) {
        if (e <= nowMillis) {
          return true;
        }
      }
      return false;
    }

    /** This entry without the shares expired at {@code nowMillis}. */
    Remote withoutExpired(long nowMillis, long nowSecond) {
      int fresh = 0;
      for (long e : expiresAtMillis) {
        if (e > nowMillis) {
          fresh++;
        }
      }
      long[] c = new long[fresh];
      long[] e = new long[fresh];
      int j = 0;
      for (int i = 0; i < counts.length; i++) {
        if (expiresAtMillis[i] > nowMillis) {
          c[j] = counts[i];
          e[j++] = expiresAtMillis[i];
        }
      }
      long sum = sum(nowMillis);
      return new Remote(c, e, sum, sum == announcedSum ? updatedAtSecond : nowSecond);
    }
  }

  private final ConcurrentHashMap<Long, Post> posts = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Long, Remote> remote = new ConcurrentHashMap<>();
  private final AtomicInteger viewers = new AtomicInteger();
  private final AtomicInteger streams = new AtomicInteger();
  private final Clock clock;
  private final long ttlMillis;
  private final int maxViewers;
  private volatile ChangeListener listener = post -> {};

  public LiveGauge(Clock clock, Duration heartbeatTtl, int maxHeartbeatViewers) {
    this.clock = clock;
    this.ttlMillis = heartbeatTtl.toMillis();
    this.maxViewers = maxHeartbeatViewers;
  }

  /** Sets the one listener told of changes. */
  public void onChange(ChangeListener l) {
    this.listener = l;
  }

  public Duration ttl() {
    return Duration.ofMillis(ttlMillis);
  }

  public void streamOpened(long postId) {
    long now = clock.millis();
    posts.compute(
        postId,
        (k, p) -> {
          if (p == null) {
            p = new Post();
          }
          p.streams++;
          p.updatedAtSecond = now / 1000;
          return p;
        });
    streams.incrementAndGet();
    listener.changed(postId);
  }

  public void streamClosed(long postId) {
    long now = clock.millis();
    boolean[] changed = {false};
    posts.computeIfPresent(
        postId,
        (k, p) -> {
          if (p.streams == 0) {
            return p;
          }
          p.streams--;
          p.updatedAtSecond = now / 1000;
          changed[0] = true;
          return p.empty() ? null : p;
        });
    if (changed[0]) {
      streams.decrementAndGet();
      listener.changed(postId);
    }
  }

  /**
   * Counts {@code viewerId} as watching {@code postId} for the TTL from now, and returns the post's
   * live count including it.
   *
   * @throws TallyException {@link ErrorKind#OVERLOADED} when the viewer is new and the node already
   *     remembers its maximum of heartbeat viewers; then nothing changed
   */
  public LiveReading heartbeat(long postId, String viewerId) {
    long now = clock.millis();
    boolean[] isNew = {false};
    boolean[] full = {false};
    LiveReading[] out = {null};
    posts.compute(
        postId,
        (k, p) -> {
          if (p == null) {
            p = new Post();
          }
          Long previous = p.viewerExpiry.remove(viewerId);
          if (previous == null || previous <= now) {
            // a new viewer, or one that expired and was not yet swept: the count goes up
            if (previous == null && viewers.incrementAndGet() > maxViewers) {
              viewers.decrementAndGet();
              full[0] = true;
              return p.empty() ? null : p;
            }
            isNew[0] = true;
            p.updatedAtSecond = now / 1000;
          }
          p.viewerExpiry.put(viewerId, now + ttlMillis);
          out[0] = new LiveReading(p.liveViewers(now), p.updatedAtSecond);
          return p;
        });
    if (full[0]) {
      throw new TallyException(
          ErrorKind.OVERLOADED, "too many heartbeat viewers on this node; retry shortly");
    }
    if (isNew[0]) {
      listener.changed(postId);
    }
    return withRemote(postId, out[0], now);
  }

  /** {@code local} plus the other nodes' fresh shares of the post, if any. */
  private LiveReading withRemote(long postId, LiveReading local, long nowMillis) {
    Remote r = remote.get(postId);
    if (r == null) {
      return local;
    }
    return new LiveReading(
        local.count() + r.sum(nowMillis), Math.max(local.updatedAtSecond(), r.updatedAtSecond()));
  }

  /**
   * The post's live count now: this node's viewers plus the other nodes' shares that have not
   * expired; never blocks for long, changes nothing.
   */
  public LiveReading read(long postId) {
    Post p = posts.get(postId);
    if (p == null && remote.isEmpty()) {
      return LiveReading.NOBODY;
    }
    long now = clock.millis();
    return withRemote(postId, readLocal(postId, now), now);
  }

  private LiveReading readLocal(long postId, long now) {
    LiveReading[] out = {LiveReading.NOBODY};
    posts.computeIfPresent(
        postId,
        (k, q) -> {
          out[0] = new LiveReading(q.liveViewers(now), q.updatedAtSecond);
          return q;
        });
    return out[0];
  }

  /** This node's viewers of each post that has any now (streams plus unexpired heartbeats). */
  public Map<Long, Integer> localViewers() {
    long now = clock.millis();
    Map<Long, Integer> out = new HashMap<>();
    for (Long postId : posts.keySet()) {
      posts.computeIfPresent(
          postId,
          (k, p) -> {
            int n = p.liveViewers(now);
            if (n > 0) {
              out.put(k, n);
            }
            return p;
          });
    }
    return out;
  }

  // ---- other nodes' shares (cluster mode)

  /**
   * Replaces what is known of the other nodes' viewers of {@code postId}: {@code counts[i]} viewers
   * for {@code remainingMillis[i]} from now (an empty array: nobody elsewhere). Tells the listener
   * when the post's sum differs from the one it was last told of. Any thread; never blocks.
   */
  public void remoteShares(long postId, long[] counts, long[] remainingMillis) {
    if (counts.length != remainingMillis.length) {
      throw new IllegalArgumentException(
          counts.length + " counts but " + remainingMillis.length + " expiries");
    }
    long now = clock.millis();
    long[] expires = new long[remainingMillis.length];
    for (int i = 0; i < expires.length; i++) {
      expires[i] = now + remainingMillis[i];
    }
    long[] copy = counts.clone();
    boolean[] changed = {false};
    remote.compute(
        postId,
        (k, old) -> {
          long sum = new Remote(copy, expires, 0, 0).sum(now);
          long announced = old == null ? 0 : old.announcedSum;
          changed[0] = sum != announced;
          long at = changed[0] ? now / 1000 : old == null ? 0 : old.updatedAtSecond;
          return new Remote(copy, expires, sum, at);
        });
    if (changed[0]) {
      listener.changed(postId);
    }
  }

  /** Forgets the other nodes' shares of {@code postId} (it is no longer kept fresh here). */
  public void forgetRemote(long postId) {
    Remote old = remote.remove(postId);
    if (old != null && old.announcedSum != 0) {
      listener.changed(postId);
    }
  }

  /** True when the other nodes' shares of {@code postId} were read from Redis and are kept. */
  public boolean remoteKnown(long postId) {
    return remote.containsKey(postId);
  }

  /** The posts whose other nodes' shares are kept (a live view). */
  public Set<Long> remotePosts() {
    return Collections.unmodifiableSet(remote.keySet());
  }

  /**
   * Forgets every heartbeat viewer whose TTL has passed, and every other node's share that expired,
   * and tells the listener about each post that changed.
   *
   * @return how many viewers expired
   */
  public int expire() {
    long now = clock.millis();
    Set<Long> changed = new LinkedHashSet<>();
    int[] expired = {0};
    for (Long postId : posts.keySet()) {
      posts.computeIfPresent(
          postId,
          (k, p) -> {
            int before = expired[0];
            Iterator<Map.Entry<String, Long>> it = p.viewerExpiry.entrySet().iterator();
            while (it.hasNext()) {
              if (it.next().getValue() > now) {
                break;
              }
              it.remove();
              expired[0]++;
            }
            if (expired[0] == before) {
              return p;
            }
            p.updatedAtSecond = now / 1000;
            changed.add(k);
            return p.empty() ? null : p;
          });
    }
    viewers.addAndGet(-expired[0]);
    for (Long postId : remote.keySet()) {
      boolean[] sumChanged = {false};
      remote.computeIfPresent(
          postId,
          (k, r) -> {
            if (!r.anyExpired(now)) {
              return r;
            }
            Remote fresh = r.withoutExpired(now, now / 1000);
            sumChanged[0] = fresh.announcedSum != r.announcedSum;
            return fresh;
          });
      if (sumChanged[0]) {
        changed.add(postId);
      }
    }
    for (long postId : changed) {
      listener.changed(postId);
    }
    return expired[0];
  }

  /** Heartbeat viewers remembered (some may have expired since the last {@link #expire}). */
  public int heartbeatViewers() {
    return viewers.get();
  }

  /** Open streams counted, over all posts. */
  public int openStreams() {
    return streams.get();
  }

  /** Posts with at least one watcher. */
  public int watchedPosts() {
    return posts.size();
  }
}
