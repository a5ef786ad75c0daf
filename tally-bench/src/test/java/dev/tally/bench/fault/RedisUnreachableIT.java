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
import java.util.HashSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 4: the Redis Cluster becomes unreachable from every tally node for a while, then
 * comes back. {@value #NODES} nodes share one 6-process Redis Cluster; writes with idempotency keys
 * go through all nodes; then, {@link #CUTS} times, the nodes' traffic to Redis is dropped for
 * {@link #CUT_MILLIS} ms while the writes go on, and restored.
 *
 * <p>The cut: the nodes run in a cgroup of their own ({@link CgroupPartition}) and one iptables
 * rule drops every TCP packet they send over loopback to the six Redis data ports. Redis's own
 * traffic (replicas to primaries on the data ports, the cluster bus on port + 10000) comes from
 * processes outside that cgroup and is untouched: the cluster stays whole and must not fail over,
 * which the test checks (same primaries before and after). To the nodes Redis looks like a dead
 * link: commands time out ({@code --redis-timeout 2s}), no connection is refused.
 *
 * <p>Asserted: during every cut writes are still acknowledged (durable locally), and every node's
 * {@code /health/ready} reports {@code "reachable":false} with a backlog above 0; after each heal
 * every node shows exactly the distinct writes sent, within {@link #CONVERGE_MILLIS} ms (the time
 * from removing the rule to the first poll at which all nodes were exact is the convergence time
 * reported), and readiness reports Redis reachable with an empty backlog again. Writes in doubt are
 * retried, with their keys, on the node they were sent to (see {@link FaultLoad}). At the end no
 * acknowledged write is lost and none is counted twice on any node.
 *
 * <p>Seeded ({@code tally.fault.seed}). Writes its row of the reliability report to {@code
 * target/reliability/redis-unreachable.{json,md}}; node logs go to {@code
 * target/fault-logs/redis-unreachable/}. Run alone:
 *
 * <pre>
 * ./mvnw -B -pl tally-bench -am verify -Dit.test=RedisUnreachableIT -Dtest=none \
 *   -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
@Tag("fault")
class RedisUnreachableIT {

  static final long SEED = FaultReport.seed(67L);
  static final int NODES = 3;
  static final int CUTS = Integer.getInteger("tally.fault.cuts", 2);
  static final long CUT_MILLIS = Long.getLong("tally.fault.cutMillis", 8_000);
  static final long CONVERGE_MILLIS = 60_000;
  private static final Duration RETRY_TIMEOUT = Duration.ofSeconds(60);
  private static final String GROUP = "tally";
  private static final Pattern UNREACHABLE =
      Pattern.compile(
          "\"local\":\\{\"reachable\":false,(?:\"error\":\"(?:[^\"\\\\]|\\\\.)*\",)?\"backlog\":(\\d+)");
  private static final Pattern CAUGHT_UP =
      Pattern.compile("\"local\":\\{\"reachable\":true,\"backlog\":0[,}]");

  @TempDir Path tmp;

  @Test
  void redisUnreachable_writesStillAcknowledged_everyNodeExactAfterHeal() throws Exception {
    assumeTrue(RedisCluster.available(), "redis-server and redis-cli are not installed");
    assumeTrue(CgroupPartition.iptablesAvailable(), "iptables is not installed");
    long started = System.nanoTime();
    Path logs = FaultReport.logDir("redis-unreachable");
    List<NodeProcess> nodes = new ArrayList<>();
    try (RedisCluster redis = RedisCluster.start(tmp.resolve("redis"));
        CgroupPartition net = CgroupPartition.open()) {
      try {
        run(redis, net, nodes, logs, started);
      } finally {
        for (NodeProcess n : nodes) {
          n.close();
        }
      }
    }
  }

  private void run(
      RedisCluster redis, CgroupPartition net, List<NodeProcess> nodes, Path logs, long started)
      throws Exception {
    List<String> launcher = net.launcher(GROUP);
    // writes go on while Redis is away only where keys are applied without a cluster-wide claim
    FaultReport.startClusterNodes(
        launcher, tmp, logs, NODES, redis.seeds(), nodes, "--idempotency", "available");
    List<TallyClient> clients = FaultLoad.clients(nodes.stream().map(NodeProcess::port).toList());
    KeyChooser posts = new KeyChooser(KeyChooser.Kind.ZIPF, 4_000_001, 100, 1.0);
    KeyedLoad load = FaultLoad.on(clients, posts, "s" + SEED, SEED);
    List<Integer> redisPorts = new ArrayList<>();
    for (int i = 0; i < RedisCluster.NODES; i++) {
      redisPorts.add(redis.port(i));
    }
    List<Integer> primariesBefore = redis.primaries();

    List<KeyedLoad.Phase> phases = new ArrayList<>();
    KeyedLoad.Phase joined =
        load.phase("joined").threads(8).writes(4_000).within(ms(3_000)).pauseMillis(5).run();
    load.settle(joined, RETRY_TIMEOUT);
    phases.add(joined);
    load.awaitExact(clients, load.expected(phases), ms(CONVERGE_MILLIS));

    long convergeMax = 0;
    List<Long> converge = new ArrayList<>();
    long acknowledgedDuringCuts = 0;
    List<String> readiness = new ArrayList<>();
    for (int cut = 1; cut <= CUTS; cut++) {
      net.cut(GROUP, redisPorts);
      KeyedLoad.Phase during =
          load.phase("cut" + cut)
              .threads(48)
              .writes(4_000)
              .within(ms(CUT_MILLIS))
              .pauseMillis(5)
              .run();
      acknowledgedDuringCuts += during.acknowledgedByWriters();
      assertThat(during.acknowledgedByWriters())
          .as("writes acknowledged while Redis is unreachable (cut %d)", cut)
          .isGreaterThan(0);
      for (TallyClient client : clients) {
        String body = awaitReady(client, UNREACHABLE, 20_000);
        Matcher m = UNREACHABLE.matcher(body);
        assertThat(m.find()).isTrue();
        assertThat(Long.parseLong(m.group(1)))
            .as("backlog reported by node :%d during cut %d: %s", client.port(), cut, body)
            .isGreaterThan(0);
        readiness.add(body);
      }
      load.settle(during, RETRY_TIMEOUT);
      phases.add(during);

      long t0 = System.nanoTime();
      assertThat(net.heal()).as("rules removed").isEqualTo(1);
      long millis = load.awaitExact(clients, load.expected(phases), ms(CONVERGE_MILLIS)).toMillis();
      millis = Math.max(millis, (System.nanoTime() - t0) / 1_000_000);
      converge.add(millis);
      convergeMax = Math.max(convergeMax, millis);
      for (TallyClient client : clients) {
        awaitReady(client, CAUGHT_UP, 20_000);
      }
    }
    assertThat(net.rules()).isZero();
    assertThat(new HashSet<>(redis.primaries()))
        .as("the cut must not make Redis fail over")
        .isEqualTo(new HashSet<>(primariesBefore));

    KeyedLoad.Check check = load.check(clients);
    long seconds = (System.nanoTime() - started) / 1_000_000_000L;
    String row =
        String.format(
            "{\"scenario\":\"Redis unreachable from the nodes (iptables DROP), then back\","
                + "\"seed\":%d,\"runs\":%d,\"nodes\":%d,\"cut_ms\":%d,\"operations\":%d,"
                + "\"acknowledged\":%d,\"acknowledged_during_cuts\":%d,\"in_doubt_retried\":%d,"
                + "\"lost\":%d,\"duplicated\":%d,\"convergence_ms\":%s,\"test_seconds\":%d}",
            SEED,
            CUTS,
            NODES,
            CUT_MILLIS,
            load.sent(),
            load.acknowledgedByWriters(),
            acknowledgedDuringCuts,
            load.retried(),
            check.lost(),
            check.duplicated(),
            converge,
            seconds);
    FaultReport.write(
        "redis-unreachable",
        row,
        String.format(
            "| 4. Redis unreachable from %d nodes for %d s (iptables DROP), writes continue, then"
                + " back; %d times; `--idempotency available`, retries on the same node (seed %d)"
                + " | 1 | %d | %d | %d | %d | exact on every node ≤ %d ms after heal |",
            NODES,
            CUT_MILLIS / 1000,
            CUTS,
            SEED,
            load.sent(),
            load.acknowledgedByWriters(),
            check.lost(),
            check.duplicated(),
            convergeMax));
    System.out.println("readiness during the cuts: " + readiness);
    assertThat(check.lost()).as(row).isZero();
    assertThat(check.duplicated()).as(row).isZero();
    assertThat(check.inexactCounters()).as(row).isZero();
  }

  /** Polls the node's readiness until its body matches {@code expected}; returns the body. */
  private static String awaitReady(TallyClient client, Pattern expected, long timeoutMillis)
      throws Exception {
    return Poll.until(
        "node :" + client.port() + " readiness to match " + expected,
        Duration.ofMillis(timeoutMillis),
        () -> client.get("/health/ready").body(),
        body -> expected.matcher(body).find());
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }
}
