package dev.tally.live;

import dev.tally.counter.CounterNames;
import dev.tally.engine.Aggregator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
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

  /** Counts a heartbeat of {@code viewerId} on {@code postId}; see {@link LiveGauge#heartbeat}. */
  public LiveReading heartbeat(long postId, String viewerId) {
    heartbeats.increment();
    return gauge.heartbeat(postId, viewerId);
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
  }
}
