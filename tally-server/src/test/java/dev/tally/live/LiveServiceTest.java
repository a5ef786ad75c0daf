package dev.tally.live;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterNames;
import dev.tally.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

/** How {@link LiveService} answers {@code live} alone and in cluster mode, on a manual clock. */
class LiveServiceTest {

  private final ManualClock clock = new ManualClock(Instant.parse("2030-01-01T00:00:00Z"));
  private final LiveService live =
      new LiveService(
          CounterNames.of(Map.of("likes", 1)),
          null, // the aggregator is only needed by start()
          new LiveHub.Settings(Duration.ofMillis(250), Duration.ofSeconds(15), 100),
          Duration.ofSeconds(30),
          1000,
          clock,
          new SimpleMeterRegistry());

  /** Plays the Redis side: records what it is asked, answers fetches when the test says. */
  private final class FakeViewers implements ClusterViewers {
    final List<Long> asked = new ArrayList<>();
    final List<CompletableFuture<Void>> fetches = new ArrayList<>();

    @Override
    public void asked(long postId) {
      asked.add(postId);
    }

    @Override
    public CompletionStage<Void> fetch(long postId) {
      CompletableFuture<Void> f = new CompletableFuture<>();
      fetches.add(f);
      return f;
    }
  }

  @Test
  void read_singleNode_isTheGaugeAtOnce() {
    live.heartbeat(1, "a");

    CompletableFuture<LiveReading> r = live.read(1).toCompletableFuture();

    assertThat(r).isCompletedWithValue(live.gauge().read(1));
    assertThat(live.sharesKnown(1)).isTrue();
    assertThat(live.clusterMode()).isFalse();
  }

  @Test
  void read_clusterMode_unknownShares_waitForOneFetch_thenComeFromMemory() {
    FakeViewers viewers = new FakeViewers();
    live.useCluster(viewers);
    live.heartbeat(1, "a");
    assertThat(live.sharesKnown(1)).isFalse();

    CompletableFuture<LiveReading> first = live.read(1).toCompletableFuture();
    assertThat(first).isNotDone();
    live.gauge().remoteShares(1, new long[] {4}, new long[] {3000});
    viewers.fetches.get(0).complete(null);

    assertThat(first.join().count()).isEqualTo(5);
    assertThat(live.read(1).toCompletableFuture()).isCompleted();
    assertThat(viewers.fetches).hasSize(1);
    assertThat(viewers.asked).containsOnly(1L);
  }

  @Test
  void read_clusterMode_failedFetch_answersWhatThisNodeKnows() {
    FakeViewers viewers = new FakeViewers();
    live.useCluster(viewers);
    live.heartbeat(2, "a");

    CompletableFuture<LiveReading> r = live.read(2).toCompletableFuture();
    viewers.fetches.get(0).completeExceptionally(new IllegalStateException("redis down"));

    assertThat(r.join().count()).isEqualTo(1);
  }
}
