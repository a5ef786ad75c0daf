package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ConvergenceProbeTest {

  @Test
  void aCountThatIsVisibleAtOnceGivesSamplesWithoutTimeouts() throws Exception {
    // the floor answers every write and read with count 1: the write is visible on the first read
    try (HttpFloor floor = HttpFloor.start("127.0.0.1", 0)) {
      URI node = URI.create("http://127.0.0.1:" + floor.port());
      ConvergenceProbe.Result r =
          ConvergenceProbe.run(
              node,
              node,
              812,
              "likes",
              Duration.ofMillis(100),
              Duration.ofMillis(300),
              Duration.ofMillis(5),
              Duration.ofSeconds(2),
              null);
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
        ConvergenceProbe.Result r =
            ConvergenceProbe.run(
                node,
                node,
                813,
                "likes",
                Duration.ofSeconds(60),
                Duration.ofMillis(300),
                Duration.ofMillis(5),
                Duration.ofSeconds(2),
                go);
        assertThat(r.delays().getTotalCount()).isPositive();
        assertThat(r.timeouts()).isZero();
      } finally {
        Files.deleteIfExists(go);
      }
    }
  }
}
