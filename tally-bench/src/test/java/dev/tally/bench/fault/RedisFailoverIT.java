package dev.tally.bench.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.bench.KeyChooser;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 3: a Redis primary killed (SIGKILL) under load; its replica takes over. {@value
 * #NODES} tally nodes share one 6-process Redis Cluster ({@code cluster-node-timeout} 2 s); writes
 * with idempotency keys go through all nodes while, {@value #KILLS} times, a primary picked with
 * the seed is killed in the middle of the load. A primary that dies may take its last
 * asynchronously replicated writes with it: the nodes see the primaries change and push every
 * counter again, so the totals must come back exact without anyone's help.
 *
 * <p>Asserted: writes are acknowledged throughout (the nodes' stores take them while the shard is
 * without a primary); after each kill a replica becomes primary; after the load every node shows
 * exactly the distinct writes sent; nothing acknowledged is lost, nothing counted twice. The
 * convergence time reported is from the end of the load after a kill to the first poll at which
 * every node was exact. Writes its row to {@code target/reliability/redis-failover.{json,md}}.
 */
@Tag("fault")
class RedisFailoverIT {

  static final long SEED = FaultReport.seed(83L);
  static final int NODES = 3;
  static final int KILLS = 2;
  static final long CONVERGE_MILLIS = 60_000;
  private static final Duration CONVERGE = Duration.ofMillis(CONVERGE_MILLIS);
  private static final Duration RETRY_TIMEOUT = Duration.ofSeconds(60);

  @TempDir Path tmp;

  @Test
  void primaryKilledUnderLoad_everyNodeExactAfterFailover() throws Exception {
    assumeTrue(RedisCluster.available(), "redis-server and redis-cli are not installed");
    long started = System.nanoTime();
    Path logs = FaultReport.logDir("redis-failover");
    KeyChooser posts = new KeyChooser(KeyChooser.Kind.ZIPF, 5_000_001, 200, 1.0);
    SplittableRandom pick = new SplittableRandom(SEED);
    List<NodeProcess> nodes = new ArrayList<>();
    try (RedisCluster redis = RedisCluster.start(tmp.resolve("redis"))) {
      try {
        FaultReport.startClusterNodes(List.of(), tmp, logs, NODES, redis.seeds(), nodes);
        List<TallyClient> clients =
            FaultLoad.clients(nodes.stream().map(NodeProcess::port).toList());
        KeyedLoad load = FaultLoad.on(clients, posts, "f" + SEED, SEED);
        List<KeyedLoad.Phase> phases = new ArrayList<>();
        List<Long> converge = new ArrayList<>();
        long convergeMax = 0;
        for (int kill = 1; kill <= KILLS; kill++) {
          // only a primary with a live replica can fail over
          List<Integer> primaries = new ArrayList<>();
          for (int port : redis.primaries()) {
            if (redis.cli(port, "info", "replication").contains("connected_slaves:1")) {
              primaries.add(port);
            }
          }
          assertThat(primaries).as("primaries with a replica").isNotEmpty();
          int victim = primaries.get(pick.nextInt(primaries.size()));
          KeyedLoad.Running running =
              load.phase("kill" + kill)
                  .threads(8)
                  .writes(6_000)
                  .within(Duration.ofSeconds(7))
                  .pauseMillis(2)
                  .start();
          Thread.sleep(1_500 + pick.nextInt(1_000));
          redis.kill(victim - redis.port(0));
          KeyedLoad.Phase phase = running.join();
          assertThat(phase.acknowledgedByWriters())
              .as("writes acknowledged around the failover (kill %d)", kill)
              .isGreaterThan(0);
          redis.awaitOk();
          assertThat(redis.primaries()).as("a replica took over").hasSize(3);
          load.settle(phase, RETRY_TIMEOUT);
          phases.add(phase);
          long t0 = System.nanoTime();
          long millis = load.awaitExact(clients, load.expected(phases), CONVERGE).toMillis();
          millis = Math.max(millis, (System.nanoTime() - t0) / 1_000_000);
          converge.add(millis);
          convergeMax = Math.max(convergeMax, millis);
        }
        KeyedLoad.Check check = load.check(clients);
        long seconds = (System.nanoTime() - started) / 1_000_000_000L;
        String row =
            String.format(
                "{\"scenario\":\"Redis primary killed under load (replica failover)\","
                    + "\"seed\":%d,\"runs\":%d,\"nodes\":%d,\"operations\":%d,"
                    + "\"acknowledged\":%d,\"in_doubt_retried\":%d,\"lost\":%d,\"duplicated\":%d,"
                    + "\"convergence_ms\":%s,\"test_seconds\":%d}",
                SEED,
                KILLS,
                NODES,
                load.sent(),
                load.acknowledgedByWriters(),
                load.retried(),
                check.lost(),
                check.duplicated(),
                converge,
                seconds);
        FaultReport.write(
            "redis-failover",
            row,
            String.format(
                "| 3. Redis primary killed under load, replica takes over, %d nodes writing; %d"
                    + " times; `--idempotency %s` (seed %d) | 1 | %d | %d | %d | %d | exact on"
                    + " every node ≤ %d ms after the load |",
                NODES,
                KILLS,
                FaultReport.IDEMPOTENCY,
                SEED,
                load.sent(),
                load.acknowledgedByWriters(),
                check.lost(),
                check.duplicated(),
                convergeMax));
        assertThat(check.lost()).as(row).isZero();
        assertThat(check.duplicated()).as(row).isZero();
        assertThat(check.inexactCounters()).as(row).isZero();
      } finally {
        for (NodeProcess n : nodes) {
          n.close();
        }
      }
    }
  }
}
