package dev.tally.bench.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.bench.KeyChooser;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 5: two regions partitioned from each other, then healed. Each region has its own
 * 6-process Redis Cluster and {@link #NODES_PER_REGION} tally nodes; a node of region a runs with
 * {@code --redis A --region a --remote-regions b=B}, and the mirror in region b, so every node
 * pushes its slots to both clusters and reads its home cluster's totals.
 *
 * <p>The partition: everything runs on 127.0.0.1, so it must separate "region a's nodes → B's
 * Redis" and "region b's nodes → A's Redis" while each region keeps its own Redis. Region a's nodes
 * run in one cgroup, region b's in another ({@link CgroupPartition}); one iptables rule drops what
 * region a's nodes send over loopback to B's six data ports, another what region b's nodes send to
 * A's. Each Redis Cluster's own traffic comes from processes outside both cgroups and goes on, so
 * neither cluster notices anything. (Chosen over separate users, which would need the data
 * directories and the jar opened to another uid, and over network namespaces, which would need veth
 * pairs, addresses and {@code cluster-announce-ip}: the cgroup match needs neither.)
 *
 * <p>Asserted: writes through all nodes first converge everywhere. Then, {@link #PARTITIONS} times:
 * during the partition both regions write to the same counters; every node of region a shows
 * exactly what was written before plus region a's writes during the partition, every node of region
 * b exactly the same with region b's, and still so {@link #HOLD_MILLIS} ms later (nothing leaks
 * across); readiness shows the other region unreachable with a backlog above 0 and the home region
 * reachable. After the heal every node of both regions shows exactly the total within {@link
 * #CONVERGE_MILLIS} ms (the time from removing the rules to the first poll at which all nodes were
 * exact is the convergence time reported). At the end no acknowledged write is lost and none is
 * counted twice on any node. Writes in doubt are retried, with their keys, on the node they were
 * sent to ({@link FaultLoad}).
 *
 * <p>Seeded ({@code tally.fault.seed}). Writes its row of the reliability report to {@code
 * target/reliability/region-partition.{json,md}}; node logs go to {@code
 * target/fault-logs/region-partition/}. Run alone:
 *
 * <pre>
 * ./mvnw -B -pl tally-bench -am verify -Dit.test=RegionPartitionIT -Dtest=none \
 *   -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
@Tag("fault")
class RegionPartitionIT {

  static final long SEED = FaultReport.seed(71L);
  static final int NODES_PER_REGION = Integer.getInteger("tally.fault.nodesPerRegion", 2);
  static final int PARTITIONS = Integer.getInteger("tally.fault.partitions", 2);
  static final long PARTITION_WRITE_MILLIS = 4_000;
  static final long HOLD_MILLIS = 2_000;
  static final long CONVERGE_MILLIS = 10_000;
  private static final Duration CONVERGE = Duration.ofMillis(CONVERGE_MILLIS);
  private static final Duration RETRY_TIMEOUT = Duration.ofSeconds(60);

  @TempDir Path tmp;

  @Test
  void regionsPartitioned_eachShowsItsOwnWrites_bothExactAfterHeal() throws Exception {
    assumeTrue(RedisCluster.available(), "redis-server and redis-cli are not installed");
    assumeTrue(CgroupPartition.iptablesAvailable(), "iptables is not installed");
    long started = System.nanoTime();
    Path logs = FaultReport.logDir("region-partition");
    List<NodeProcess> nodes = new ArrayList<>();
    try (RedisCluster redisA = RedisCluster.start(tmp.resolve("redis-a"));
        RedisCluster redisB = RedisCluster.start(tmp.resolve("redis-b"));
        CgroupPartition net = CgroupPartition.open()) {
      try {
        run(redisA, redisB, net, nodes, logs, started);
      } finally {
        for (NodeProcess n : nodes) {
          n.close();
        }
      }
    }
  }

  private void run(
      RedisCluster redisA,
      RedisCluster redisB,
      CgroupPartition net,
      List<NodeProcess> nodes,
      Path logs,
      long started)
      throws Exception {
    String seedsA = String.join(",", redisA.seeds());
    String seedsB = String.join(",", redisB.seeds());
    List<String> inA = net.launcher("a");
    List<String> inB = net.launcher("b");
    List<CompletableFuture<NodeProcess>> starting = new ArrayList<>();
    for (int i = 0; i < 2 * NODES_PER_REGION; i++) {
      boolean a = i < NODES_PER_REGION;
      String name = (a ? "a" : "b") + (i % NODES_PER_REGION);
      Path data = tmp.resolve("node-" + name);
      Path log = logs.resolve("node-" + name + ".log");
      starting.add(
          CompletableFuture.supplyAsync(
              () ->
                  FaultReport.startNode(
                      a ? inA : inB,
                      data,
                      log,
                      "--redis",
                      a ? seedsA : seedsB,
                      "--region",
                      a ? "a" : "b",
                      "--remote-regions",
                      a ? "b=" + seedsB : "a=" + seedsA,
                      "--redis-timeout",
                      "2s",
                      "--idempotency",
                      FaultReport.IDEMPOTENCY)));
    }
    for (CompletableFuture<NodeProcess> f : starting) {
      nodes.add(f.join());
    }
    List<TallyClient> all = FaultLoad.clients(nodes.stream().map(NodeProcess::port).toList());
    List<TallyClient> inRegionA = all.subList(0, NODES_PER_REGION);
    List<TallyClient> inRegionB = all.subList(NODES_PER_REGION, all.size());
    List<Integer> dataPortsA = dataPorts(redisA);
    List<Integer> dataPortsB = dataPorts(redisB);

    KeyChooser posts = new KeyChooser(KeyChooser.Kind.ZIPF, 5_000_001, 100, 1.0);
    KeyedLoad load = FaultLoad.on(all, posts, "s" + SEED, SEED);
    List<KeyedLoad.Phase> settled = new ArrayList<>();
    KeyedLoad.Phase joined =
        load.phase("joined")
            .threads(8)
            .writes(4_000)
            .within(Duration.ofSeconds(3))
            .pauseMillis(5)
            .run();
    load.settle(joined, RETRY_TIMEOUT);
    settled.add(joined);
    long joinedMillis = load.awaitExact(all, load.expected(settled), CONVERGE).toMillis();

    List<Long> converge = new ArrayList<>();
    long convergeMax = 0;
    long isolatedMax = 0;
    List<String> readiness = new ArrayList<>();
    for (int round = 1; round <= PARTITIONS; round++) {
      net.cut("a", dataPortsB);
      net.cut("b", dataPortsA);
      KeyedLoad.Running writingA = writeIn(load, "a" + round, inRegionA);
      KeyedLoad.Running writingB = writeIn(load, "b" + round, inRegionB);
      KeyedLoad.Phase onA = writingA.join();
      KeyedLoad.Phase onB = writingB.join();
      load.settle(onA, RETRY_TIMEOUT);
      load.settle(onB, RETRY_TIMEOUT);
      assertThat(onA.acknowledgedByWriters()).as("region a writes, round %d", round).isPositive();
      assertThat(onB.acknowledgedByWriters()).as("region b writes, round %d", round).isPositive();

      List<KeyedLoad.Phase> seenInA = new ArrayList<>(settled);
      seenInA.add(onA);
      List<KeyedLoad.Phase> seenInB = new ArrayList<>(settled);
      seenInB.add(onB);
      long isolated =
          Math.max(
              load.awaitExact(inRegionA, load.expected(seenInA), CONVERGE).toMillis(),
              load.awaitExact(inRegionB, load.expected(seenInB), CONVERGE).toMillis());
      isolatedMax = Math.max(isolatedMax, isolated);
      for (TallyClient client : inRegionA) {
        readiness.add(awaitReady(client, "b", "a"));
      }
      for (TallyClient client : inRegionB) {
        readiness.add(awaitReady(client, "a", "b"));
      }
      Thread.sleep(HOLD_MILLIS);
      assertThat(load.mismatches(inRegionA, load.expected(seenInA)))
          .as("region a still shows exactly its own writes, round %d", round)
          .isEmpty();
      assertThat(load.mismatches(inRegionB, load.expected(seenInB)))
          .as("region b still shows exactly its own writes, round %d", round)
          .isEmpty();

      long t0 = System.nanoTime();
      assertThat(net.heal()).as("rules removed").isEqualTo(2);
      settled.add(onA);
      settled.add(onB);
      long millis = load.awaitExact(all, load.expected(settled), CONVERGE).toMillis();
      millis = Math.max(millis, (System.nanoTime() - t0) / 1_000_000);
      converge.add(millis);
      convergeMax = Math.max(convergeMax, millis);
    }
    assertThat(net.rules()).isZero();

    KeyedLoad.Check check = load.check(all);
    long seconds = (System.nanoTime() - started) / 1_000_000_000L;
    String row =
        String.format(
            "{\"scenario\":\"two regions partitioned from each other, then healed\",\"seed\":%d,"
                + "\"runs\":%d,\"nodes_per_region\":%d,\"operations\":%d,\"acknowledged\":%d,"
                + "\"in_doubt_retried\":%d,\"lost\":%d,\"duplicated\":%d,"
                + "\"joined_convergence_ms\":%d,\"isolated_exact_ms_max\":%d,"
                + "\"convergence_ms\":%s,\"test_seconds\":%d}",
            SEED,
            PARTITIONS,
            NODES_PER_REGION,
            load.sent(),
            load.acknowledgedByWriters(),
            load.retried(),
            check.lost(),
            check.duplicated(),
            joinedMillis,
            isolatedMax,
            converge,
            seconds);
    FaultReport.write(
        "region-partition",
        row,
        String.format(
            "| 5. two regions (own Redis Cluster, %d nodes each) partitioned from each other,"
                + " writes on both sides, each side exactly its own; healed; %d times;"
                + " `--idempotency %s` (seed %d) | 1 | %d | %d | %d | %d | exact on every node of"
                + " both regions ≤ %d ms after heal |",
            NODES_PER_REGION,
            PARTITIONS,
            FaultReport.IDEMPOTENCY,
            SEED,
            load.sent(),
            load.acknowledgedByWriters(),
            check.lost(),
            check.duplicated(),
            convergeMax));
    System.out.println("readiness during the partitions: " + readiness);
    assertThat(check.lost()).as(row).isZero();
    assertThat(check.duplicated()).as(row).isZero();
    assertThat(check.inexactCounters()).as(row).isZero();
  }

  /** Writes of one region during a partition, through that region's nodes. */
  private static KeyedLoad.Running writeIn(KeyedLoad load, String phase, List<TallyClient> region) {
    return load.phase(phase)
        .on(region)
        .threads(6)
        .writes(3_000)
        .within(Duration.ofMillis(PARTITION_WRITE_MILLIS))
        .pauseMillis(5)
        .start();
  }

  private static List<Integer> dataPorts(RedisCluster redis) {
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < RedisCluster.NODES; i++) {
      ports.add(redis.port(i));
    }
    return ports;
  }

  /**
   * Polls the node's readiness until it reports region {@code cut} unreachable with a backlog above
   * 0 and region {@code home} reachable; returns the body.
   */
  private static String awaitReady(TallyClient client, String cut, String home) throws Exception {
    Pattern unreachable =
        Pattern.compile(
            "\""
                + cut
                + "\":\\{\"reachable\":false,(?:\"error\":\"(?:[^\"\\\\]|\\\\.)*\",)?\"backlog\":(\\d+)");
    String reachable = "\"" + home + "\":{\"reachable\":true";
    return Poll.until(
        "node :"
            + client.port()
            + " readiness to show region "
            + cut
            + " unreachable with a backlog and "
            + home
            + " reachable",
        Duration.ofSeconds(20),
        () -> client.get("/health/ready").body(),
        body -> {
          Matcher m = unreachable.matcher(body);
          return m.find() && Long.parseLong(m.group(1)) > 0 && body.contains(reachable);
        });
  }
}
