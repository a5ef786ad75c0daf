package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ConvergenceProbeTest {

  /** The probe against {@code node} for 300 ms after {@code warmup}, polling every 5 ms. */
  private static ConvergenceProbe.Result probe(
      URI node, long post, Duration warmup, Path warmupEndsWhen) throws Exception {
    return ConvergenceProbe.run(
        node,
        node,
        post,
        "likes",
        warmup,
        Duration.ofMillis(300),
        Duration.ofMillis(5),
        Duration.ofSeconds(2),
        warmupEndsWhen);
  }

  @Test
  void aCountThatIsVisibleAtOnceGivesSamplesWithoutTimeouts() throws Exception {
    // the floor answers every write and read with count 1: the write is visible on the first read
    try (HttpFloor floor = HttpFloor.start("127.0.0.1", 0)) {
      URI node = URI.create("http://127.0.0.1:" + floor.port());
      ConvergenceProbe.Result r = probe(node, 812, Duration.ofMillis(100), null);
      assertThat(r.delays().getTotalCount()).isPositive();
      assertThat(r.timeouts()).isZero();
      assertThat(r.errors()).isZero();
      assertThat(ConvergenceProbe.json(r)).startsWith("{\"samples\":").contains("\"p99_ms\":");
    }
  }

  @Test
  @Timeout(30) // without the file the probe would wait out the 60 s warm-up
  void aWarmupEndFile_startsTheKeptSamplesBeforeTheLongestWarmup() throws Exception {
    try (HttpFloor floor = HttpFloor.start("127.0.0.1", 0)) {
      URI node = URI.create("http://127.0.0.1:" + floor.port());
      Path go = Files.createTempFile("probe-go", "");
      try {
        // the file exists already: samples are kept from the first one, not after 60 s
        ConvergenceProbe.Result r = probe(node, 813, Duration.ofSeconds(60), go);
        assertThat(r.delays().getTotalCount()).isPositive();
        assertThat(r.timeouts()).isZero();
      } finally {
        Files.deleteIfExists(go);
      }
    }
  }
}
