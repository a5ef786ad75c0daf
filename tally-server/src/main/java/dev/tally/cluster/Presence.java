package dev.tally.cluster;

import dev.tally.live.ClusterViewers;
import dev.tally.live.LiveGauge;
import dev.tally.live.LiveService;
import io.lettuce.core.ScriptOutputType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live viewers across the nodes of a cluster: each node's count of a post's viewers in one Redis
 * hash per post, summed by every node. Thread-safe; made by the node on its home region's {@link
 * RedisConnection}, {@link #start started} before HTTP serves (it switches {@link LiveService} to
 * cluster mode), {@link #close closed} before the connection. See ADR 0004.
 *
 * <p>Every {@link Settings#reportPeriod}, for each post with viewers here (and once with 0 after
 * they leave) a script records this node's count in the post's hash, and returns the other nodes'
 * fresh shares, which go to {@link LiveGauge#remoteShares}; posts asked about here ({@link #asked})
 * are read the same way for a while. So reads of {@code live} are answered from memory, at most
 * about two periods behind, and a node that stops reporting drops out when its share expires (three
 * periods), on the Redis server's clock.
 *
 * <pre>
 *   key    lv:{&lt;post b36&gt;}      one hash per post
 *   field  &lt;writer hex&gt;  →  "&lt;viewers&gt;:&lt;expires at, server ms&gt;"
 * </pre>
 *
 * <p>Concurrency: reports run on one scheduler thread and only send commands, whose replies
 * complete on the connection's I/O threads; {@link #asked} and {@link #fetch} hand off. Nothing
 * blocks except {@link #close}, for at most the timeout plus a second.
 */
public final class Presence implements ClusterViewers, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Presence.class);

  /** How long a read of {@code live} waits for Redis at most before answering what it knows. */
  private static final Duration MAX_READ_WAIT = Duration.ofSeconds(1);

  /** Most posts whose other shares are kept fresh because they were asked about. */
  private static final int MAX_ASKED = 100_000;

  /** Presence scripts unanswered beyond which a period's report is skipped. */
  private static final int MAX_PRESENCE_IN_FLIGHT = 50_000;

  static final LuaScript PRESENCE = LuaScript.load("live-presence.lua");

  /**
   * Tuning; {@link #defaults()} is what a node uses.
   *
   * @param reportPeriod how often presence is recorded and read; a share counts for three periods
   * @param askedRetention how long a post asked about keeps its other shares fresh
   */
  public record Settings(Duration reportPeriod, Duration askedRetention) {

    public Settings {
      if (reportPeriod.toMillis() < 10) {
        throw new IllegalArgumentException("report period too short");
      }
    }

    public static Settings defaults() {
      return new Settings(Duration.ofSeconds(1), Duration.ofSeconds(10));
    }

    /** How long one node's recorded share counts. */
    public Duration shareTtl() {
      return reportPeriod.multipliedBy(3);
    }
  }

  private final RedisConnection redis;
  private final LiveService live;
  private final LiveGauge gauge;
  private final Clock clock;
  private final Settings settings;
  private final String writer;
  private final long readWaitMillis;
  private final ScheduledExecutorService scheduler = RedisClients.scheduler("tally-presence");
  private final AtomicInteger presenceInFlight = new AtomicInteger();
  private final ConcurrentHashMap<Long, Long> askedAtMillis = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Long, CompletableFuture<Void>> fetching =
      new ConcurrentHashMap<>();
  private volatile boolean closed;
  private Set<Long> reported = new HashSet<>(); // scheduler thread
  private volatile int reportedPosts;
  private final Counter presenceFailures;

  /**
   * @param redis the home region's connection
   * @param writerId this node's writer id: its field in the presence hashes
   */
  public Presence(
      RedisConnection redis,
      long writerId,
      LiveService live,
      Clock clock,
      MeterRegistry registry,
      Settings settings) {
    this.redis = redis;
    this.live = live;
    this.gauge = live.gauge();
    this.clock = clock;
    this.settings = settings;
    this.writer = Long.toHexString(writerId);
    this.readWaitMillis = Math.min(redis.timeout().toMillis(), MAX_READ_WAIT.toMillis());
    this.presenceFailures = failures(registry, "presence");
    Gauge.builder("tally.live.presence.posts", this, r -> r.reportedPosts)
        .description("Posts whose viewers on this node were recorded in Redis last period")
        .register(registry);
  }

  /** The counter of failed Redis commands of live counts, by operation. */
  static Counter failures(MeterRegistry registry, String op) {
    return Counter.builder("tally.live.redis.failures")
        .description("Redis commands of live counts that failed (they are retried or healed)")
        .tag("op", op)
        .register(registry);
  }

  /** Switches the node's live counts to cluster mode and starts reporting. */
  public void start() {
    live.useCluster(this);
    long report = settings.reportPeriod().toMillis();
    scheduler.scheduleWithFixedDelay(
        () -> {
          if (closed) {
            return;
          }
          try {
            report(clock.millis());
          } catch (RuntimeException e) {
            log.error("reporting live viewers failed", e);
          }
        },
        0,
        report,
        TimeUnit.MILLISECONDS);
  }

  /** Records this node's viewers and refreshes the other nodes' shares of the posts it needs. */
  private void report(long now) {
    Map<Long, Integer> local = gauge.localViewers();
    askedAtMillis.values().removeIf(at -> now - at > settings.askedRetention().toMillis());
    Set<Long> keep = new HashSet<>(local.keySet());
    keep.addAll(askedAtMillis.keySet());
    for (Long postId : gauge.remotePosts()) {
      if (!keep.contains(postId) && !fetching.containsKey(postId)) {
        gauge.forgetRemote(postId);
      }
    }
    if (presenceInFlight.get() > MAX_PRESENCE_IN_FLIGHT) {
      return; // Redis is unreachable or far behind: shares expire, or are refreshed later
    }
    for (Long postId : reported) {
      if (!local.containsKey(postId)) {
        presence(postId, 0, askedAtMillis.containsKey(postId));
      }
    }
    for (Map.Entry<Long, Integer> e : local.entrySet()) {
      presence(e.getKey(), e.getValue(), true);
    }
    for (Long postId : askedAtMillis.keySet()) {
      if (!local.containsKey(postId) && !reported.contains(postId)) {
        presence(postId, -1, true);
      }
    }
    reported = local.keySet();
    reportedPosts = reported.size();
  }

  /**
   * Runs the presence script for one post: {@code viewers} &gt; 0 records this node's share, 0
   * removes it, -1 only reads. When {@code keep}, the other nodes' shares go to the gauge.
   */
  private CompletableFuture<Void> presence(long postId, int viewers, boolean keep) {
    presenceInFlight.incrementAndGet();
    String[] keys = {presenceKey(postId)};
    String[] args = {
      writer, Integer.toString(viewers), Long.toString(settings.shareTtl().toMillis())
    };
    return this.<List<Object>>script(keys, args)
        .handle(
            (result, e) -> {
              presenceInFlight.decrementAndGet();
              if (e != null) {
                presenceFailures.increment();
                log.debug("live presence of post {} failed: {}", postId, e.toString());
              } else if (keep) {
                storeShares(postId, result);
              }
              return null;
            });
  }

  private void storeShares(long postId, List<Object> result) {
    int n = result.size() / 2;
    long[] counts = new long[n];
    long[] remaining = new long[n];
    for (int i = 0; i < n; i++) {
      counts[i] = ((Number) result.get(2 * i)).longValue();
      remaining[i] = ((Number) result.get(2 * i + 1)).longValue();
    }
    gauge.remoteShares(postId, counts, remaining);
  }

  private <T> CompletableFuture<T> script(String[] keys, String[] args) {
    return redis
        .<T>call(r -> PRESENCE.run(r, ScriptOutputType.MULTI, keys, args))
        .toCompletableFuture();
  }

  // ---- reads of live (ClusterViewers)

  @Override
  public void asked(long postId) {
    if (askedAtMillis.size() < MAX_ASKED || askedAtMillis.containsKey(postId)) {
      askedAtMillis.put(postId, clock.millis());
    }
  }

  @Override
  public CompletionStage<Void> fetch(long postId) {
    if (closed) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = fetching.computeIfAbsent(postId, p -> presence(p, -1, true));
    f.whenComplete((v, e) -> fetching.remove(postId, f));
    return f.copy().completeOnTimeout(null, readWaitMillis, TimeUnit.MILLISECONDS);
  }

  // ---- lifecycle

  /**
   * Stops: removes this node's presence shares, so the other nodes stop counting its viewers at
   * once rather than when the shares expire. The shared connection stays open for its owner.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    halt();
    List<CompletableFuture<Void>> goodbyes = new ArrayList<>();
    for (Long postId : reported) {
      goodbyes.add(presence(postId, 0, false));
    }
    try {
      CompletableFuture.allOf(goodbyes.toArray(CompletableFuture<?>[]::new))
          .get(readWaitMillis + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("live presence: could not remove this node's shares: {}", e.toString());
    }
  }

  /** Stops reporting without a goodbye, as a killed node would (for tests). */
  void halt() {
    closed = true;
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The presence hash of a post. */
  public static String presenceKey(long postId) {
    return "lv:{" + Long.toString(postId, 36) + "}";
  }
}
