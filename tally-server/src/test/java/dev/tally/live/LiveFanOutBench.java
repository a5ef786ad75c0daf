package dev.tally.live;

import dev.tally.testing.NodeProcess;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.parsetools.RecordParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Holds many concurrent SSE subscribers on one node (a separate process from the built jar) while
 * counters change, and reports how long updates take to reach them, with the node's memory. Not a
 * test: run it with {@code bin/bench-live} (see BENCHMARKS.md). Loopback only; bounded in
 * subscribers, writes and time. Single-threaded setup; the Vert.x client's event loops deliver
 * events.
 *
 * <p>Update delay: writes to each post are sent one after another, so the k-th write of a post
 * makes its likes count k. When a subscriber receives an event that raises likes from u to v, the
 * delay recorded is now minus the send time of write u+1, the oldest write that event reveals to
 * it: from the writer's send to the subscriber's receipt, so it includes the durable commit
 * (fsync), the coalescing wait and the fan-out.
 */
public final class LiveFanOutBench {

  private static final Pattern LIKES = Pattern.compile("\"likes\":\\{\"count\":(\\d+)");

  private LiveFanOutBench() {}

  @SuppressWarnings("try") // NodeProcess.close may be interrupted; fine for a command-line tool
  public static void main(String[] args) throws Exception {
    int subscribers = intArg(args, "--subscribers", 10_000);
    int posts = intArg(args, "--posts", 20);
    int writesPerSec = intArg(args, "--writes-per-sec", 1_000);
    int seconds = intArg(args, "--seconds", 20);
    int connectSeconds = intArg(args, "--connect-seconds", 25);
    if (subscribers > 20_000 || seconds > 40 || connectSeconds > 40 || writesPerSec > 50_000) {
      throw new IllegalArgumentException("bounded: ≤ 20000 subscribers, ≤ 40 s, ≤ 50000 writes/s");
    }
    Path work = Files.createTempDirectory("tally-bench-live");
    System.out.printf(
        Locale.ROOT,
        "subscribers=%d posts=%d target writes/s=%d measure=%ds%n",
        subscribers,
        posts,
        writesPerSec,
        seconds);

    try (NodeProcess node =
        NodeProcess.start(
            work.resolve("data"), work.resolve("node.log"), "--max-streams", "20000")) {
      int port = node.port();
      Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
      try {
        run(vertx, node, port, subscribers, posts, writesPerSec, seconds, connectSeconds);
      } finally {
        vertx.close().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
    } finally {
      try (var files = Files.walk(work)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static void run(
      Vertx vertx,
      NodeProcess node,
      int port,
      int subscribers,
      int posts,
      int writesPerSec,
      int seconds,
      int connectSeconds)
      throws Exception {
    int perPostWrites = (int) ((long) writesPerSec * (seconds + 5) / posts) + 16;
    long[][] sentAt = new long[posts][perPostWrites + 2];
    Recorder delays = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    Recorder freshness = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    Histogram writeLatency = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
    AtomicInteger started = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger ended = new AtomicInteger();
    AtomicLong events = new AtomicLong();
    AtomicLong measuring = new AtomicLong(); // 1 while delays count

    HttpClientAgent subs =
        vertx
            .httpClientBuilder()
            .with(new HttpClientOptions().setKeepAlive(true).setIdleTimeout(0))
            .with(new PoolOptions().setHttp1MaxSize(subscribers + 10))
            .build();
    long t0 = System.nanoTime();
    long connectDeadline = t0 + TimeUnit.SECONDS.toNanos(connectSeconds);
    int opened = 0;
    while (opened < subscribers && System.nanoTime() < connectDeadline) {
      // open in waves, so the node is not asked to accept 10k connections in one burst
      int wave = Math.min(250, subscribers - opened);
      for (int i = 0; i < wave; i++, opened++) {
        int post = opened % posts;
        long[] lastSeen = {-1};
        subs.request(
                new RequestOptions()
                    .setMethod(HttpMethod.GET)
                    .setHost("127.0.0.1")
                    .setPort(port)
                    .setURI("/v1/" + (post + 1) + "/stream"))
            .compose(req -> req.send())
            .onSuccess(
                resp -> {
                  if (resp.statusCode() != 200) {
                    failed.incrementAndGet();
                    return;
                  }
                  RecordParser parser =
                      RecordParser.newDelimited(
                          "\n\n",
                          (Buffer event) -> {
                            String text = event.toString();
                            if (text.startsWith(":")) {
                              return;
                            }
                            events.incrementAndGet();
                            Matcher m = LIKES.matcher(text);
                            if (!m.find()) {
                              return;
                            }
                            long v = Long.parseLong(m.group(1));
                            if (lastSeen[0] < 0) {
                              started.incrementAndGet();
                            } else if (v > lastSeen[0]
                                && measuring.get() == 1
                                && lastSeen[0] + 1 < sentAt[post].length) {
                              long now = System.nanoTime();
                              long oldest = sentAt[post][(int) lastSeen[0] + 1];
                              if (oldest > 0) {
                                delays.recordValue(Math.max(0, now - oldest));
                              }
                              long newest = v < sentAt[post].length ? sentAt[post][(int) v] : 0;
                              if (newest > 0) {
                                freshness.recordValue(Math.max(0, now - newest));
                              }
                            }
                            lastSeen[0] = Math.max(lastSeen[0], v);
                          });
                  resp.handler(parser);
                  resp.endHandler(v -> ended.incrementAndGet());
                  resp.exceptionHandler(e -> ended.incrementAndGet());
                })
            .onFailure(e -> failed.incrementAndGet());
      }
      long waveDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (started.get() + failed.get() < opened
          && System.nanoTime() < Math.min(waveDeadline, connectDeadline)) {
        Thread.sleep(20);
      }
    }
    double connectSecs = (System.nanoTime() - t0) / 1e9;
    System.out.printf(
        Locale.ROOT,
        "connected: %d of %d streams in %.1f s (%d failed)%n",
        started.get(),
        subscribers,
        connectSecs,
        failed.get());

    // writers: one write in flight per post, paced to the target rate
    HttpClientAgent writer =
        vertx
            .httpClientBuilder()
            .with(new HttpClientOptions().setKeepAlive(true))
            .with(new PoolOptions().setHttp1MaxSize(posts + 4))
            .build();
    long intervalNanos = TimeUnit.SECONDS.toNanos(1) * posts / writesPerSec;
    long writeStart = System.nanoTime();
    long writeEnd = writeStart + TimeUnit.SECONDS.toNanos(seconds);
    AtomicLong acked = new AtomicLong();
    AtomicLong wrong = new AtomicLong();
    AtomicInteger writersDone = new AtomicInteger();
    measuring.set(1);
    for (int p = 0; p < posts; p++) {
      int post = p;
      Runnable[] next = new Runnable[1];
      long[] due = {writeStart + intervalNanos * p / posts};
      int[] k = {0};
      next[0] =
          () -> {
            long now = System.nanoTime();
            if (now >= writeEnd || k[0] + 1 >= sentAt[post].length) {
              writersDone.incrementAndGet();
              return;
            }
            if (now < due[0]) {
              vertx.setTimer(
                  Math.max(1, TimeUnit.NANOSECONDS.toMillis(due[0] - now)), id -> next[0].run());
              return;
            }
            due[0] += intervalNanos;
            int expected = ++k[0];
            long sent = System.nanoTime();
            sentAt[post][expected] = sent;
            writer
                .request(
                    new RequestOptions()
                        .setMethod(HttpMethod.PUT)
                        .setHost("127.0.0.1")
                        .setPort(port)
                        .setURI("/v1/" + (post + 1) + "/likes")
                        .putHeader("Content-Type", "application/json"))
                .compose(req -> req.send("{\"action\":\"increment\"}"))
                .compose(resp -> resp.body())
                .onComplete(
                    ar -> {
                      long t = System.nanoTime();
                      synchronized (writeLatency) {
                        writeLatency.recordValue(t - sent);
                      }
                      if (ar.succeeded()
                          && ar.result().toString().startsWith("{\"count\":" + expected + ",")) {
                        acked.incrementAndGet();
                      } else {
                        wrong.incrementAndGet();
                      }
                      next[0].run();
                    });
          };
      vertx.runOnContext(v -> next[0].run());
    }
    // memory while every stream is open and writes flow
    Thread.sleep(TimeUnit.SECONDS.toMillis(seconds) * 3 / 4);
    long rss = rssBytes(node.pid());
    long heap = heapBytes(port);
    while (writersDone.get() < posts
        && System.nanoTime() < writeEnd + TimeUnit.SECONDS.toNanos(5)) {
      Thread.sleep(50);
    }
    Thread.sleep(1500); // the last events arrive
    measuring.set(0);
    Histogram d = delays.getIntervalHistogram();
    Histogram f = freshness.getIntervalHistogram();
    double writeSecs = (System.nanoTime() - writeStart) / 1e9 - 1.5;
    String metrics = get(port, "/metrics");

    System.out.printf(
        Locale.ROOT,
        "writes: %d acknowledged in %.1f s = %.0f/s (%d failed or out of order); write latency"
            + " p50 %.1f ms, p99 %.1f ms%n",
        acked.get(),
        writeSecs,
        acked.get() / writeSecs,
        wrong.get(),
        writeLatency.getValueAtPercentile(50) / 1e6,
        writeLatency.getValueAtPercentile(99) / 1e6);
    System.out.printf(
        Locale.ROOT,
        "update delay, oldest write each event reveals (write sent -> received), %d samples: p50 %.1f ms, p90 %.1f ms,"
            + " p99 %.1f ms, p99.9 %.1f ms, max %.1f ms%n",
        d.getTotalCount(),
        d.getValueAtPercentile(50) / 1e6,
        d.getValueAtPercentile(90) / 1e6,
        d.getValueAtPercentile(99) / 1e6,
        d.getValueAtPercentile(99.9) / 1e6,
        d.getMaxValue() / 1e6);
    System.out.printf(
        Locale.ROOT,
        "newest write in each event (write sent -> received): p50 %.1f ms, p90 %.1f ms, p99 %.1f"
            + " ms, max %.1f ms%n",
        f.getValueAtPercentile(50) / 1e6,
        f.getValueAtPercentile(90) / 1e6,
        f.getValueAtPercentile(99) / 1e6,
        f.getMaxValue() / 1e6);
    System.out.printf(
        Locale.ROOT,
        "events received: %d; streams ended early: %d; node: open streams %s, dropped %s, events"
            + " sent %s%n",
        events.get(),
        ended.get(),
        metric(metrics, "tally_live_streams"),
        metric(metrics, "tally_live_dropped_total"),
        metric(metrics, "tally_live_events_total"));
    System.out.printf(
        Locale.ROOT,
        "node memory with %d streams open: RSS %.0f MiB, JVM heap used %.0f MiB (-Xmx512m)%n",
        started.get(),
        rss / 1048576.0,
        heap / 1048576.0);
  }

  private static int intArg(String[] args, String name, int dflt) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return Integer.parseInt(args[i + 1]);
      }
    }
    return dflt;
  }

  private static long rssBytes(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      }
    }
    return -1;
  }

  private static long heapBytes(int port) throws Exception {
    Matcher m =
        Pattern.compile("(?m)^jvm_memory_used_bytes\\{area=\"heap\",[^}]*} (\\S+)$")
            .matcher(get(port, "/metrics"));
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return (long) sum;
  }

  private static String metric(String text, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(text);
    return m.find() ? m.group(1) : "?";
  }

  private static String get(int port, String path) throws Exception {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    }
  }
}
