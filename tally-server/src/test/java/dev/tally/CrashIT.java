package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kill -9 of a real node process under write load ({@link KeyedLoad}). Every write carries a unique
 * idempotency key and the history records each one as acknowledged (200) or in doubt (no answer).
 * After each crash the node restarts on the same data dir, and the check is exact: every
 * acknowledged write is there (its key is known and replays), and after clients retry their
 * in-doubt writes with the same keys, every counter equals the number of distinct writes sent to
 * it.
 */
class CrashIT {

  private static final String[] COUNTERS = {"likes", "views"};
  private static final int POSTS = 5;
  private static final int CLIENTS = 12;
  private static final int KILLS = 3;

  @TempDir Path tmp;

  /** With one committer, and with three, each owning a third of the counters. */
  @ParameterizedTest(name = "committers={0}")
  @ValueSource(strings = {"1", "3"})
  void kill9_underLoad_losesNoAcknowledgedWrite_andRetriesMakeTotalsExact(String committers)
      throws Exception {
    Path data = tmp.resolve("data");
    Path log = tmp.resolve("node.log");
    Random seedSource = new Random(20261123L);
    String[] args = {"--committers", committers};
    NodeProcess[] node = {NodeProcess.start(data, log, args)};
    assertThat(java.nio.file.Files.readString(log)).contains(" committers=" + committers);
    Map<Integer, TallyClient> clients = new ConcurrentHashMap<>();
    long[] posts = new long[POSTS];
    for (int i = 0; i < POSTS; i++) {
      posts[i] = 1 + i;
    }
    KeyedLoad load =
        KeyedLoad.builder("crash", seedSource.nextLong())
            .nodes(() -> List.of(clients.computeIfAbsent(node[0].port(), TallyClient::new)))
            .posts(posts)
            .counters(List.of(COUNTERS))
            .build();
    try {
      for (int round = 0; round < KILLS; round++) {
        // bounded: 20,000 writes per client and round
        KeyedLoad.Running writing =
            load.phase("r" + round).threads(CLIENTS).writes(CLIENTS * 20_000).start();
        Thread.sleep(1_500 + seedSource.nextInt(1_000));
        node[0].kill();
        writing.stop();
        node[0] = NodeProcess.start(data, log, args);
        TallyClient check = new TallyClient(node[0].port());

        // every acknowledged write survived
        for (Map.Entry<String, Long> e : load.acknowledgedTotals().entrySet()) {
          String[] pc = e.getKey().split("/");
          assertThat(check.count(Long.parseLong(pc[0]), pc[1]))
              .as("counter %s holds every acknowledged increment", e.getKey())
              .isGreaterThanOrEqualTo(e.getValue());
        }
      }
      int acknowledgedBeforeRetries = load.acknowledged();
      // acknowledged writes replay instead of applying again: their keys survived the crashes
      assertThat(load.resendAcknowledged())
          .as("acknowledged writes known after the crashes")
          .isEqualTo(acknowledgedBeforeRetries);
      // clients retry everything in doubt, with the same keys; then every total is exact
      load.settle(Duration.ofSeconds(60));
      assertThat(load.anomalies()).isEmpty();
      assertThat(load.acknowledged()).isEqualTo(load.sent());
      load.awaitEverywhere(Duration.ofSeconds(5));
      System.out.printf(
          "crash history (committers=%s): kills=%d attempted=%d acknowledged=%d in-doubt=%d lost=0"
              + " duplicated=0%n",
          committers,
          KILLS,
          load.sent(),
          acknowledgedBeforeRetries,
          load.sent() - acknowledgedBeforeRetries);
      assertThat(acknowledgedBeforeRetries)
          .as("the load acknowledged writes")
          .isGreaterThan(KILLS * 100);
    } finally {
      node[0].close();
    }
  }

  @Test
  void sigterm_stopsCleanly_andKeepsEveryAcknowledgedWrite() throws Exception {
    Path data = tmp.resolve("data2");
    NodeProcess node = NodeProcess.start(data, tmp.resolve("node2.log"));
    TallyClient client = new TallyClient(node.port());
    for (int i = 0; i < 100; i++) {
      assertThat(client.write(3, "likes", "increment", null).statusCode()).isEqualTo(200);
    }
    assertThat(node.stop()).as("exit code after SIGTERM").isZero();
    node = NodeProcess.start(data, tmp.resolve("node2.log"));
    try {
      assertThat(new TallyClient(node.port()).count(3, "likes")).isEqualTo(100);
    } finally {
      node.close();
    }
  }

  @Test
  void kill9_leavesNothingInTmp_andOneNativeLibraryInTheDataDir() throws Exception {
    Path data = tmp.resolve("data3");
    Path jvmTmp = java.nio.file.Files.createDirectories(tmp.resolve("jvm-tmp"));
    List<String> launcher = List.of("env", "JAVA_TOOL_OPTIONS=-Djava.io.tmpdir=" + jvmTmp);
    for (int start = 0; start < 3; start++) {
      NodeProcess node = NodeProcess.start(launcher, data, tmp.resolve("node3.log"));
      assertThat(new TallyClient(node.port()).write(4, "likes", "increment", null).statusCode())
          .isEqualTo(200);
      node.kill();
    }
    try (var left = java.nio.file.Files.list(jvmTmp)) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .as("what the killed nodes left in their temporary directory")
          .isEmpty();
    }
    try (var lib = java.nio.file.Files.list(data.resolve("native"))) {
      assertThat(lib.map(p -> p.getFileName().toString()))
          .containsExactly("librocksdbjni-linux64.so");
    }
  }
}
