package dev.tally.live;

import dev.tally.counter.CounterNames;
import dev.tally.engine.Aggregator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live counts of the node: the live-viewer gauge, the fan-out hub listening to the aggregator's
 * commits, and the thread that expires heartbeats. Thread-safe; owned by the node, which calls
 * {@link #start} after the aggregator exists and {@link #close} at stop.
 *
 * <p>Cluster mode: {@link #useCluster} (called by the Redis side, {@code Presence}, when it starts)
 * makes the hub take cluster-wide totals instead of this node's commits, and makes {@link #read}
 * include the other nodes' viewers. Single-node behaviour is unchanged without it.
 *
 * <p>Concurrency: the expiry thread sweeps the gauge once per {@link #SWEEP_PERIOD}, so a viewer
 * whose heartbeats stop leaves the count (and its subscribers hear of it) within TTL plus one
 * period; reads of the gauge are exact to the TTL at any time.
 */
public final class LiveService implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LiveService.class);

  /** How often expired heartbeats are removed and announced. */
  public static final Duration SWEEP_PERIOD = Duration.ofSeconds(1);

  private final LiveGauge gauge;
  private final LiveHub hub;
  private final Aggregator aggregator;
  private final Counter heartbeats;
  private volatile ClusterViewers cluster;
  private final ScheduledExecutorService sweeper =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "tally-live-expiry");
            t.setDaemon(true);
            return t;
          });

  public LiveService(
      CounterNames names,
      Aggregator aggregator,
      LiveHub.Settings settings,
      Duration heartbeatTtl,
      int maxHeartbeatViewers,
      Clock clock,
      MeterRegistry registry) {
    this.aggregator = aggregator;
    this.gauge = new LiveGauge(clock, heartbeatTtl, maxHeartbeatViewers);
    this.hub = new LiveHub(names, gauge, settings, clock, registry);
    this.heartbeats =
        Counter.builder("tally.live.heartbeats")
            .description("Heartbeats received")
            .register(registry);
    Gauge.builder("tally.live.heartbeat.viewers", gauge, LiveGauge::heartbeatViewers)
        .description("Viewers counted by heartbeat (until their TTL passes)")
        .register(registry);
    Gauge.builder("tally.live.viewers", gauge, g -> g.heartbeatViewers() + g.openStreams())
        .description("Live viewers over all posts: open streams plus heartbeat viewers")
        .register(registry);
  }

  /**
   * Cluster mode: from now on the hub publishes the totals handed to it as a {@link ClusterTotals}
   * (never this node's commits, which hold only its own share), and {@link #read} adds the other
   * nodes' viewers that {@code viewers} keeps in the gauge. Call once, before HTTP serves streams.
   */
  public void useCluster(ClusterViewers viewers) {
    hub.useClusterTotals();
    this.cluster = viewers;
  }

  /** True once {@link #useCluster} was called. */
  public boolean clusterMode() {
    return cluster != null;
  }

  /** Starts listening to commits and expiring heartbeats. */
  public void start() {
    aggregator.addListener(hub);
    long period = SWEEP_PERIOD.toMillis();
    sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
  }

  private void sweep() {
    try {
      gauge.expire();
    } catch (RuntimeException e) {
      log.error("expiring heartbeats failed", e);
    }
  }

  public LiveHub hub() {
    return hub;
  }

  public LiveGauge gauge() {
    return gauge;
  }

  /**
   * Counts a heartbeat of {@code viewerId} on {@code postId}; see {@link LiveGauge#heartbeat}. In
   * cluster mode the reading includes the other nodes' viewers only if they are known here yet (see
   * {@link #sharesKnown}).
   */
  public LiveReading heartbeat(long postId, String viewerId) {
    heartbeats.increment();
    LiveReading r = gauge.heartbeat(postId, viewerId);
    ClusterViewers c = cluster;
    if (c != null) {
      c.asked(postId);
    }
    return r;
  }

  /**
   * The post's live count: this node's viewers plus, in cluster mode, the other nodes' fresh
   * shares. Completes at once when those are known here (always in single-node mode), else after
   * one read from Redis; never fails (without Redis it answers what this node knows).
   */
  public CompletionStage<LiveReading> read(long postId) {
    ClusterViewers c = cluster;
    if (c == null) {
      return CompletableFuture.completedFuture(gauge.read(postId));
    }
    c.asked(postId);
    if (gauge.remoteKnown(postId)) {
      return CompletableFuture.completedFuture(gauge.read(postId));
    }
    return c.fetch(postId).handle((ignored, error) -> gauge.read(postId));
  }

  /** False when, in cluster mode, the other nodes' viewers of the post are not known here yet. */
  public boolean sharesKnown(long postId) {
    return cluster == null || gauge.remoteKnown(postId);
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
  }
}
