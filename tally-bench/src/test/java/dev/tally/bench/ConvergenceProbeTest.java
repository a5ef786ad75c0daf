package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

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
              Duration.ofSeconds(2));
      assertThat(r.delays().getTotalCount()).isPositive();
      assertThat(r.timeouts()).isZero();
      assertThat(r.errors()).isZero();
      assertThat(ConvergenceProbe.json(r)).startsWith("{\"samples\":").contains("\"p99_ms\":");
    }
  }
}
