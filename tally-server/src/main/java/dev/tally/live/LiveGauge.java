package dev.tally.live;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The live-viewer gauge of every post: its open streams plus the heartbeat viewers whose last
 * heartbeat is younger than the TTL. Held in memory only; a restart starts every post at zero.
 * Thread-safe; owned by {@link LiveService}, which calls {@link #expire} periodically.
 *
 * <p>Concurrency: each post's state is changed only inside {@link ConcurrentHashMap#compute} on its
 * entry, so changes to one post are atomic and posts do not contend. The change listener is called
 * after the map operation, outside any lock. Heartbeat viewers of a post are kept in refresh order
 * (a refresh moves the viewer to the end), so with a fixed TTL the oldest expiry is always first
 * and expiring costs only the entries that expire. Reads count unexpired viewers without changing
 * anything; {@link #expire} removes them and tells the listener.
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

  private final ConcurrentHashMap<Long, Post> posts = new ConcurrentHashMap<>();
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
    return out[0];
  }

  /** The post's live count now; never blocks for long, changes nothing. */
  public LiveReading read(long postId) {
    Post p = posts.get(postId);
    if (p == null) {
      return LiveReading.NOBODY;
    }
    long now = clock.millis();
    LiveReading[] out = {LiveReading.NOBODY};
    posts.computeIfPresent(
        postId,
        (k, q) -> {
          out[0] = new LiveReading(q.liveViewers(now), q.updatedAtSecond);
          return q;
        });
    return out[0];
  }

  /**
   * Forgets every heartbeat viewer whose TTL has passed and tells the listener about each post that
   * changed.
   *
   * @return how many viewers expired
   */
  public int expire() {
    long now = clock.millis();
    List<Long> changed = new ArrayList<>();
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
