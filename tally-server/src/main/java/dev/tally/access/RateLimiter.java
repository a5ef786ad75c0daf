package dev.tally.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-key rate limits by GCRA (the generic cell rate algorithm, equivalent to a token bucket): each
 * key holds one atomic "theoretical arrival time"; a request is allowed when that time is at most
 * {@code burst} intervals ahead of now. Lock-free and thread-safe; the set of keys is bounded (the
 * least recently used are forgotten, which only ever gives a client a fresh bucket).
 *
 * @param <K> what the limits are per: a caller's id, a post id
 */
public final class RateLimiter<K> {

  private final long intervalNanos;
  private final long toleranceNanos;
  private final Cache<K, AtomicLong> buckets;

  /**
   * @param perSecond sustained requests per second per key
   * @param burst requests a key may make at once after being idle
   * @param maxKeys most keys tracked at once
   */
  public RateLimiter(double perSecond, int burst, int maxKeys) {
    if (perSecond <= 0 || burst < 1) {
      throw new IllegalArgumentException("rate and burst must be positive");
    }
    this.intervalNanos = (long) (1e9 / perSecond);
    this.toleranceNanos = intervalNanos * (burst - 1);
    this.buckets =
        Caffeine.newBuilder()
            .maximumSize(maxKeys)
            .expireAfterAccess(
                Duration.ofNanos(Math.max(toleranceNanos + intervalNanos, 1_000_000_000L)))
            .build();
  }

  /**
   * Takes {@code n} requests' worth from {@code key}'s bucket.
   *
   * @return 0 when allowed, else the nanoseconds to wait before these would be allowed
   */
  public long tryAcquire(K key, int n, long nowNanos) {
    AtomicLong tat = buckets.get(key, k -> new AtomicLong(nowNanos));
    long cost = intervalNanos * n;
    while (true) {
      long current = tat.get();
      long base = Math.max(current, nowNanos);
      long next = base + cost;
      long allowedAt = next - toleranceNanos - intervalNanos;
      if (allowedAt > nowNanos) {
        return allowedAt - nowNanos;
      }
      if (tat.compareAndSet(current, next)) {
        return 0;
      }
    }
  }
}
