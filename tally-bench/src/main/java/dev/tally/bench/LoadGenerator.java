package dev.tally.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * Load generator and history checker for tally nodes.
 *
 * <pre>
 * java -jar tally-bench/target/tally-bench.jar --target 127.0.0.1:8080 --connections 64 \
 *     --workload write --keys uniform --posts 100000 --duration 20s --warmup 5s [--rate 30000] \
 *     [--check] [--json result.json]
 * </pre>
 *
 * Workloads: {@code write} (PUT increment), {@code read} (GET), {@code mix} (reads and writes,
 * {@code --reads-per-write 10} by default: the seed's 10:1), {@code batch} (POST /v1/counts with
 * {@code --batch-size} increments). Keys: {@code hot} (one post), {@code uniform}, {@code zipf}
 * ({@code --zipf 1.0}). {@code --rate} switches from closed loop to a fixed total rate with latency
 * measured from each request's intended start. {@code --check} sends every increment with an
 * idempotency key, reads the counters before and after, retries the in-doubt writes with their
 * keys, and fails (exit 1) unless every counter changed by exactly the distinct writes sent. {@code
 * --protocol resp} drives a Redis server instead (INCR and GET of {@code likes:<post>}), so the
 * Redis reference can be measured by the same client at the same fixed rates. {@code --timeline
 * FILE} writes the window as TSV, a row per 100 ms: answers and the worst latency, to place stalls.
 * {@code --warmup-until FILE} ends the warm-up as soon as FILE exists ({@code --warmup} is then its
 * longest), so a script that watches the server starts the window on the same connections.
 */
public final class LoadGenerator {

  private static final Pattern COUNT =
      Pattern.compile("\"(\\d+)\":\\{\"([a-z0-9_-]+)\":\\{\"count\":(-?\\d+)");

  private LoadGenerator() {}

  /** A finished run: its report as JSON, and whether the exactness check (if any) passed. */
  public record Outcome(String json, boolean ok) {}

  public static void main(String[] args) throws Exception {
    Outcome outcome = run(args);
    System.out.println(outcome.json());
    System.exit(outcome.ok() ? 0 : 1);
  }

  /** Runs the load described by {@code args} (see the class comment) and reports. */
  public static Outcome run(String[] args) throws Exception {
    Map<String, String> o = parse(args);
    List<InetSocketAddress> targets = new ArrayList<>();
    for (String t : o.getOrDefault("target", "127.0.0.1:8080").split(",")) {
      int colon = t.lastIndexOf(':');
      targets.add(
          new InetSocketAddress(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1))));
    }
    int connections = Integer.parseInt(o.getOrDefault("connections", "64"));
    int threads = Integer.parseInt(o.getOrDefault("threads", "1"));
    Duration duration = duration(o.getOrDefault("duration", "20s"));
    Duration warmup = duration(o.getOrDefault("warmup", "5s"));
    double rate = Double.parseDouble(o.getOrDefault("rate", "0"));
    Workload.Kind kind =
        Workload.Kind.valueOf(o.getOrDefault("workload", "write").toUpperCase(Locale.ROOT));
    KeyChooser.Kind keyKind =
        KeyChooser.Kind.valueOf(o.getOrDefault("keys", "uniform").toUpperCase(Locale.ROOT));
    int posts = Integer.parseInt(o.getOrDefault("posts", "100000"));
    long firstPost =
        Long.parseLong(
            o.getOrDefault(
                "first-post", Long.toString(1 + (System.nanoTime() & 0xFFFFFFFL) * 1000)));
    double zipf = Double.parseDouble(o.getOrDefault("zipf", "1.0"));
    String counter = o.getOrDefault("counter", "likes");
    int readsPerWrite = Integer.parseInt(o.getOrDefault("reads-per-write", "10"));
    int batchSize = Integer.parseInt(o.getOrDefault("batch-size", "100"));
    boolean check = o.containsKey("check");
    boolean idempotent = check || o.containsKey("idempotency");
    long seed = Long.parseLong(o.getOrDefault("seed", "42"));
    if (check && keyKind != KeyChooser.Kind.HOT && posts > 200_000) {
      throw new IllegalArgumentException(
          "--check reads every post before and after: use --posts <= 200000");
    }

    KeyChooser keys = new KeyChooser(keyKind, firstPost, posts, zipf);
    String runId = Long.toString(seed, 36) + "x" + Long.toString(System.currentTimeMillis(), 36);
    Workload workload =
        new Workload(
            kind,
            keys,
            counter,
            readsPerWrite,
            batchSize,
            idempotent,
            runId,
            targets.getFirst().getHostString(),
            Workload.Protocol.valueOf(o.getOrDefault("protocol", "http").toUpperCase(Locale.ROOT)));
    History history = new History();
    String base =
        "http://" + targets.getFirst().getHostString() + ":" + targets.getFirst().getPort();

    Map<String, Long> before = check ? readCounts(base, keys, counter) : Map.of();
    LoadEngine engine =
        new LoadEngine(
            new LoadEngine.Settings(
                targets,
                connections,
                threads,
                warmup.toNanos(),
                duration.toNanos(),
                rate,
                seed,
                o.containsKey("warmup-until") ? Path.of(o.get("warmup-until")) : null),
            workload,
            history);
    System.err.printf(
        "load: %s %s keys over %d posts, %d connections, %s, %s warm-up%s + %s%n",
        kind,
        keyKind,
        keys.posts(),
        connections,
        rate > 0 ? "fixed rate " + (long) rate + "/s" : "closed loop",
        warmup,
        o.containsKey("warmup-until") ? " (or until " + o.get("warmup-until") + " exists)" : "",
        duration);
    LoadEngine.Result r = engine.run();

    Map<String, Object> report = new LinkedHashMap<>();
    report.put("protocol", workload.protocol().name().toLowerCase(Locale.ROOT));
    report.put("workload", kind.name().toLowerCase(Locale.ROOT));
    report.put("keys", keyKind.name().toLowerCase(Locale.ROOT));
    report.put("posts", keys.posts());
    report.put("connections", connections);
    report.put("rate_target", rate);
    report.put("duration_s", duration.toMillis() / 1000.0);
    report.put("window_start_epoch_ms", r.windowStartEpochMillis);
    double secs = r.measuredNanos / 1e9;
    report.put("requests_per_s", round(r.requests / secs));
    report.put("items_per_s", round(r.items / secs));
    report.put("requests", r.requests);
    report.put("status_2xx", r.status2xx);
    report.put("status_4xx", r.status4xx);
    report.put("status_5xx", r.status5xx);
    report.put("errors", r.errors);
    putLatency(report, "write", r.write);
    putLatency(report, "read", r.read);
    putLatency(report, "batch", r.batch);

    boolean ok = true;
    if (check) {
      ok = check(base, keys, counter, history, before, report);
    }
    String json = toJson(report);
    if (o.containsKey("timeline")) {
      Files.writeString(Path.of(o.get("timeline")), timeline(r));
    }
    if (o.containsKey("json")) {
      Files.writeString(Path.of(o.get("json")), json + "\n");
    }
    return new Outcome(json, ok);
  }

  /**
   * Retries every in-doubt write of {@code history} with its key, reads the counters, and puts the
   * exactness figures into {@code report}.
   *
   * @return true when no counter lost or duplicated an increment and every retry was answered
   */
  public static boolean check(
      String base,
      KeyChooser keys,
      String counter,
      History history,
      Map<String, Long> before,
      Map<String, Object> report)
      throws IOException, InterruptedException {
    int retried = retryInDoubt(base, history);
    return compare(history, before, readCounts(base, keys, counter), retried, report);
  }

  /**
   * Sends every in-doubt write of {@code history} again to {@code base} with its key, up to 50
   * times each (200 ms apart) until one is answered 200.
   *
   * @return how many of them were answered 200
   */
  public static int retryInDoubt(String base, History history)
      throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    int retried = 0;
    for (History.Op op : history.inDoubt()) {
      for (int attempt = 0; attempt < 50; attempt++) {
        try {
          HttpResponse<String> resp =
              http.send(
                  HttpRequest.newBuilder(URI.create(base + "/v1/" + op.post() + "/" + op.counter()))
                      .timeout(Duration.ofSeconds(10))
                      .header("Idempotency-Key", op.key())
                      .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          if (resp.statusCode() == 200) {
            retried++;
            break;
          }
        } catch (IOException e) {
          // the node may be restarting: try again
        }
        Thread.sleep(200);
      }
    }
    return retried;
  }

  /**
   * Compares the counts {@code after} the run (minus those {@code before}) with {@code history},
   * once its in-doubt writes were retried ({@code retried} of them answered), and puts the
   * exactness figures into {@code report}.
   *
   * @return true when no counter lost or duplicated an increment and every retry was answered
   */
  public static boolean compare(
      History history,
      Map<String, Long> before,
      Map<String, Long> after,
      int retried,
      Map<String, Object> report) {
    int doubt = history.inDoubt().size();
    Map<String, Long> delta = new HashMap<>();
    after.forEach((k, v) -> delta.put(k, v - before.getOrDefault(k, 0L)));
    long lost = 0;
    long duplicated = 0;
    long mismatched = 0;
    for (History.CounterCheck c : history.check(delta)) {
      lost += c.lost();
      duplicated += c.duplicated();
      if (c.observedDelta() != c.attempted()) {
        mismatched++;
      }
    }
    report.put("check_attempted", history.attempted());
    report.put("check_acknowledged", history.acknowledgedCount());
    report.put("check_in_doubt_retried", retried);
    report.put("check_in_doubt", doubt);
    report.put("check_lost", lost);
    report.put("check_duplicated", duplicated);
    report.put("check_counters_inexact", mismatched);
    return lost == 0 && duplicated == 0 && mismatched == 0 && retried == doubt;
  }

  /** Current counts of every post the chooser can pick, by {@code post/counter}. */
  public static Map<String, Long> readCounts(String base, KeyChooser keys, String counter)
      throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    Map<String, Long> out = new HashMap<>();
    long first = keys.firstPost();
    int n = keys.posts();
    for (int from = 0; from < n; from += 500) {
      StringBuilder posts = new StringBuilder();
      for (int i = from; i < Math.min(n, from + 500); i++) {
        if (i > from) {
          posts.append(',');
        }
        posts.append(first + i);
      }
      String body = "{\"posts\":[" + posts + "],\"counters\":[\"" + counter + "\"]}";
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/v1/counts/query"))
                  .timeout(Duration.ofSeconds(30))
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("batch read answered " + r.statusCode() + ": " + r.body());
      }
      Matcher m = COUNT.matcher(r.body());
      while (m.find()) {
        out.put(m.group(1) + "/" + m.group(2), Long.parseLong(m.group(3)));
      }
    }
    return out;
  }

  /**
   * The measured window as TSV, one row per {@link LoadEngine#TICK_NANOS} tick of intended send
   * time: seconds from the window's start, answers, the worst latency in ms, and the tick's start
   * as wall-clock ms since the epoch (to line it up with other recordings).
   */
  static String timeline(LoadEngine.Result r) {
    StringBuilder sb = new StringBuilder("t_s\tanswers\tmax_ms\tunix_ms\n");
    for (int i = 0; i < r.tickCount.length; i++) {
      sb.append(String.format(Locale.ROOT, "%.1f", i * (LoadEngine.TICK_NANOS / 1e9)))
          .append('\t')
          .append(r.tickCount[i])
          .append('\t')
          .append(String.format(Locale.ROOT, "%.2f", r.tickMaxMicros[i] / 1000.0))
          .append('\t')
          .append(r.windowStartEpochMillis + i * (LoadEngine.TICK_NANOS / 1_000_000))
          .append('\n');
    }
    return sb.toString();
  }

  private static void putLatency(Map<String, Object> report, String name, Histogram h) {
    if (h.getTotalCount() == 0) {
      return;
    }
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("count", h.getTotalCount());
    l.put("p50_ms", ms(h.getValueAtPercentile(50)));
    l.put("p90_ms", ms(h.getValueAtPercentile(90)));
    l.put("p99_ms", ms(h.getValueAtPercentile(99)));
    l.put("p999_ms", ms(h.getValueAtPercentile(99.9)));
    l.put("max_ms", ms(h.getMaxValue()));
    report.put(name + "_latency", l);
  }

  private static double ms(long micros) {
    return Math.round(micros / 10.0) / 100.0;
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  static Duration duration(String s) {
    if (s.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    }
    if (s.endsWith("s")) {
      return Duration.ofMillis((long) (Double.parseDouble(s.substring(0, s.length() - 1)) * 1000));
    }
    if (s.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    throw new IllegalArgumentException("not a duration: " + s + " (use ms, s or m)");
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> o = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + args[i]);
      }
      String name = args[i].substring(2);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        o.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        o.put(name, args[++i]);
      } else {
        o.put(name, "true");
      }
    }
    return o;
  }

  static String toJson(Map<String, Object> m) {
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, Object> e : m.entrySet()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append('"').append(e.getKey()).append("\":");
      Object v = e.getValue();
      if (v instanceof Map<?, ?> inner) {
        @SuppressWarnings("unchecked")
        Map<String, Object> im = (Map<String, Object>) inner;
        sb.append(toJson(im));
      } else if (v instanceof String s) {
        sb.append('"').append(s).append('"');
      } else {
        sb.append(v);
      }
    }
    return sb.append('}').toString();
  }
}
