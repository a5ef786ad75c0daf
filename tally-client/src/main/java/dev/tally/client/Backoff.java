package dev.tally.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How often and how long the client retries: up to {@code maxAttempts} attempts in all, the n-th
 * retry after a random delay between half and all of {@code min(maxDelay, baseDelay × 2^(n-1))}
 * ("equal jitter", so that clients that failed together do not come back together), and never
 * sooner than the node's {@code Retry-After}.
 */
public record Backoff(int maxAttempts, Duration baseDelay, Duration maxDelay) {

  /** 8 attempts, from 50 ms up to 2 s apart: 2.6-5.2 s of waiting in all, plus the attempts. */
  public static final Backoff DEFAULT =
      new Backoff(8, Duration.ofMillis(50), Duration.ofSeconds(2));

  /** One attempt, no retry. */
  public static final Backoff NONE = new Backoff(1, Duration.ZERO, Duration.ZERO);

  public Backoff {
    Objects.requireNonNull(baseDelay, "baseDelay");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
    }
    if (baseDelay.isNegative() || maxDelay.compareTo(baseDelay) < 0) {
      throw new IllegalArgumentException("need 0 <= baseDelay <= maxDelay");
    }
  }

  /** The wait before retry number {@code retry} (1 for the first), at least {@code retryAfter}. */
  Duration delay(int retry, Duration retryAfter) {
    long cap = maxDelay.toNanos();
    long exp = baseDelay.toNanos();
    for (int i = 1; i < retry && exp < cap; i++) {
      exp *= 2;
    }
    exp = Math.min(exp, cap);
    long half = exp / 2;
    long nanos = half + (half > 0 ? ThreadLocalRandom.current().nextLong(exp - half + 1) : 0);
    if (retryAfter != null && retryAfter.toNanos() > nanos) {
      nanos = retryAfter.toNanos();
    }
    return Duration.ofNanos(nanos);
  }
}
