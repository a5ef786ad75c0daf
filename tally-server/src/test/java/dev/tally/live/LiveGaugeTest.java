package dev.tally.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.error.TallyException;
import dev.tally.testing.ManualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The live-viewer gauge: streams, heartbeats and their expiry, on a manual clock. */
class LiveGaugeTest {

  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  private final ManualClock clock = new ManualClock(T0);
  private final LiveGauge gauge = new LiveGauge(clock, Duration.ofSeconds(30), 3);
  private final List<Long> changes = new ArrayList<>();

  {
    gauge.onChange(changes::add);
  }

  @Test
  void read_unwatchedPost_isZeroNeverUpdated() {
    assertThat(gauge.read(1)).isEqualTo(new LiveReading(0, 0));
  }

  @Test
  void streams_openAndClose_countAtOnce() {
    gauge.streamOpened(1);
    gauge.streamOpened(1);
    gauge.streamOpened(2);
    assertThat(gauge.read(1)).isEqualTo(new LiveReading(2, T0.getEpochSecond()));

    clock.advance(Duration.ofSeconds(5));
    gauge.streamClosed(1);

    assertThat(gauge.read(1)).isEqualTo(new LiveReading(1, T0.getEpochSecond() + 5));
    assertThat(gauge.openStreams()).isEqualTo(2);
    assertThat(changes).containsExactly(1L, 1L, 2L, 1L);
  }

  @Test
  void streamClosed_moreThanOpened_neverGoesNegative() {
    gauge.streamClosed(1);
    assertThat(gauge.read(1).count()).isZero();
    assertThat(gauge.openStreams()).isZero();
    assertThat(changes).isEmpty();
  }

  @Test
  void heartbeat_countsTheViewerUntilTheTtlPasses() {
    assertThat(gauge.heartbeat(1, "a").count()).isEqualTo(1);

    clock.advance(Duration.ofMillis(29_999));
    assertThat(gauge.read(1).count()).isEqualTo(1);
    clock.advance(Duration.ofMillis(1));
    assertThat(gauge.read(1).count()).isZero(); // exact at read time, before any sweep

    assertThat(gauge.expire()).isEqualTo(1);
    assertThat(gauge.heartbeatViewers()).isZero();
    assertThat(gauge.watchedPosts()).isZero();
    assertThat(changes).containsExactly(1L, 1L);
  }

  @Test
  void heartbeat_sameViewerAgain_countsOnceAndExtendsTheTtl() {
    gauge.heartbeat(1, "a");
    clock.advance(Duration.ofSeconds(20));
    assertThat(gauge.heartbeat(1, "a").count()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(20)); // 40 s after the first, 20 s after the second

    assertThat(gauge.expire()).isZero();
    assertThat(gauge.read(1).count()).isEqualTo(1);
    assertThat(changes).containsExactly(1L); // a refresh is not a change
  }

  @Test
  void expire_removesOnlyExpiredViewers_oldestFirst() {
    gauge.heartbeat(1, "a");
    clock.advance(Duration.ofSeconds(10));
    gauge.heartbeat(1, "b");
    gauge.heartbeat(2, "a"); // viewer ids are per post
    clock.advance(Duration.ofSeconds(10));
    gauge.heartbeat(1, "a"); // a refreshed: now the newest

    clock.advance(Duration.ofSeconds(25)); // b and post 2's a expire; post 1's a lives on
    assertThat(gauge.expire()).isEqualTo(2);

    assertThat(gauge.read(1).count()).isEqualTo(1);
    assertThat(gauge.read(2).count()).isZero();
    assertThat(gauge.heartbeatViewers()).isEqualTo(1);
  }

  @Test
  void heartbeat_newViewerBeyondTheBound_isOverloadedAndChangesNothing() {
    gauge.heartbeat(1, "a");
    gauge.heartbeat(1, "b");
    gauge.heartbeat(2, "c");

    assertThatThrownBy(() -> gauge.heartbeat(3, "d")).isInstanceOf(TallyException.class);
    assertThat(gauge.read(3).count()).isZero();
    assertThat(gauge.watchedPosts()).isEqualTo(2);
    assertThat(gauge.heartbeat(1, "a").count()).isEqualTo(2); // known viewers still refresh

    clock.advance(Duration.ofSeconds(31));
    gauge.expire();
    assertThat(gauge.heartbeat(3, "d").count()).isEqualTo(1); // room again after expiry
  }

  @Test
  void heartbeat_expiredButNotYetSwept_countsAsNewAgain() {
    gauge.heartbeat(1, "a");
    clock.advance(Duration.ofSeconds(31));
    assertThat(gauge.heartbeat(1, "a").count()).isEqualTo(1);
    assertThat(gauge.heartbeatViewers()).isEqualTo(1);
    assertThat(changes).containsExactly(1L, 1L);
  }

  @Test
  void streamsAndHeartbeats_addUp() {
    gauge.streamOpened(1);
    gauge.heartbeat(1, "phone");
    assertThat(gauge.read(1).count()).isEqualTo(2);
    gauge.streamClosed(1);
    assertThat(gauge.read(1).count()).isEqualTo(1);
  }

  // ---- other nodes' shares (cluster mode)

  @Test
  void remoteShares_addToTheLocalCount_untilEachExpires() {
    gauge.streamOpened(1);
    gauge.remoteShares(1, new long[] {2, 3}, new long[] {3000, 1000});
    assertThat(gauge.read(1).count()).isEqualTo(6);

    clock.advance(Duration.ofMillis(1000));
    assertThat(gauge.read(1).count()).isEqualTo(3); // exact at read time, before any sweep
    clock.advance(Duration.ofMillis(2000));
    assertThat(gauge.read(1).count()).isEqualTo(1); // only this node's stream is left
  }

  @Test
  void remoteShares_ofAPostNobodyWatchesHere_areItsWholeCount() {
    clock.advance(Duration.ofSeconds(7));
    gauge.remoteShares(5, new long[] {4}, new long[] {3000});

    assertThat(gauge.read(5)).isEqualTo(new LiveReading(4, T0.getEpochSecond() + 7));
    assertThat(gauge.localViewers()).isEmpty();
    assertThat(gauge.heartbeat(5, "a").count()).isEqualTo(5);
    assertThat(gauge.localViewers()).containsExactly(java.util.Map.entry(5L, 1));
  }

  @Test
  void remoteShares_tellTheListenerOnlyWhenTheSumChanges() {
    gauge.remoteShares(1, new long[] {2}, new long[] {3000});
    gauge.remoteShares(1, new long[] {1, 1}, new long[] {3000, 3000}); // same sum, new split
    gauge.remoteShares(2, new long[0], new long[0]); // known: nobody elsewhere
    assertThat(changes).containsExactly(1L);

    gauge.remoteShares(1, new long[] {1}, new long[] {3000});
    assertThat(changes).containsExactly(1L, 1L);
    assertThat(gauge.remoteKnown(2)).isTrue();
    assertThat(gauge.remotePosts()).containsExactlyInAnyOrder(1L, 2L);
  }

  @Test
  void expire_dropsExpiredRemoteShares_andTellsTheListener() {
    gauge.remoteShares(1, new long[] {2, 3}, new long[] {3000, 1000});
    changes.clear();
    clock.advance(Duration.ofMillis(1500));

    gauge.expire();
    assertThat(changes).containsExactly(1L);
    assertThat(gauge.read(1)).isEqualTo(new LiveReading(2, T0.getEpochSecond() + 1));
    gauge.expire();
    assertThat(changes).containsExactly(1L); // nothing more expired

    clock.advance(Duration.ofMillis(1500));
    gauge.expire();
    assertThat(changes).containsExactly(1L, 1L);
    assertThat(gauge.read(1).count()).isZero();
    assertThat(gauge.remoteKnown(1)).isTrue(); // still known: nobody elsewhere
  }

  @Test
  void forgetRemote_removesTheSharesAndTellsTheListenerIfTheyCounted() {
    gauge.remoteShares(1, new long[] {2}, new long[] {3000});
    gauge.remoteShares(2, new long[0], new long[0]);
    changes.clear();

    gauge.forgetRemote(1);
    gauge.forgetRemote(2);

    assertThat(changes).containsExactly(1L);
    assertThat(gauge.read(1).count()).isZero();
    assertThat(gauge.remoteKnown(1)).isFalse();
  }
}
