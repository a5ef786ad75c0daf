package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.KeyedLoad;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
    crashRounds(20261123L, committers, false);
  }

  /**
   * The same with the write-ahead log bounded at 1 MiB, so that the store flushes and switches logs
   * many times a round and writes its later logs over earlier ones' files (StoreLayout): the
   * crashes hit reused logs, whose tails still hold an earlier log's records. Batch writes over
   * {@link SpreadBatches#POSTS} other posts fill the logs beside the keyed load.
   */
  @Test
  void kill9_withLogsWrittenOverEarlierOnes_losesNoAcknowledgedWrite() throws Exception {
    crashRounds(20261206L, "1", true, "--wal-limit-mb", "1");
    // RocksDB's info log, one per start of the store (the killed ones renamed LOG.old.*), says
    // when the store wrote a log over an earlier one's file
    List<String> killed = new ArrayList<>();
    List<String> reused = new ArrayList<>();
    try (var files = Files.list(tmp.resolve("data").resolve("store"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith("LOG.old")).toList()) {
        killed.add(f.getFileName().toString());
        if (Files.readString(f, StandardCharsets.ISO_8859_1).contains("reusing log")) {
          reused.add(f.getFileName().toString());
        }
      }
    }
    assertThat(killed).hasSize(KILLS);
    assertThat(reused)
        .as("killed starts of the store that had written a log over an earlier one's file")
        .containsExactlyInAnyOrderElementsOf(killed);
  }

  private void crashRounds(long seed, String committers, boolean fill, String... extraArgs)
      throws Exception {
    Path data = tmp.resolve("data");
    Path log = tmp.resolve("node.log");
    Random seedSource = new Random(seed);
    List<String> argList = new ArrayList<>(List.of("--committers", committers));
    argList.addAll(List.of(extraArgs));
    String[] args = argList.toArray(String[]::new);
    NodeProcess[] node = {NodeProcess.start(data, log, args)};
    assertThat(Files.readString(log)).contains(" committers=" + committers);
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
    List<SpreadBatches> batches = new ArrayList<>();
    try {
      for (int round = 0; round < KILLS; round++) {
        // bounded: 20,000 writes per client and round
        KeyedLoad.Running writing =
            load.phase("r" + round).threads(CLIENTS).writes(CLIENTS * 20_000).start();
        SpreadBatches filler = fill ? SpreadBatches.start(node[0].port()) : null;
        // longer rounds where batches fill the logs: several log switches in each
        Thread.sleep((fill ? 3_500 : 1_500) + seedSource.nextInt(1_000));
        node[0].kill();
        writing.stop();
        if (filler != null) {
          filler.stop();
        }
        node[0] = NodeProcess.start(data, log, args);
        TallyClient check = new TallyClient(node[0].port());
        if (filler != null) {
          batches.add(filler);
          long acknowledged = batches.stream().mapToLong(b -> b.acknowledged).sum();
          long sent = batches.stream().mapToLong(b -> b.sent).sum();
          for (long post : new long[] {SpreadBatches.FIRST, SpreadBatches.FIRST + 517}) {
            // each batch adds one to every one of its posts; unkeyed, a batch in doubt may or may
            // not have been applied
            assertThat(check.count(post, "views"))
                .as(
                    "post %d: one per acknowledged batch at least, one per batch sent at most",
                    post)
                .isBetween(acknowledged, sent);
          }
        }

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
    Path jvmTmp = Files.createDirectories(tmp.resolve("jvm-tmp"));
    List<String> launcher = List.of("env", "JAVA_TOOL_OPTIONS=-Djava.io.tmpdir=" + jvmTmp);
    for (int start = 0; start < 3; start++) {
      NodeProcess node = NodeProcess.start(launcher, data, tmp.resolve("node3.log"));
      assertThat(new TallyClient(node.port()).write(4, "likes", "increment", null).statusCode())
          .isEqualTo(200);
      node.kill();
    }
    try (var left = Files.list(jvmTmp)) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .as("what the killed nodes left in their temporary directory")
          .isEmpty();
    }
    try (var lib = Files.list(data.resolve("native"))) {
      assertThat(lib.map(p -> p.getFileName().toString()))
          .containsExactly("librocksdbjni-linux64.so");
    }
  }

  /**
   * One thread sending batch writes, one increment of "views" on each of {@link #POSTS} posts per
   * batch, until stopped or {@link #MAX_BATCHES}: what fills the write-ahead log quickly.
   */
  private static final class SpreadBatches {
    static final long FIRST = 1_000;
    static final int POSTS = 1_000;
    static final int MAX_BATCHES = 20_000;
    static final String BODY;

    static {
      StringBuilder b = new StringBuilder("{\"writes\":[");
      for (int i = 0; i < POSTS; i++) {
        b.append(i == 0 ? "" : ",")
            .append("{\"post_id\":")
            .append(FIRST + i)
            .append(",\"counter\":\"views\",\"action\":\"increment\"}");
      }
      BODY = b.append("]}").toString();
    }

    private final Thread thread;
    private volatile boolean stopped;
    volatile long sent;
    volatile long acknowledged;

    private SpreadBatches(TallyClient client) {
      this.thread = new Thread(() -> run(client), "spread-batches");
    }

    static SpreadBatches start(int port) {
      SpreadBatches s = new SpreadBatches(new TallyClient(port, Duration.ofSeconds(5)));
      s.thread.start();
      return s;
    }

    private void run(TallyClient client) {
      while (!stopped && sent < MAX_BATCHES) {
        sent++;
        try {
          if (client.send("POST", "/v1/counts", BODY).statusCode() == 200) {
            acknowledged++;
          }
        } catch (IOException e) {
          return; // the node is gone
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    void stop() throws InterruptedException {
      stopped = true;
      thread.join(10_000);
      assertThat(thread.isAlive()).as("the batch writer stopped").isFalse();
    }
  }
}
