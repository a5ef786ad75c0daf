package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Growing the Redis Cluster under load: while tally nodes take keyed increments and decrements of a
 * few hundred posts, a primary joins the cluster and a quarter of the slots migrate to it, keys and
 * all (counter buckets, idempotency claims, epoch markers), with clients redirected (ASK, MOVED)
 * meanwhile. Afterwards every node must read exactly the sum of every distinct write of every
 * counter, and the new primary must hold counter buckets that existed before the move. The nodes
 * run with {@code --idempotency strict}: a claim whose slot is moving follows the redirect (ASK to
 * the importing primary, MOVED once it moved) instead of being refused, so at most a few writes in
 * a thousand get a 503 (and are retried); none is applied without its claim.
 *
 * <p>Fault scenario 8 of the reliability report: writes its row to {@code
 * target/reliability/slot-migration.md} once every node is exact (so a row always says 0 lost, 0
 * duplicated; a run that is not exact fails instead, and {@code bench/reliability.sh} counts it).
 */
class SlotMigrationIT {

  private static final int NODES = 3;
  private static final int POSTS = 300;
  private static final int MOVED_SLOTS = 4096;
  private static final List<String> COUNTERS = List.of("likes", "views");

  @Test
  void slotsMovingToANewPrimaryUnderKeyedWritesEndWithExactCountsOnEveryNode(
      @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
    assertThat(RedisCluster.available())
        .as("redis-server and redis-cli are installed (bin/test-deps)")
        .isTrue();
    NodeProcess[] nodes = new NodeProcess[NODES];
    long t0 = System.nanoTime();
    try (RedisCluster redis = RedisCluster.start(dir.resolve("redis"))) {
      try {
        run(redis, dir, nodes, t0);
      } finally {
        for (NodeProcess n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }

  private static void run(RedisCluster redis, Path dir, NodeProcess[] nodes, long t0)
      throws Exception {
    List<CompletableFuture<Void>> starting = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      int n = i;
      starting.add(
          CompletableFuture.runAsync(
              () -> nodes[n] = startNode(dir.resolve("node-" + n), redis.seeds())));
    }
    starting.forEach(CompletableFuture::join);
    List<TallyClient> clients = new ArrayList<>();
    for (NodeProcess n : nodes) {
      clients.add(new TallyClient(n.port()));
    }
    long[] posts = new long[POSTS];
    for (int i = 0; i < POSTS; i++) {
      posts[i] = 7_000 + i;
    }
    KeyedLoad load =
        KeyedLoad.builder("migrate", 31).nodes(clients).posts(posts).counters(COUNTERS).build();
    long loadStart = System.nanoTime();
    KeyedLoad.Running writing =
        load.phase("load").threads(4).writes(4 * 50_000).decrements(0.3).start();
    int added;
    Set<String> bucketsBefore;
    long moveMillis;
    try {
      Thread.sleep(2_000); // most posts have a bucket in Redis before slots move
      bucketsBefore = new HashSet<>();
      for (int port : redis.primaries()) {
        bucketsBefore.addAll(bucketKeys(redis, port));
      }
      long m0 = System.nanoTime();
      added = redis.addPrimary();
      redis.reshard(added, MOVED_SLOTS);
      moveMillis = (System.nanoTime() - m0) / 1_000_000;
      Thread.sleep(3_000); // writes go on against the grown cluster
    } finally {
      writing.stop();
    }
    long loadMillis = (System.nanoTime() - loadStart) / 1_000_000;
    int sentDuringLoad = load.sent();
    int ackedDuringLoad = load.acknowledged();
    load.settle(Duration.ofSeconds(60));
    assertThat(load.anomalies()).as("writes refused for good").isEmpty();
    assertThat(load.acknowledged()).as("every write acknowledged").isEqualTo(load.sent());
    // a claim that did not follow ASK and MOVED was refused about 25 times in a thousand here
    assertThat(load.outcomes().getOrDefault("503", 0L))
        .as("writes refused while slots moved (outcomes %s)", load.outcomes())
        .isLessThanOrEqualTo(load.sent() / 200);
    Duration converged = load.awaitEverywhere(Duration.ofSeconds(30));

    assertThat(redis.slotsOf(added)).as("slots served by the new primary").isEqualTo(MOVED_SLOTS);
    Set<String> held = bucketKeys(redis, added);
    Set<String> loadBuckets = new HashSet<>();
    for (long p : posts) {
      loadBuckets.add(RedisSlots.key(new CounterId(p, 1), RedisSlots.DEFAULT_BUCKETS));
    }
    Set<String> movedWithData =
        held.stream()
            .filter(k -> loadBuckets.contains(k) && bucketsBefore.contains(k))
            .collect(Collectors.toSet());
    assertThat(movedWithData)
        .as("buckets of the load's posts that existed before and now live on the new primary")
        .isNotEmpty();
    long dbsize = Long.parseLong(redis.cli(added, "dbsize").strip());
    assertThat(dbsize).as("keys on the new primary").isPositive();

    Map<String, Long> expected = load.expected();
    List<String> metrics = new ArrayList<>();
    for (TallyClient c : clients) {
      metrics.add(clusterMetrics(c));
      // a new primary is a new data generation (one full re-push, two if the topology flapped);
      // slots migrating between primaries are not: their epoch markers move with them
      assertThat(metric(c, "tally_cluster_repushes_total"))
          .as("full re-pushes of a node while slots migrated")
          .isLessThanOrEqualTo(2);
    }
    Path out = Files.createDirectories(Path.of("target", "reliability"));
    Files.writeString(
        out.resolve("slot-migration.md"),
        String.format(
            "| 8. %d Redis slots migrating to a newly added primary (`redis-cli --cluster add-node`"
                + " + `reshard`) under keyed writes through %d nodes, `--idempotency strict` | 1 |"
                + " %d | %d | 0 | 0 | slots moved in %d ms; answers %s; exact on every node %d ms"
                + " after the last retry |%n",
            MOVED_SLOTS,
            NODES,
            load.sent(),
            load.acknowledged(),
            moveMillis,
            load.outcomes(),
            converged.toMillis()));
    System.out.printf(
        "slot migration: %d slots moved to a new primary in %d ms while %d threads wrote for %d"
            + " ms; %d writes (%d acknowledged during the load, %d replayed), outcomes %s; the"
            + " new primary holds %d keys, %d of the load's %d buckets (%d of them moved with"
            + " data); %d counters exact on %d nodes %d ms after the last retry; %d s in all;"
            + " per node %s%n",
        MOVED_SLOTS,
        moveMillis,
        4,
        loadMillis,
        sentDuringLoad,
        ackedDuringLoad,
        load.replays(),
        load.outcomes(),
        dbsize,
        held.stream().filter(loadBuckets::contains).count(),
        loadBuckets.size(),
        movedWithData.size(),
        expected.size(),
        NODES,
        converged.toMillis(),
        (System.nanoTime() - t0) / 1_000_000_000,
        metrics);
  }

  private static NodeProcess startNode(Path dataDir, List<String> seeds) {
    try {
      return NodeProcess.start(
          dataDir,
          dataDir.resolveSibling(dataDir.getFileName() + ".log"),
          "--redis",
          String.join(",", seeds),
          "--redis-timeout",
          "2s",
          "--idempotency",
          "strict");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The value of the meter {@code name} (all its tags summed) on a node. */
  private static long metric(TallyClient client, String name)
      throws IOException, InterruptedException {
    long sum = 0;
    for (String line : client.get("/metrics").body().split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        String[] f = line.split(" ");
        sum += (long) Double.parseDouble(f[f.length - 1]);
      }
    }
    return sum;
  }

  /** What a node's push path went through, from its metrics. */
  private static String clusterMetrics(TallyClient client)
      throws IOException, InterruptedException {
    List<String> wanted =
        List.of(
            "tally_cluster_push_failures_total",
            "tally_cluster_repushes_total",
            "tally_cluster_idempotency_unclaimed_total");
    StringBuilder sb = new StringBuilder("{");
    for (String line : client.get("/metrics").body().split("\n")) {
      for (String name : wanted) {
        if (line.startsWith(name)) {
          String[] f = line.split(" ");
          sb.append(sb.length() > 1 ? ", " : "")
              .append(name, "tally_cluster_".length(), name.length() - "_total".length())
              .append('=')
              .append((long) Double.parseDouble(f[f.length - 1]));
        }
      }
    }
    return sb.append('}').toString();
  }

  /** The counter buckets ("t:{…}") the Redis node on {@code port} holds. */
  private static Set<String> bucketKeys(RedisCluster redis, int port)
      throws IOException, InterruptedException {
    Set<String> keys = new HashSet<>();
    for (String line : redis.cli(port, "--scan", "--pattern", "t:{*").split("\\r?\\n")) {
      if (line.startsWith("t:{")) {
        keys.add(line.strip());
      }
    }
    return keys;
  }
}
