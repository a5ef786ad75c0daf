package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real tally nodes sharing counts through a real 6-process Redis Cluster. Every scenario runs
 * writes with unique idempotency keys through all nodes, injects a fault, heals, retries every
 * write that got no answer (same key, any node), and then requires every node to show exactly the
 * number of distinct writes of every counter.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {

  private static final int NODES = 3;
  private static final long CONVERGE_MILLIS = 30_000;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;

  private static RedisCluster redis;
  private static final NodeProcess[] nodes = new NodeProcess[NODES];
  private static final AtomicLong nextPost = new AtomicLong(1000);
  private static final AtomicInteger histories = new AtomicInteger();

  @BeforeAll
  static void startCluster() throws Exception {
    assertThat(RedisCluster.available())
        .as("redis-server and redis-cli are installed (bin/test-deps)")
        .isTrue();
    redis = RedisCluster.start(dir.resolve("redis"));
    List<CompletableFuture<Void>> starting = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      int n = i;
      starting.add(CompletableFuture.runAsync(() -> startNode(n)));
    }
    starting.forEach(CompletableFuture::join);
    assertThat(java.nio.file.Files.readString(dir.resolve("node-" + (NODES - 1) + ".log")))
        .contains(" committers=2");
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (NodeProcess n : nodes) {
      if (n != null) {
        n.close();
      }
    }
    if (redis != null) {
      redis.close();
    }
  }

  private static void startNode(int i) {
    try {
      nodes[i] =
          NodeProcess.start(
              dir.resolve("node-" + i),
              dir.resolve("node-" + i + ".log"),
              "--redis",
              String.join(",", redis.seeds()),
              "--redis-timeout",
              "2s",
              // the last node with two committers: its commits ordered for the outbox
              "--committers",
              i == NODES - 1 ? "2" : "1");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static final Map<Integer, TallyClient> clients = new ConcurrentHashMap<>();

  /** One client (one connection pool) per node port. */
  private static TallyClient client(int node) {
    return clients.computeIfAbsent(nodes[node].port(), TallyClient::new);
  }

  @Test
  @Order(1)
  void writesOnDifferentNodesConvergeOnAllNodes() throws Exception {
    History h = new History(posts(20), 7);
    h.writeFor(3_000, 4, null);
    long t0 = System.nanoTime();
    h.settleAndCheck();
    System.out.printf(
        "cluster: %d writes over %d nodes converged everywhere %d ms after the last%n",
        h.acknowledged(), NODES, (System.nanoTime() - t0) / 1_000_000);
  }

  /**
   * Write on one node, poll another until it shows the write. Every read states how old its cluster
   * part may be; on a healthy cluster that stays under a second, and the write shows up within that
   * bound (with slack for a busy test machine).
   */
  @Test
  @Order(2)
  void aWriteOnOneNodeReachesReadsOnTheOthers_withinTheStatedAge() throws Exception {
    long post = posts(1)[0];
    org.HdrHistogram.Histogram delays = new org.HdrHistogram.Histogram(3);
    long maxAge = 0;
    for (int i = 1; i <= 200; i++) {
      int from = i % NODES;
      int to = (i + 1) % NODES;
      assertThat(client(from).write(post, "likes", "increment", null).statusCode()).isEqualTo(200);
      long t0 = System.nanoTime();
      while (true) {
        HttpResponse<String> r = client(to).get("/v1/" + post + "/likes");
        long age = Long.parseLong(r.headers().firstValue("Tally-Cluster-Age-Ms").orElseThrow());
        maxAge = Math.max(maxAge, age);
        if (TallyClient.countOf(r.body()) >= i) {
          break;
        }
        assertThat(System.nanoTime() - t0).as("visible within 10 s").isLessThan(10_000_000_000L);
      }
      delays.recordValue((System.nanoTime() - t0) / 1000);
    }
    assertThat(maxAge).as("stated age on a healthy cluster, ms").isLessThan(1000);
    assertThat(delays.getValueAtPercentile(99)).as("p99 delay, µs").isLessThan(2_000_000);
    System.out.printf(
        "cluster convergence delay (write acknowledged on one node -> visible on another), 200"
            + " samples: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
        delays.getValueAtPercentile(50) / 1000.0,
        delays.getValueAtPercentile(99) / 1000.0,
        delays.getMaxValue() / 1000.0);
  }

  @Test
  @Order(2)
  void liveStreamsAndViewersSpanNodes() throws Exception {
    long post = posts(1)[0];
    assertThat(client(0).write(post, "likes", "increment", null).statusCode()).isEqualTo(200);
    awaitEverywhere(Map.of(post, 1L));
    try (dev.tally.testing.SseClient onB = dev.tally.testing.SseClient.open(nodes[1].port(), post);
        dev.tally.testing.SseClient onC = dev.tally.testing.SseClient.open(nodes[2].port(), post)) {
      // the first event already holds the cluster total, not the node's own part (0)
      onB.awaitCount("likes", 1, java.time.Duration.ofSeconds(10));
      assertThat(client(0).write(post, "likes", "increment", null).statusCode()).isEqualTo(200);
      onB.awaitCount("likes", 2, java.time.Duration.ofSeconds(10));
      onC.awaitCount("likes", 2, java.time.Duration.ofSeconds(10));
      // two streams on two nodes: every node counts both viewers
      Poll.until(
          "viewers summed on node 0",
          java.time.Duration.ofSeconds(10),
          () -> client(0).count(post, "live"),
          live -> live == 2);
    }
  }

  @Test
  @Order(2)
  void anIdempotencyKeyHoldsAcrossNodes() throws Exception {
    long post = posts(1)[0];
    HttpResponse<String> first = client(0).write(post, "likes", "increment", "same-key-1");
    assertThat(first.statusCode()).isEqualTo(200);
    // node 0 answers before its claim holds the answer in Redis (a write does not wait for Redis):
    // a retry elsewhere meanwhile is told the write is in progress (409) and changes nothing
    HttpResponse<String> retry =
        Poll.until(
            "the retry on node 1 answered from node 0's claim",
            java.time.Duration.ofSeconds(5),
            () -> client(1).write(post, "likes", "increment", "same-key-1"),
            r -> r.statusCode() != 409);
    assertThat(retry.statusCode()).isEqualTo(200);
    assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    assertThat(TallyClient.countOf(retry.body())).isEqualTo(TallyClient.countOf(first.body()));
    HttpResponse<String> other = client(2).write(post, "likes", "decrement", "same-key-1");
    assertThat(other.statusCode()).isEqualTo(422);
    HttpResponse<String> otherCounter = client(2).write(post, "views", "increment", "same-key-1");
    assertThat(otherCounter.statusCode()).isEqualTo(422);
    awaitEverywhere(Map.of(post, 1L));
  }

  @Test
  @Order(3)
  void aNodeKilledUnderLoadLosesNothing() throws Exception {
    History h = new History(posts(10), 11);
    h.writeFor(
        4_000,
        4,
        () -> {
          sleep(1_500);
          nodes[1].kill();
          sleep(500);
          startNode(1);
        });
    h.settleAndCheck();
  }

  @Test
  @Order(4)
  void aRedisPrimaryKilledUnderLoadLosesNothing() throws Exception {
    History h = new History(posts(20), 13);
    h.writeFor(
        8_000,
        4,
        () -> {
          sleep(1_000);
          int primary = redis.primaries().get(0);
          redis.kill(primary - redis.port(0));
        });
    h.settleAndCheck();
  }

  @Test
  @Order(5)
  void redisFlushedIsRefilledByThePushers() throws Exception {
    History h = new History(posts(10), 17);
    h.writeFor(1_500, 2, null);
    h.settleAndCheck();
    redis.flushAll();
    h.settleAndCheck();
  }

  @Test
  @Order(6)
  void redisGoneWhileWritesContinueThenBackEmpty() throws Exception {
    History h = new History(posts(10), 19);
    h.writeFor(
        6_000,
        3,
        () -> {
          sleep(1_000);
          client(1).count(h.posts[0], "likes"); // followed from now on
          redis.stopAll();
          // nodes keep acknowledging, durable locally, and report Redis unreachable (once a
          // push has failed: within the command timeout)
          long deadline = System.currentTimeMillis() + 15_000;
          String ready;
          do {
            sleep(200);
            ready = client(0).get("/health/ready").body();
            assertThat(System.currentTimeMillis()).as(ready).isLessThan(deadline);
          } while (!ready.contains("\"reachable\":false"));
          sleep(3_500);
          // reads go on from memory, and stop claiming freshness: the bus is silent
          HttpResponse<String> r = client(1).get("/v1/" + h.posts[0] + "/likes");
          assertThat(r.statusCode()).isEqualTo(200);
          assertThat(Long.parseLong(r.headers().firstValue("Tally-Cluster-Age-Ms").orElseThrow()))
              .isGreaterThan(3_000);
          redis.restartEmpty();
        });
    h.settleAndCheck();
  }

  @Test
  @Order(7)
  void ackClusterAnswersOnlyOnceRedisHoldsTheWrite() throws Exception {
    long post = posts(1)[0];
    try (NodeProcess acking =
        NodeProcess.start(
            dir.resolve("node-ack"),
            dir.resolve("node-ack.log"),
            "--redis",
            String.join(",", redis.seeds()),
            "--ack",
            "cluster",
            "--ack-timeout",
            "6s")) {
      TallyClient c = new TallyClient(acking.port());
      // likes is the first counter name, stored under code 1 on every node
      CounterId likes = new CounterId(post, 1);
      try (RedisSlots direct = new RedisSlots(redis.seeds(), 0, java.time.Duration.ofSeconds(2))) {
        for (int i = 1; i <= 20; i++) {
          HttpResponse<String> r = c.write(post, "likes", "increment", "ack-" + i);
          assertThat(r.statusCode())
              .as("write %d: %s; node: %s", i, r.body(), c.get("/health/ready").body())
              .isEqualTo(200);
          assertThat(direct.totals(List.of(likes)).toCompletableFuture().get().get(likes))
              .as("Redis holds write %d when it is answered", i)
              .isEqualTo(i);
        }
        // many writers at once, several answered by one commit and one push round: each is
        // answered, and only once Redis holds it
        int threads = 16;
        int each = 25;
        List<java.util.concurrent.Future<Integer>> answers = new ArrayList<>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
          for (int t = 0; t < threads; t++) {
            answers.add(
                pool.submit(
                    () -> {
                      TallyClient own = new TallyClient(acking.port());
                      int ok = 0;
                      for (int k = 0; k < each; k++) {
                        HttpResponse<String> r = own.write(post, "likes", "increment", null);
                        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                        ok++;
                      }
                      return ok;
                    }));
          }
          for (var a : answers) {
            assertThat(a.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(each);
          }
        } finally {
          pool.shutdownNow();
        }
        assertThat(direct.totals(List.of(likes)).toCompletableFuture().get().get(likes))
            .as("Redis holds every answered write")
            .isEqualTo(20 + threads * each);
      }
      int before = 20 + 16 * 25;
      redis.stopAll();
      HttpResponse<String> unconfirmed = c.write(post, "likes", "increment", "ack-21");
      assertThat(unconfirmed.statusCode()).isEqualTo(504);
      assertThat(unconfirmed.body()).contains("not-confirmed");
      redis.restartEmpty();
      // durable on the node all along: pushed once Redis is back, and a retry is a replay
      HttpResponse<String> retry = c.write(post, "likes", "increment", "ack-21");
      assertThat(retry.statusCode()).isEqualTo(200);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      Poll.until(
          "the write pushed once Redis is back",
          java.time.Duration.ofMillis(CONVERGE_MILLIS),
          () -> c.count(post, "likes"),
          count -> count == before + 1);
    }
  }

  @Test
  @Order(8)
  void aNodeStartsWhileRedisIsDown_andCatchesUpOnceItIsBack() throws Exception {
    History h = new History(posts(10), 23);
    h.writeFor(
        8_000,
        3,
        () -> {
          sleep(500);
          redis.stopAll();
          // SIGTERM: the node answers what it committed. A kill here could lose an answer whose
          // retry on another node no claim protects while Redis is down (docs/cluster.md)
          nodes[2].stop();
          startNode(2); // serves at once, connecting to Redis in the background
          long deadline = System.currentTimeMillis() + 15_000;
          String ready;
          do {
            ready = client(2).get("/health/ready").body();
            assertThat(System.currentTimeMillis()).as(ready).isLessThan(deadline);
            sleep(200);
          } while (!ready.contains("\"reachable\":false"));
          assertThat(ready).contains("\"error\":\"not connected to the Redis Cluster at");
          sleep(2_000); // the new node takes writes while Redis is still down
          redis.restartEmpty();
        });
    h.settleAndCheck();
    assertThat(h.acknowledged()).isGreaterThan(0);
  }

  /**
   * A node gone for good is retired with {@code tally retire-writer}: its shares fold into the base
   * entries, no node's count moves (checked all the while the others learn the retirement), and the
   * node cannot start again with its writer id.
   */
  @Test
  @Order(20)
  void aWriterGoneForGood_isRetired_countsStay_andItCannotComeBack() throws Exception {
    long[] posts = posts(5);
    Path data = dir.resolve("node-retiree");
    Path log = dir.resolve("node-retiree.log");
    String seeds = String.join(",", redis.seeds());
    Map<Long, Long> expected = new java.util.HashMap<>();
    try (NodeProcess retiree = NodeProcess.start(data, log, "--redis", seeds)) {
      TallyClient c = new TallyClient(retiree.port());
      for (long post : posts) {
        for (int i = 0; i < 3; i++) {
          assertThat(c.write(post, "likes", "increment", null).statusCode()).isEqualTo(200);
        }
        assertThat(client(0).write(post, "likes", "increment", null).statusCode()).isEqualTo(200);
        expected.put(post, 4L);
      }
      awaitEverywhere(expected);
      long deadline = System.currentTimeMillis() + CONVERGE_MILLIS;
      while (!c.get("/health/ready").body().contains("\"backlog\":0")) {
        assertThat(System.currentTimeMillis())
            .as("the node pushed everything")
            .isLessThan(deadline);
        Thread.sleep(100);
      }
      assertThat(retiree.stop()).isZero();
    }
    String writer = Files.readString(data.resolve("node-id")).strip();
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    Process retire =
        new ProcessBuilder(
                javaBin,
                "-jar",
                NodeProcess.jar().toString(),
                "retire-writer",
                "--writer",
                writer,
                "--redis",
                seeds)
            .redirectErrorStream(true)
            .start();
    String said = new String(retire.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(retire.waitFor()).as(said).isZero();
    assertThat(said).contains("writer " + Long.toHexString(Long.parseUnsignedLong(writer, 16)));
    assertThat(said).contains("5 counters' shares folded");

    // the other nodes learn the retirement within a resync period (10 s): exact all along
    long until = System.currentTimeMillis() + 12_000;
    while (System.currentTimeMillis() < until) {
      assertThat(mismatches(expected)).isEmpty();
      Thread.sleep(250);
    }
    assertThatThrownBy(() -> NodeProcess.start(data, log, "--redis", seeds).close())
        .hasMessageContaining("did not start");
    assertThat(Files.readString(log)).contains("was retired");
    assertThat(mismatches(expected)).isEmpty();
  }

  private static long[] posts(int n) {
    long[] p = new long[n];
    for (int i = 0; i < n; i++) {
      p[i] = nextPost.getAndIncrement();
    }
    return p;
  }

  /** Waits until every node reads exactly {@code expected} likes of every post. */
  private static void awaitEverywhere(Map<Long, Long> expected) throws Exception {
    long deadline = System.currentTimeMillis() + CONVERGE_MILLIS;
    String last = "";
    while (System.currentTimeMillis() < deadline) {
      last = mismatches(expected);
      if (last.isEmpty()) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("nodes did not converge in " + CONVERGE_MILLIS + " ms: " + last);
  }

  private static String mismatches(Map<Long, Long> expected) {
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      for (Map.Entry<Long, Long> e : expected.entrySet()) {
        try {
          HttpResponse<String> r = client(n).get("/v1/" + e.getKey() + "/likes");
          long got = r.statusCode() == 200 ? TallyClient.countOf(r.body()) : Long.MIN_VALUE;
          if (got != e.getValue()) {
            sb.append(
                String.format("node %d post %d: %d != %d; ", n, e.getKey(), got, e.getValue()));
          }
        } catch (IOException | InterruptedException | RuntimeException ex) {
          sb.append("node ").append(n).append(": ").append(ex).append("; ");
        }
      }
    }
    return sb.toString();
  }

  private interface Fault {
    void inject() throws Exception;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * A keyed load on the cluster's nodes ({@link KeyedLoad}: increments of "likes", unique keys,
   * retried on other nodes while in doubt) with a fault injected meanwhile; afterwards every write
   * in doubt is retried until acknowledged and every node must read the exact totals.
   */
  private static final class History {
    private final long[] posts;
    private final KeyedLoad load;
    private int phases;

    History(long[] posts, long seed) {
      this.posts = posts;
      this.load =
          KeyedLoad.builder("h" + histories.incrementAndGet(), seed)
              .nodes(() -> List.of(client(0), client(1), client(2)))
              .posts(posts)
              .build();
    }

    void writeFor(long millis, int threads, Fault fault) throws Exception {
      // bounded in count and time
      KeyedLoad.Running writing =
          load.phase("p" + phases++).threads(threads).writes(threads * 20_000).start();
      Thread faults = null;
      Throwable[] faultError = new Throwable[1];
      if (fault != null) {
        faults =
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        fault.inject();
                      } catch (Throwable e) {
                        faultError[0] = e;
                      }
                    });
      }
      Thread.sleep(millis);
      if (faults != null) {
        faults.join(120_000);
      }
      writing.stop();
      if (faultError[0] != null) {
        throw new AssertionError("fault injection failed", faultError[0]);
      }
    }

    /** Retries every write in doubt until acknowledged, then awaits exact totals everywhere. */
    void settleAndCheck() throws Exception {
      load.settle(java.time.Duration.ofSeconds(60));
      assertThat(load.anomalies()).as("writes refused for good").isEmpty();
      assertThat(load.acknowledged()).isEqualTo(load.sent());
      load.awaitEverywhere(java.time.Duration.ofMillis(CONVERGE_MILLIS));
    }

    int acknowledged() {
      return load.acknowledged();
    }
  }
}
