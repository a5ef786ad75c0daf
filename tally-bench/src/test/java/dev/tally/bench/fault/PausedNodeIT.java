package dev.tally.bench.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.bench.KeyChooser;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 7: a node paused ({@code SIGSTOP}) for longer than the idempotency claim lease
 * while it holds claims and unpushed writes, retries of its writes sent to the other nodes
 * meanwhile, then resumed ({@code SIGCONT}). Run once per idempotency mode.
 *
 * <p>{@value #NODES} nodes share one 6-process Redis Cluster, with {@code --idempotency-lease}
 * {@value #LEASE}. After a warm-up phase, a keyed load of {@value #VICTIM_THREADS} threads goes to
 * one node (picked by the seed), which is paused a second later for {@link #PAUSE_MILLIS} ms, while
 * a lighter load goes on through the other two. Once the pause has outlasted the lease, every write
 * sent to the paused node and still unanswered is retried, with its key, on another node, again and
 * again until that node answers 200 or the pause ends; how often each status came back is reported.
 * Then the node is resumed, every write left in doubt is retried on the node it was sent to, and
 * every node's counts are compared with the history.
 *
 * <ul>
 *   <li>{@code --idempotency strict}: a claim the paused node holds is never taken over (409
 *       elsewhere); required: nothing lost, nothing counted twice, every node exact.
 *   <li>{@code --idempotency available}: once the lease ends another node claims the key and
 *       applies the write, and the paused node applies it too when it resumes: the duplicates are
 *       reported, not asserted; required: nothing lost, the nodes agree.
 * </ul>
 *
 * <p>Seeded ({@code tally.fault.seed}). Writes its rows of the reliability report to {@code
 * target/reliability/paused-node-{strict,available}.{json,md}}; node logs go to {@code
 * target/fault-logs/paused-node-*}.
 */
@Tag("fault")
class PausedNodeIT {

  static final long SEED = FaultReport.seed(73L);
  static final int NODES = 3;
  static final String LEASE = "2s";
  static final long LEASE_MILLIS = 2_000;
  static final long PAUSE_MILLIS = Long.getLong("tally.fault.pauseMillis", 6_000);
  static final int VICTIM_THREADS = 32;
  static final long CONVERGE_MILLIS = 60_000;
  private static final Duration CONVERGE = Duration.ofMillis(CONVERGE_MILLIS);
  private static final Duration RETRY_TIMEOUT = Duration.ofSeconds(60);

  @TempDir Path tmp;

  @Test
  void strict_aNodePausedPastTheLease_nothingIsAppliedTwice() throws Exception {
    run("strict");
  }

  @Test
  void available_aNodePausedPastTheLease_duplicatesAreReported_nothingLost() throws Exception {
    run("available");
  }

  private void run(String mode) throws Exception {
    assumeTrue(RedisCluster.available(), "redis-server and redis-cli are not installed");
    long started = System.nanoTime();
    Path logs = FaultReport.logDir("paused-node-" + mode);
    KeyChooser posts = new KeyChooser(KeyChooser.Kind.ZIPF, 7_000_001, 100, 1.0);
    Random random = new Random(SEED);
    List<NodeProcess> nodes = new ArrayList<>();
    try (RedisCluster redis = RedisCluster.start(tmp.resolve("redis-" + mode))) {
      try {
        FaultReport.startClusterNodes(
            List.of(),
            tmp.resolve(mode),
            logs,
            NODES,
            redis.seeds(),
            nodes,
            "--idempotency",
            mode,
            "--idempotency-lease",
            LEASE);
        List<TallyClient> clients =
            FaultLoad.clients(nodes.stream().map(NodeProcess::port).toList());
        KeyedLoad load = FaultLoad.on(clients, posts, mode.charAt(0) + "p" + SEED, SEED);
        int victimIndex = random.nextInt(NODES);
        NodeProcess victim = nodes.get(victimIndex);
        TallyClient victimClient = clients.get(victimIndex);
        List<TallyClient> others = clients.stream().filter(c -> c != victimClient).toList();

        KeyedLoad.Phase warm =
            load.phase("warm")
                .threads(8)
                .writes(2_000)
                .within(Duration.ofSeconds(2))
                .pauseMillis(2)
                .run();
        load.settle(warm, RETRY_TIMEOUT);
        load.awaitExact(clients, load.expected(List.of(warm)), CONVERGE);

        KeyedLoad.Running onVictim =
            load.phase("paused")
                .on(List.of(victimClient))
                .threads(VICTIM_THREADS)
                .writes(50_000)
                .within(Duration.ofSeconds(60))
                .start();
        Thread.sleep(1_000);
        signal(victim, "STOP");
        long pausedAt = System.nanoTime();
        KeyedLoad.Running meanwhile =
            load.phase("meanwhile")
                .on(others)
                .threads(4)
                .writes(4_000)
                .within(Duration.ofMillis(PAUSE_MILLIS))
                .pauseMillis(5)
                .start();
        Thread.sleep(LEASE_MILLIS + 500);
        long left = PAUSE_MILLIS - (System.nanoTime() - pausedAt) / 1_000_000;
        Map<Integer, Integer> elsewhere =
            load.retryElsewhere(onVictim.phase(), others, Duration.ofMillis(left));
        long inDoubtAtResume = onVictim.phase().inDoubt();
        signal(victim, "CONT");
        long resumedAt = System.nanoTime();

        // the victim's writers stop at their time bound; a short one would end them mid-pause
        KeyedLoad.Phase paused = stopAfter(onVictim, 2_000);
        KeyedLoad.Phase during = meanwhile.join();
        load.settle(paused, RETRY_TIMEOUT);
        load.settle(during, RETRY_TIMEOUT);
        List<KeyedLoad.Phase> phases = List.of(warm, paused, during);
        long convergeMillis =
            mode.equals("strict")
                ? load.awaitExact(clients, load.expected(phases), CONVERGE).toMillis()
                : load.awaitAgreement(clients, CONVERGE).toMillis();
        long sinceResume = (System.nanoTime() - resumedAt) / 1_000_000;
        KeyedLoad.Check check = load.check(clients);
        report(mode, load, check, elsewhere, inDoubtAtResume, sinceResume, convergeMillis, started);

        assertThat(check.lost()).as("acknowledged writes lost (%s)", mode).isZero();
        if (mode.equals("strict")) {
          assertThat(check.duplicated()).as("writes applied twice (strict)").isZero();
          assertThat(check.inexactCounters()).isZero();
          assertThat(elsewhere.getOrDefault(409, 0) + elsewhere.getOrDefault(200, 0))
              .as("retries elsewhere were answered (409 while held, 200 once free)")
              .isPositive();
        }
      } finally {
        for (NodeProcess n : nodes) {
          signal(n, "CONT");
          n.close();
        }
      }
    }
  }

  /** Lets a running phase write {@code millis} more, then waits for it to end. */
  private static KeyedLoad.Phase stopAfter(KeyedLoad.Running running, long millis)
      throws InterruptedException {
    Thread.sleep(millis);
    return running.stop();
  }

  private static void signal(NodeProcess node, String signal)
      throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-" + signal, Long.toString(node.pid()))
            .redirectErrorStream(true)
            .start();
    if (!kill.waitFor(10, TimeUnit.SECONDS)) {
      kill.destroyForcibly();
      throw new IllegalStateException("kill -" + signal + " did not finish");
    }
  }

  private static void report(
      String mode,
      KeyedLoad load,
      KeyedLoad.Check check,
      Map<Integer, Integer> elsewhere,
      long inDoubtAtResume,
      long sinceResume,
      long convergeMillis,
      long started)
      throws IOException {
    long seconds = (System.nanoTime() - started) / 1_000_000_000L;
    String json =
        String.format(
            "{\"scenario\":\"node paused past the claim lease, retries elsewhere\","
                + "\"idempotency\":\"%s\",\"seed\":%d,\"nodes\":%d,\"lease_ms\":%d,"
                + "\"pause_ms\":%d,\"operations\":%d,\"acknowledged\":%d,"
                + "\"in_doubt_at_resume\":%d,\"retries_elsewhere_by_status\":\"%s\","
                + "\"lost\":%d,\"duplicated\":%d,\"converged_ms_after_resume\":%d,"
                + "\"test_seconds\":%d}",
            mode,
            SEED,
            NODES,
            LEASE_MILLIS,
            PAUSE_MILLIS,
            load.sent(),
            load.acknowledgedByWriters(),
            inDoubtAtResume,
            elsewhere,
            check.lost(),
            check.duplicated(),
            Math.max(sinceResume, convergeMillis),
            seconds);
    FaultReport.write(
        "paused-node-" + mode,
        json,
        String.format(
            "| 7. one of %d nodes paused (SIGSTOP) %d s, past a %d s claim lease, under keyed"
                + " load; its writes retried on another node meanwhile; resumed;"
                + " `--idempotency %s` (seed %d) | %d | %d | %d | %d | %d | retries elsewhere"
                + " answered %s (status=times); exact on every node ≤ %d ms after resume |",
            NODES,
            PAUSE_MILLIS / 1000,
            LEASE_MILLIS / 1000,
            mode,
            SEED,
            1,
            load.sent(),
            load.acknowledgedByWriters(),
            check.lost(),
            check.duplicated(),
            elsewhere,
            Math.max(sinceResume, convergeMillis)));
  }
}
