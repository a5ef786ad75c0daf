package dev.tally.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Request count and latency by endpoint and status, as one Micrometer timer per pair ({@code
 * tally_http_requests_seconds}). Thread-safe; meters are created on first use and then reused.
 */
final class HttpMetrics {

  /** The API's endpoints, as metric tags. */
  enum Endpoint {
    WRITE,
    READ,
    BATCH_WRITE,
    BATCH_READ,
    HEALTH,
    METRICS,
    STREAM,
    HEARTBEAT,
    LIVE,
    PAGE,
    OTHER;

    final String tag = name().toLowerCase(java.util.Locale.ROOT);
  }

  private final MeterRegistry registry;
  private final ConcurrentHashMap<Integer, Timer> timers = new ConcurrentHashMap<>();

  HttpMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  private static final org.slf4j.Logger ACCESS = org.slf4j.LoggerFactory.getLogger("tally.access");

  /** Records an answered request, and logs it with {@code --access-log}. */
  void done(io.vertx.core.http.HttpServerRequest req, Endpoint endpoint, int status, long nanos) {
    record(endpoint, status, nanos);
    if (ACCESS.isInfoEnabled()) {
      String client = req.remoteAddress() == null ? "" : req.remoteAddress().hostAddress();
      double ms = Math.round(nanos / 10_000.0) / 100.0;
      ACCESS
          .atInfo()
          .addKeyValue("method", req.method().name())
          .addKeyValue("path", req.path())
          .addKeyValue("status", status)
          .addKeyValue("ms", ms)
          .addKeyValue("endpoint", endpoint.tag)
          .addKeyValue("client", client)
          .log("{} {} {} {} ms", req.method().name(), req.path(), status, ms);
    }
  }

  void record(Endpoint endpoint, int status, long nanos) {
    int key = endpoint.ordinal() * 1000 + status;
    Timer t = timers.get(key);
    if (t == null) {
      t = timers.computeIfAbsent(key, k -> timer(endpoint, status));
    }
    t.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private Timer timer(Endpoint endpoint, int status) {
    return Timer.builder("tally.http.requests")
        .description("HTTP requests by endpoint and status, with latency")
        .tag("endpoint", endpoint.tag)
        .tag("status", Integer.toString(status))
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(50_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }
}
