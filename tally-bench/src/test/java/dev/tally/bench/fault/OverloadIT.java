package dev.tally.bench.fault;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.bench.KeyChooser;
import dev.tally.bench.LoadGenerator;
import dev.tally.testing.NodeProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 9: overload. A single node on its defaults (heap {@code -Xmx512m}) is first
 * measured: {@value #CAPACITY_CONNECTIONS} connections send 1000-item batch writes back to back for
 * {@value #CAPACITY_MILLIS} ms, which gives its capacity C in increments per second. Then, for
 * {@link #OVERLOAD_MILLIS} ms, batches are offered open-loop at {@value #FACTOR} × C, each on a
 * connection of its own as clients with a burst of traffic do (at most {@value #MAX_OUTSTANDING}
 * outstanding; a batch due while that many are out is counted as not sent). Then a single write is
 * sent every 100 ms until one is answered 200 within 100 ms: the recovery time.
 *
 * <p>Required: every answer is 2xx, 429 or 503, for whole requests and for batch items; the node's
 * resident memory stays under {@link #RSS_LIMIT_MIB} MiB (sampled every 200 ms from /proc); the
 * node never exits; it answers normally within {@value #RECOVERY_LIMIT_MILLIS} ms of the end; and
 * every acknowledged increment is counted: per post, the final count lies between the increments
 * acknowledged and those plus the ones that got no answer (exact when every batch got one, which
 * the report states). The writes carry no idempotency keys: a refusal (503, 429) changes nothing,
 * so only unanswered ones are in doubt, and a minute of keyed overload would leave millions of keys
 * behind in the node.
 *
 * <p>Seeded ({@code tally.fault.seed}). Writes its row of the reliability report to {@code
 * target/reliability/overload.{json,md}}.
 */
@Tag("fault")
class OverloadIT {

  static final long SEED = FaultReport.seed(79L);
  static final long OVERLOAD_MILLIS = Long.getLong("tally.fault.overloadMillis", 60_000);
  static final int FACTOR = 10;
  static final int ITEMS = 1_000;
  static final int POSTS = 20_000;
  static final long FIRST_POST = 9_000_001;
  static final int CAPACITY_CONNECTIONS = 8;
  static final long CAPACITY_MILLIS = 5_000;
  static final int MAX_OUTSTANDING = 512;
  static final long RSS_LIMIT_MIB = 1_536;
  static final long RECOVERY_LIMIT_MILLIS = 10_000;
  private static final Pattern STATUS = Pattern.compile("\"status\":(\\d{3})");

  @TempDir Path tmp;

  private final AtomicLongArray acknowledged = new AtomicLongArray(POSTS);
  private final AtomicLongArray unanswered = new AtomicLongArray(POSTS);
  private final Map<Integer, AtomicLong> requestStatuses = new ConcurrentHashMap<>();
  private final Map<Integer, AtomicLong> itemStatuses = new ConcurrentHashMap<>();
  private final AtomicLong noAnswer = new AtomicLong();

  @Test
  void tenTimesCapacityForAMinute_onlyOkOr429Or503_memoryBounded_everyAcknowledgedWriteCounted()
      throws Exception {
    long started = System.nanoTime();
    Path logs = FaultReport.logDir("overload");
    NodeProcess node = NodeProcess.start(tmp.resolve("data"), logs.resolve("node.log"));
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .executor(Executors.newFixedThreadPool(4))
            .build();
    SplittableRandom random = new SplittableRandom(SEED);
    RssSampler rss = new RssSampler(node.pid());
    try {
      String base = "http://127.0.0.1:" + node.port();
      double capacity = measureCapacity(http, base, random.split());
      double offered = FACTOR * capacity;
      rss.start();
      Overload o = overload(http, base, offered, random.split());
      long overloadEnd = System.nanoTime();
      long recoveryMillis = recover(http, base, overloadEnd);
      rss.stop();
      assertThat(node.alive()).as("the node is still running").isTrue();

      Map<String, Long> counts = LoadGenerator.readCounts(base, chooser(), "likes");
      long lost = 0;
      long beyond = 0;
      long inDoubt = 0;
      for (int i = 0; i < POSTS; i++) {
        long seen = counts.getOrDefault((FIRST_POST + i) + "/likes", 0L);
        lost += Math.max(0, acknowledged.get(i) - seen);
        beyond += Math.max(0, seen - acknowledged.get(i) - unanswered.get(i));
        inDoubt += unanswered.get(i);
      }
      long acked = sum(acknowledged);
      long seconds = (System.nanoTime() - started) / 1_000_000_000L;
      String json =
          String.format(
              "{\"scenario\":\"overload: %d x capacity for %d s\",\"seed\":%d,"
                  + "\"capacity_per_s\":%.0f,\"offered_per_s\":%.0f,\"sent_per_s\":%.0f,"
                  + "\"not_sent_client_full\":%d,\"request_statuses\":\"%s\","
                  + "\"item_statuses\":\"%s\",\"no_answer_requests\":%d,\"operations\":%d,"
                  + "\"acknowledged\":%d,\"in_doubt\":%d,\"lost\":%d,\"beyond_sent\":%d,"
                  + "\"rss_max_mib\":%d,\"recovery_ms\":%d,\"test_seconds\":%d}",
              FACTOR,
              OVERLOAD_MILLIS / 1000,
              SEED,
              capacity,
              offered,
              o.sentItems * 1000.0 / OVERLOAD_MILLIS,
              o.notSent,
              new TreeMap<>(requestStatuses),
              new TreeMap<>(itemStatuses),
              noAnswer.get(),
              o.sentItems,
              acked,
              inDoubt,
              lost,
              beyond,
              rss.maxMib(),
              recoveryMillis,
              seconds);
      FaultReport.write(
          "overload",
          json,
          String.format(
              "| 9. overload: 1000-item batches offered at %d× the node's measured capacity (%.0f"
                  + " increments/s) for %d s, %.1f× sent (seed %d) | 1 | %d | %d | %d | 0 |"
                  + " answers %s, items %s (status=times); resident memory ≤ %d MiB; normal"
                  + " answers %d ms after the load |",
              FACTOR,
              capacity,
              OVERLOAD_MILLIS / 1000,
              o.sentItems * 1000.0 / OVERLOAD_MILLIS / capacity,
              SEED,
              o.sentItems,
              acked,
              lost,
              new TreeMap<>(requestStatuses),
              new TreeMap<>(itemStatuses),
              rss.maxMib(),
              recoveryMillis));

      assertThat(requestStatuses.keySet())
          .as("request statuses: %s", json)
          .allMatch(s -> s == 200 || s == 429 || s == 503);
      assertThat(itemStatuses.keySet())
          .as("batch item statuses: %s", json)
          .allMatch(s -> s == 200 || s == 429 || s == 503);
      assertThat(rss.maxMib()).as("resident memory (MiB): %s", json).isLessThan(RSS_LIMIT_MIB);
      assertThat(recoveryMillis).as(json).isLessThan(RECOVERY_LIMIT_MILLIS);
      assertThat(lost).as("acknowledged increments missing: %s", json).isZero();
      assertThat(beyond).as("increments counted that were never sent: %s", json).isZero();
      assertThat(o.sentItems)
          .as("the load offered more than the node takes: %s", json)
          .isGreaterThan((long) (capacity * OVERLOAD_MILLIS / 1000 * 2));
    } finally {
      rss.stop();
      node.close();
      http.close();
    }
  }

  private static KeyChooser chooser() {
    return new KeyChooser(KeyChooser.Kind.UNIFORM, FIRST_POST, POSTS, 0);
  }

  /** Closed loop: increments acknowledged per second by back-to-back batches. */
  private double measureCapacity(HttpClient http, String base, SplittableRandom random)
      throws Exception {
    long deadline = System.nanoTime() + CAPACITY_MILLIS * 1_000_000L;
    AtomicLong items = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < CAPACITY_CONNECTIONS; t++) {
      SplittableRandom r = random.split();
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (System.nanoTime() - deadline < 0) {
                      int[] posts = posts(r);
                      try {
                        HttpResponse<String> resp =
                            http.send(request(base, posts), HttpResponse.BodyHandlers.ofString());
                        items.addAndGet(account(posts, resp.statusCode(), resp.body()));
                      } catch (IOException e) {
                        inDoubt(posts);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  }));
    }
    long t0 = System.nanoTime();
    for (Thread t : threads) {
      t.join(CAPACITY_MILLIS + 30_000);
    }
    return items.get() * 1e9 / (System.nanoTime() - t0);
  }

  private record Overload(long sentItems, long notSent) {}

  /** Open loop at {@code itemsPerSecond}, each batch on its own request; waits for the answers. */
  private Overload overload(
      HttpClient http, String base, double itemsPerSecond, SplittableRandom random)
      throws InterruptedException {
    Semaphore outstanding = new Semaphore(MAX_OUTSTANDING);
    long intervalNanos = (long) (1e9 * ITEMS / itemsPerSecond);
    long start = System.nanoTime();
    long end = start + OVERLOAD_MILLIS * 1_000_000L;
    long sent = 0;
    long notSent = 0;
    for (long due = start; due - end < 0; due += intervalNanos) {
      long wait = due - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      if (!outstanding.tryAcquire()) {
        notSent += ITEMS;
        continue;
      }
      int[] posts = posts(random);
      sent += ITEMS;
      http.sendAsync(request(base, posts), HttpResponse.BodyHandlers.ofString())
          .whenComplete(
              (resp, error) -> {
                if (error != null) {
                  inDoubt(posts);
                } else {
                  account(posts, resp.statusCode(), resp.body());
                }
                outstanding.release();
              });
    }
    if (!outstanding.tryAcquire(MAX_OUTSTANDING, 60, TimeUnit.SECONDS)) {
      throw new AssertionError("answers still outstanding 60 s after the overload");
    }
    return new Overload(sent, notSent);
  }

  /** Milliseconds from {@code from} until a single write is answered 200 within 100 ms. */
  private long recover(HttpClient http, String base, long from) throws Exception {
    long deadline = from + 60_000_000_000L;
    int probe = 0;
    while (System.nanoTime() - deadline < 0) {
      long t0 = System.nanoTime();
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/" + (FIRST_POST - 1) + "/views"))
                    .timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        long took = (System.nanoTime() - t0) / 1_000_000;
        if (r.statusCode() == 200 && took <= 100) {
          return (System.nanoTime() - from) / 1_000_000;
        }
      } catch (IOException e) {
        // not yet
      }
      probe++;
      Thread.sleep(100);
    }
    throw new AssertionError("no normal answer within 60 s of the overload (" + probe + " probes)");
  }

  private int[] posts(SplittableRandom random) {
    int[] posts = new int[ITEMS];
    for (int i = 0; i < ITEMS; i++) {
      posts[i] = random.nextInt(POSTS);
    }
    return posts;
  }

  private static HttpRequest request(String base, int[] posts) {
    StringBuilder body = new StringBuilder(ITEMS * 56).append("{\"writes\":[");
    for (int i = 0; i < posts.length; i++) {
      if (i > 0) {
        body.append(',');
      }
      body.append("{\"post_id\":")
          .append(FIRST_POST + posts[i])
          .append(",\"counter\":\"likes\",\"action\":\"increment\"}");
    }
    body.append("]}");
    return HttpRequest.newBuilder(URI.create(base + "/v1/counts"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
        .build();
  }

  /** Books one answer; returns the increments it acknowledged. */
  private long account(int[] posts, int status, String body) {
    requestStatuses.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet();
    if (status != 200) {
      if (status != 429 && status != 503) {
        inDoubt(posts); // unexpected: fails the test, and may have applied anything
      }
      return 0;
    }
    Matcher m = STATUS.matcher(body);
    long acked = 0;
    for (int i = 0; i < posts.length; i++) {
      if (!m.find()) {
        throw new AssertionError("batch answer with fewer results than items: " + body);
      }
      int s = Integer.parseInt(m.group(1));
      itemStatuses.computeIfAbsent(s, x -> new AtomicLong()).incrementAndGet();
      if (s == 200) {
        acknowledged.incrementAndGet(posts[i]);
        acked++;
      } else if (s != 429 && s != 503) {
        unanswered.incrementAndGet(posts[i]);
      }
    }
    return acked;
  }

  private void inDoubt(int[] posts) {
    noAnswer.incrementAndGet();
    for (int p : posts) {
      unanswered.incrementAndGet(p);
    }
  }

  private static long sum(AtomicLongArray a) {
    long s = 0;
    for (int i = 0; i < a.length(); i++) {
      s += a.get(i);
    }
    return s;
  }

  /** The node's resident memory, sampled every 200 ms from /proc/&lt;pid&gt;/status. */
  private static final class RssSampler {
    private static final Pattern VM_RSS = Pattern.compile("VmRSS:\\s+(\\d+) kB");
    private final Path status;
    private final AtomicLong maxKib = new AtomicLong();
    private volatile boolean running;
    private Thread thread;

    RssSampler(long pid) {
      this.status = Path.of("/proc", Long.toString(pid), "status");
    }

    void start() {
      running = true;
      thread =
          Thread.ofPlatform()
              .daemon()
              .name("rss-sampler")
              .start(
                  () -> {
                    while (running) {
                      sample();
                      try {
                        Thread.sleep(200);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  });
    }

    private void sample() {
      try {
        Matcher m = VM_RSS.matcher(Files.readString(status));
        if (m.find()) {
          maxKib.accumulateAndGet(Long.parseLong(m.group(1)), Math::max);
        }
      } catch (IOException e) {
        // the process is gone: the test's liveness check says so
      }
    }

    void stop() throws InterruptedException {
      running = false;
      if (thread != null) {
        thread.join(5_000);
        sample();
      }
    }

    long maxMib() {
      return maxKib.get() / 1024;
    }
  }
}
