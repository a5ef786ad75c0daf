package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.config.TallyConfig;
import dev.tally.testing.Poll;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fault scenario 6: the data disk fills up under a node. Writes must stop being acknowledged (503,
 * retriable), readiness must drop and reads keep working; nothing acknowledged may be lost; once
 * space returns the node must take writes again by itself (no restart), the refused writes retried
 * with their keys must land exactly once, and a restart afterwards keeps everything. The disk is a
 * size-limited tmpfs mounted for the test (needs root, as CI has).
 */
@Tag("fault")
class DiskFullIT {

  @TempDir Path tmp;

  private static TallyConfig config(Path data, String committers) {
    return TallyConfig.parse(
        new String[] {"--port", "0", "--data-dir", data.toString(), "--committers", committers},
        java.util.Map.of());
  }

  private static final int POSTS = 6; // spread over the committers

  private static long post(int i) {
    return 1 + i % POSTS;
  }

  private static long total(TallyClient c) throws Exception {
    long sum = 0;
    for (int p = 1; p <= POSTS; p++) {
      sum += c.count(p, "likes");
    }
    return sum;
  }

  private static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor();
  }

  /** With one committer, and with three: every one of them fails, and one reopens the store. */
  @ParameterizedTest(name = "committers={0}")
  @ValueSource(strings = {"1", "3"})
  void diskFull_stopsAcknowledging_losesNothing_andRecoversWhenSpaceReturns(String committers)
      throws Exception {
    Path mnt = tmp.resolve("disk");
    Files.createDirectories(mnt);
    assumeTrue(
        run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt.toString()) == 0,
        "needs root to mount a tmpfs");
    Tally node = null;
    try {
      Path data = mnt.resolve("data");
      node = Tally.start(config(data, committers), Clock.systemUTC());
      TallyClient c = new TallyClient(node.port());
      for (int i = 0; i < 50; i++) {
        assertThat(c.write(post(i), "likes", "increment", "before-" + i).statusCode())
            .isEqualTo(200);
      }

      // fill the disk
      Path filler = mnt.resolve("filler");
      try (OutputStream out = Files.newOutputStream(filler)) {
        byte[] mb = new byte[1 << 20];
        while (true) {
          out.write(mb);
        }
      } catch (IOException expected) {
        // no space left
      }

      List<Integer> refused = new ArrayList<>();
      int acknowledgedWhileFull = 0;
      HttpResponse<String> last = null;
      for (int i = 0; i < 200; i++) {
        String key = "full-" + i;
        last = c.write(post(i), "likes", "increment", key);
        if (last.statusCode() == 200) {
          acknowledgedWhileFull++; // a write that still fit is durable like any other
        } else {
          assertThat(last.statusCode()).isEqualTo(503);
          assertThat(last.headers().firstValue("retry-after")).isPresent();
          refused.add(i);
        }
      }
      assertThat(refused).as("writes are refused once the disk is full").isNotEmpty();
      assertThat(last.body()).contains("urn:tally:problem:unavailable");
      assertThat(c.get("/health/ready").statusCode()).isEqualTo(503);

      assertThat(total(c)).as("reads still work while full").isEqualTo(50 + acknowledgedWhileFull);

      // space returns: the node resumes by itself; the refused writes, retried with their keys,
      // land once
      Files.delete(filler);
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos(); // for all retries
      for (int i : refused) {
        Poll.until(
            "retry of full-" + i + " after space returned answered 200",
            Duration.ofNanos(Math.max(0, deadline - System.nanoTime())),
            () -> c.write(post(i), "likes", "increment", "full-" + i).statusCode(),
            status -> status == 200);
      }
      assertThat(c.get("/health/ready").statusCode()).isEqualTo(200);
      long expected = 50 + acknowledgedWhileFull + refused.size();
      assertThat(total(c)).isEqualTo(expected);

      node.close();
      node = Tally.start(config(data, committers), Clock.systemUTC());
      assertThat(total(new TallyClient(node.port()))).as("after a restart").isEqualTo(expected);
      System.out.printf(
          "disk full: acknowledged before=50, while full=%d, refused=%d then retried, lost=0, duplicated=0%n",
          acknowledgedWhileFull, refused.size());
      Path out = Path.of("target", "reliability");
      Files.createDirectories(out);
      Files.writeString(
          out.resolve("disk-full.md"),
          String.format(
              "| 6. data disk full under a node, then space freed | 1 | %d | %d | 0 | 0 | 503 and not ready while full; resumes by itself, exact after retries and a restart |%n",
              250, 50 + acknowledgedWhileFull + refused.size()));
    } finally {
      if (node != null) {
        node.close();
      }
      run("umount", "-l", mnt.toString());
    }
  }
}
