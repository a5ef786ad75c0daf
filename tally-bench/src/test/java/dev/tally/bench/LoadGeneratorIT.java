package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.Tally;
import dev.tally.config.TallyConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The load generator and its history check against a real node, briefly. */
class LoadGeneratorIT {

  @TempDir Path dir;

  private static String[] args(int port, String... more) {
    String[] base = {
      "--target",
      "127.0.0.1:" + port,
      "--connections",
      "8",
      "--duration",
      "1500ms",
      "--warmup",
      "300ms"
    };
    String[] all = new String[base.length + more.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  @Test
  void writeAndBatchRuns_passTheExactnessCheck() throws Exception {
    try (Tally node =
        Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC())) {
      LoadGenerator.Outcome single =
          LoadGenerator.run(
              args(
                  node.port(),
                  "--workload",
                  "write",
                  "--keys",
                  "zipf",
                  "--posts",
                  "200",
                  "--first-post",
                  "1000",
                  "--check"));
      assertThat(single.ok()).as(single.json()).isTrue();
      assertThat(single.json())
          .contains("\"check_lost\":0")
          .contains("\"check_duplicated\":0")
          .contains("\"status_5xx\":0");

      LoadGenerator.Outcome batch =
          LoadGenerator.run(
              args(
                  node.port(),
                  "--workload",
                  "batch",
                  "--batch-size",
                  "50",
                  "--keys",
                  "uniform",
                  "--posts",
                  "300",
                  "--first-post",
                  "5000",
                  "--check"));
      assertThat(batch.ok()).as(batch.json()).isTrue();
      assertThat(batch.json()).matches(".*\"items_per_s\":[1-9].*");
    }
  }

  @Test
  void readsAndMix_reportLatencies() throws Exception {
    try (Tally node =
        Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC())) {
      long before = System.currentTimeMillis();
      LoadGenerator.Outcome mix =
          LoadGenerator.run(
              args(
                  node.port(),
                  "--workload",
                  "mix",
                  "--keys",
                  "uniform",
                  "--posts",
                  "1000",
                  "--rate",
                  "2000",
                  "--timeline",
                  dir.resolve("timeline.tsv").toString()));
      assertThat(mix.json())
          .contains("\"read_latency\"")
          .contains("\"write_latency\"")
          .contains("\"status_4xx\":0");
      // a row per 100 ms of the window, and together they hold every answer the report counts
      List<String> rows = Files.readAllLines(dir.resolve("timeline.tsv"));
      assertThat(rows.getFirst()).isEqualTo("t_s\tanswers\tmax_ms\tunix_ms");
      long answers = 0;
      for (String row : rows.subList(1, rows.size())) {
        String[] f = row.split("\t");
        answers += Long.parseLong(f[1]);
        assertThat(Double.parseDouble(f[2])).isGreaterThan(0);
        assertThat(Long.parseLong(f[3])).isBetween(before, System.currentTimeMillis());
      }
      assertThat(rows).hasSize(1 + 15); // 1500 ms
      assertThat(mix.json()).contains("\"requests\":" + answers + ",");
    }
  }

  @Test
  void warmupUntil_theFileStartsTheWindow_beforeTheLongestWarmup() throws Exception {
    try (Tally node =
        Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC())) {
      Path go = dir.resolve("go");
      long[] createdAt = new long[1];
      Thread starter =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      Thread.sleep(700);
                      createdAt[0] = System.currentTimeMillis();
                      Files.createFile(go);
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  });
      LoadGenerator.Outcome run =
          LoadGenerator.run(
              new String[] {
                "--target", "127.0.0.1:" + node.port(),
                "--connections", "4",
                "--warmup", "90s",
                "--warmup-until", go.toString(),
                "--duration", "800ms",
                "--workload", "write",
                "--keys", "uniform",
                "--posts", "100"
              });
      starter.join();
      Matcher start = Pattern.compile("\"window_start_epoch_ms\":(\\d+)").matcher(run.json());
      assertThat(start.find()).as(run.json()).isTrue();
      // the window opened when the file appeared, not after the longest warm-up (90 s)
      assertThat(Long.parseLong(start.group(1))).isBetween(createdAt[0] - 5, createdAt[0] + 60_000);
      assertThat(run.json()).matches(".*\"requests\":[1-9].*").contains("\"status_5xx\":0");
    }
  }
}
