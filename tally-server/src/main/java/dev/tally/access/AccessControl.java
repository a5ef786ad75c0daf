package dev.tally.access;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;

/**
 * Decides whether a request may proceed: who the caller is, whether it may read or write, and
 * whether it is within its rate limits. Thread-safe; built once at start and shared by every event
 * loop. Never blocks.
 *
 * <p>Modes: {@link Mode#OFF} lets everyone read and write (local use, or a trusted network); {@link
 * Mode#WRITES} requires credentials that allow writing for every write, reads stay public; {@link
 * Mode#ALL} also requires credentials for reads. Rate limits apply in every mode: per caller (its
 * credential's subject, or its address) and per post, counting one unit per increment.
 */
public final class AccessControl {

  /** What needs credentials. */
  public enum Mode {
    OFF,
    WRITES,
    ALL
  }

  private final Mode mode;
  private final Credentials credentials;
  private final RateLimiter<String> perClient;
  private final RateLimiter<Long> perPost;
  private final Clock clock;
  private final java.util.concurrent.atomic.AtomicLong lastLimiterNanos =
      new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE);
  private final Counter deniedAuth;
  private final Counter limitedClient;
  private final Counter limitedPost;

  /**
   * @param perClient limiter per caller, or null for none
   * @param perPost limiter per post for writes, or null for none
   */
  public AccessControl(
      Mode mode,
      Credentials credentials,
      RateLimiter<String> perClient,
      RateLimiter<Long> perPost,
      Clock clock,
      MeterRegistry registry) {
    if (mode != Mode.OFF && credentials.empty()) {
      throw new IllegalArgumentException(
          "authentication is on but no token secret or API key is configured");
    }
    this.mode = mode;
    this.credentials = credentials;
    this.perClient = perClient;
    this.perPost = perPost;
    this.clock = clock;
    this.deniedAuth =
        Counter.builder("tally.access.denied")
            .description("Requests refused for missing, invalid or insufficient credentials")
            .register(registry);
    this.limitedClient =
        Counter.builder("tally.ratelimit.rejected")
            .description("Requests refused by a rate limit")
            .tag("scope", "client")
            .register(registry);
    this.limitedPost =
        Counter.builder("tally.ratelimit.rejected")
            .description("Requests refused by a rate limit")
            .tag("scope", "post")
            .register(registry);
  }

  /** Everyone may do everything, without limits: the default of a local node. */
  public static AccessControl open(Clock clock, MeterRegistry registry) {
    return new AccessControl(
        Mode.OFF, new Credentials(null, java.util.Map.of()), null, null, clock, registry);
  }

  public Mode mode() {
    return mode;
  }

  /**
   * Checks a write of {@code items} increments by the caller presenting {@code authorization}.
   *
   * @throws TallyException 401, 403 or 429 kinds when it may not proceed
   */
  public Caller checkWrite(String authorization, String address, int items) {
    Caller caller = caller(authorization, address);
    if (mode != Mode.OFF && !caller.mayWrite()) {
      deniedAuth.increment();
      if (!caller.authenticated()) {
        throw new TallyException(
            ErrorKind.UNAUTHORIZED,
            "writes need credentials: Authorization: Bearer <API key or token>");
      }
      throw new TallyException(ErrorKind.FORBIDDEN, "these credentials may read but not write");
    }
    limit(perClient, caller.id(), items, limitedClient, "this client");
    return caller;
  }

  /** Checks a read by the caller presenting {@code authorization}. */
  public Caller checkRead(String authorization, String address) {
    Caller caller = caller(authorization, address);
    if (mode == Mode.ALL && !caller.authenticated()) {
      deniedAuth.increment();
      throw new TallyException(ErrorKind.UNAUTHORIZED, "reads need credentials on this node");
    }
    limit(perClient, caller.id(), 1, limitedClient, "this client");
    return caller;
  }

  /**
   * Checks credentials presented once for a whole connection (the Redis protocol's {@code AUTH}),
   * without counting against any rate limit.
   *
   * @throws TallyException {@link ErrorKind#UNAUTHORIZED} when they are not valid
   */
  public Caller authenticate(String authorization, String address) {
    if (authorization == null) {
      throw new TallyException(ErrorKind.UNAUTHORIZED, "no credentials given");
    }
    return caller(authorization, address);
  }

  /** Checks the per-post write limit for {@code items} increments of {@code postId}. */
  public void checkPost(long postId, int items) {
    if (perPost != null) { // else nothing to do: the key is not even made
      limit(perPost, postId, items, limitedPost, "this post");
    }
  }

  private Caller caller(String authorization, String address) {
    if (mode == Mode.OFF && authorization == null) {
      return new Caller(address, false, true);
    }
    try {
      Caller c = credentials.verify(authorization, address, clock.instant().getEpochSecond());
      return mode == Mode.OFF ? new Caller(c.id(), c.authenticated(), true) : c;
    } catch (TallyException e) {
      deniedAuth.increment();
      throw e;
    }
  }

  private <K> void limit(RateLimiter<K> limiter, K key, int n, Counter rejected, String who) {
    if (limiter == null) {
      return;
    }
    long waitNanos = limiter.tryAcquire(key, n, limiterNanos());
    if (waitNanos > 0) {
      rejected.increment();
      throw new RateLimitedException(who + " is over its rate limit", waitNanos);
    }
  }

  /**
   * The node's clock in nanoseconds, never going back: a clock set back stops the buckets refilling
   * until it has caught up (stricter, never looser); one set forward grants at most a burst.
   */
  private long limiterNanos() {
    java.time.Instant now = clock.instant();
    long nanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    return lastLimiterNanos.accumulateAndGet(nanos, Math::max);
  }

  /** A 429 that knows how long the client should wait. */
  public static final class RateLimitedException extends TallyException {
    private static final long serialVersionUID = 1L;
    private final long waitNanos;

    RateLimitedException(String message, long waitNanos) {
      super(ErrorKind.RATE_LIMITED, message);
      this.waitNanos = waitNanos;
    }

    /** Whole seconds to wait, at least 1: the Retry-After value. */
    public int retryAfterSeconds() {
      return (int) Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    }
  }
}
