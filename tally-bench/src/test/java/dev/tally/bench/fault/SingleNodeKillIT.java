package dev.tally.bench.fault;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.bench.History;
import dev.tally.bench.KeyChooser;
import dev.tally.bench.LoadEngine;
import dev.tally.bench.LoadGenerator;
import dev.tally.bench.Workload;
import dev.tally.testing.NodeProcess;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault scenario 1: kill -9 of a single node under write load, restarted on the same data
 * directory, {@value #KILLS} times in a row. Every increment carries an idempotency key and the
 * {@link History} records it as acknowledged or in doubt; at the end the in-doubt ones are retried
 * with their keys and every counter must equal the distinct increments sent: nothing acknowledged
 * lost, nothing counted twice. Seeded (system property {@code tally.fault.seed}): a failing run can
 * be replayed. Writes its row of the reliability report to {@code
 * target/reliability/single-node-kill9.json}.
 */
@Tag("fault")
class SingleNodeKillIT {

  static final int KILLS = Integer.getInteger("tally.fault.kills", 20);
  static final long SEED = FaultReport.seed(61L);

  @TempDir Path tmp;

  @Test
  void kill9_repeatedUnderLoad_losesNothingAcknowledged_andRetriesMakeItExact() throws Exception {
    Path data = tmp.resolve("data");
    Path log = tmp.resolve("node.log");
    Random random = new Random(SEED);
    KeyChooser keys = new KeyChooser(KeyChooser.Kind.ZIPF, 1, 500, 1.0);
    History history = new History();
    long restartMillisMax = 0;
    NodeProcess node = NodeProcess.start(data, log);
    try {
      for (int round = 0; round < KILLS; round++) {
        Workload workload =
            new Workload(
                Workload.Kind.WRITE,
                keys,
                "likes",
                0,
                1,
                true,
                "s" + SEED + "r" + round,
                "127.0.0.1",
                Workload.Protocol.HTTP);
        long runMillis = 1_500;
        LoadEngine engine =
            new LoadEngine(
                new LoadEngine.Settings(
                    List.of(new InetSocketAddress("127.0.0.1", node.port())),
                    16,
                    1,
                    0,
                    runMillis * 1_000_000L,
                    0,
                    random.nextLong(),
                    null),
                workload,
                history);
        long killAt = 300 + random.nextInt((int) runMillis - 600);
        NodeProcess victim = node;
        Thread killer =
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        Thread.sleep(killAt);
                        victim.kill();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    });
        engine.run();
        killer.join();
        long t0 = System.nanoTime();
        node = NodeProcess.start(data, log);
        restartMillisMax = Math.max(restartMillisMax, (System.nanoTime() - t0) / 1_000_000);
      }
      Map<String, Object> report = new LinkedHashMap<>();
      boolean exact =
          LoadGenerator.check(
              "http://127.0.0.1:" + node.port(), keys, "likes", history, Map.of(), report);
      String row =
          String.format(
              "{\"scenario\":\"kill -9 of a single node under load, restart\",\"seed\":%d,\"runs\":%d,"
                  + "\"operations\":%d,\"acknowledged\":%d,\"in_doubt_retried\":%s,\"lost\":%s,"
                  + "\"duplicated\":%s,\"recovery\":\"restart to ready <= %d ms\"}",
              SEED,
              KILLS,
              history.attempted(),
              history.acknowledgedCount(),
              report.get("check_in_doubt_retried"),
              report.get("check_lost"),
              report.get("check_duplicated"),
              restartMillisMax);
      Path out = Path.of("target", "reliability");
      Files.createDirectories(out);
      Files.writeString(out.resolve("single-node-kill9.json"), row + "\n");
      Files.writeString(
          out.resolve("single-node-kill9.md"),
          String.format(
              "| 1. kill -9 of a single node under load, restart; %d times (seed %d) | 1 | %d | %d | %s | %s | restart to ready ≤ %d ms |%n",
              KILLS,
              SEED,
              history.attempted(),
              history.acknowledgedCount(),
              report.get("check_lost"),
              report.get("check_duplicated"),
              restartMillisMax));
      System.out.println("reliability: " + row);
      assertThat(exact).as(row).isTrue();
      assertThat(report.get("check_lost")).isEqualTo(0L);
      assertThat(report.get("check_duplicated")).isEqualTo(0L);
      assertThat(history.acknowledgedCount())
          .as("the load got writes acknowledged")
          .isGreaterThan(KILLS * 50L);
      assertThat(history.inDoubt()).as("kills left writes in doubt").isNotEmpty();
    } finally {
      node.close();
    }
  }
}
