package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FsyncProbeTest {

  @TempDir Path dir;

  @Test
  void syncsAtTheScheduledRateAndLeavesNoFileBehind() throws Exception {
    Histogram h = FsyncProbe.run(dir, 200, Duration.ofMillis(250), 64);
    // one sync per 5 ms slot of the 250 ms window, each timed
    assertThat(h.getTotalCount()).isEqualTo(50);
    assertThat(h.getMinValue()).isPositive();
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }
}
