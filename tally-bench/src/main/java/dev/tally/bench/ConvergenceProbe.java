package dev.tally.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * The convergence delay of a cluster, measured beside a load: increments one counter on a node,
 * then reads it on another node until the count the first node answered shows there. The delay of a
 * sample runs from the write's answer to the answer of the first read that shows it. One write at a
 * time, {@code --pause} between samples; a sample gives up after {@code --timeout} (counted in
 * {@code timeouts}, not in the percentiles). Samples during {@code --warmup} are taken but not
 * kept; sampling stops after {@code --duration}. Use a counter no other client writes, so the count
 * the first node answers is the whole count. Prints the result as JSON.
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar dev.tally.bench.ConvergenceProbe \
 *   --from 127.0.0.1:18191 --to 127.0.0.1:18192 --warmup 10s --duration 20s \
 *   [--start-at EPOCH_MS, instead of --warmup] [--warmup-until FILE] [--post 900000001] \
 *   [--counter likes] [--pause 10ms] [--timeout 5s] [--json out.json]
 * </pre>
 *
 * <p>{@code --warmup-until FILE} keeps samples from the moment FILE exists ({@code --warmup} is
 * then the longest wait), the same file that starts a load generator's window.
 */
public final class ConvergenceProbe {

  private static final Pattern COUNT = Pattern.compile("\"count\":(-?\\d+)");

  private ConvergenceProbe() {}

  /** The kept samples' delays (µs), the samples that timed out, and the failed requests. */
  public record Result(Histogram delays, long timeouts, long errors) {}

  /**
   * Samples the delay from {@code from} to {@code to} (base URIs, e.g. http://host:port). With
   * {@code warmupEndsWhen} set (not null), the kept samples start as soon as that file exists
   * ({@code warmup} is then the longest wait), as a load generator's window does with {@code
   * --warmup-until}.
   */
  public static Result run(
      URI from,
      URI to,
      long post,
      String counter,
      Duration warmup,
      Duration duration,
      Duration pause,
      Duration timeout,
      Path warmupEndsWhen)
      throws InterruptedException {
    Histogram delays = new Histogram(3_600_000_000L, 3); // µs
    long timeouts = 0;
    long errors = 0;
    String path = "/v1/" + post + "/" + counter;
    HttpRequest write =
        HttpRequest.newBuilder(from.resolve(path))
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
            .build();
    HttpRequest read = HttpRequest.newBuilder(to.resolve(path)).timeout(timeout).build();
    long start = System.nanoTime();
    long keepFrom = start + warmup.toNanos();
    long end = keepFrom + duration.toNanos();
    try (HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build()) {
      while (System.nanoTime() < end) {
        long now = System.nanoTime();
        if (warmupEndsWhen != null && now < keepFrom && Files.exists(warmupEndsWhen)) {
          keepFrom = now;
          end = now + duration.toNanos();
        }
        boolean kept = now >= keepFrom;
        try {
          HttpResponse<String> w = http.send(write, HttpResponse.BodyHandlers.ofString());
          long acked = System.nanoTime();
          long target = w.statusCode() == 200 ? count(w.body()) : Long.MIN_VALUE;
          if (target == Long.MIN_VALUE) {
            errors += kept ? 1 : 0;
          } else {
            long seenAt = 0;
            while (seenAt == 0 && System.nanoTime() - acked < timeout.toNanos()) {
              HttpResponse<String> r = http.send(read, HttpResponse.BodyHandlers.ofString());
              if (r.statusCode() == 200 && count(r.body()) >= target) {
                seenAt = System.nanoTime();
              }
            }
            if (kept && seenAt == 0) {
              timeouts++;
            } else if (kept) {
              delays.recordValue(Math.max(1, (seenAt - acked) / 1_000));
            }
          }
        } catch (IOException e) {
          errors += kept ? 1 : 0;
        }
        Thread.sleep(pause);
      }
    }
    return new Result(delays, timeouts, errors);
  }

  private static long count(String body) {
    Matcher m = COUNT.matcher(body);
    return m.find() ? Long.parseLong(m.group(1)) : Long.MIN_VALUE;
  }

  /** The result as one JSON object; delays in ms. */
  public static String json(Result r) {
    Histogram h = r.delays();
    return String.format(
        Locale.ROOT,
        "{\"samples\":%d,\"timeouts\":%d,\"errors\":%d,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
            + "\"p99_ms\":%.2f,\"max_ms\":%.2f}",
        h.getTotalCount(),
        r.timeouts(),
        r.errors(),
        h.getValueAtPercentile(50) / 1000.0,
        h.getValueAtPercentile(90) / 1000.0,
        h.getValueAtPercentile(99) / 1000.0,
        h.getMaxValue() / 1000.0);
  }

  public static void main(String[] args) throws Exception {
    var o = LoadGenerator.parse(args);
    // --start-at: the wall-clock time (ms since the epoch) the kept samples start, e.g. when a
    // load's measured window starts; else --warmup from now
    Duration warmup =
        o.containsKey("start-at")
            ? Duration.ofMillis(
                Math.max(0, Long.parseLong(o.get("start-at")) - System.currentTimeMillis()))
            : LoadGenerator.duration(o.getOrDefault("warmup", "0s"));
    Result r =
        run(
            URI.create("http://" + o.getOrDefault("from", "127.0.0.1:8081")),
            URI.create("http://" + o.getOrDefault("to", "127.0.0.1:8082")),
            Long.parseLong(o.getOrDefault("post", "900000001")),
            o.getOrDefault("counter", "likes"),
            warmup,
            LoadGenerator.duration(o.getOrDefault("duration", "20s")),
            LoadGenerator.duration(o.getOrDefault("pause", "10ms")),
            LoadGenerator.duration(o.getOrDefault("timeout", "5s")),
            o.containsKey("warmup-until") ? Path.of(o.get("warmup-until")) : null);
    String json = json(r);
    System.out.println(json);
    if (o.containsKey("json")) {
      Files.writeString(Path.of(o.get("json")), json + "\n");
    }
  }
}
