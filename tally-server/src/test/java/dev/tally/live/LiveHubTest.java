package dev.tally.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.testing.ManualClock;
import dev.tally.testing.ManualLoop;
import dev.tally.testing.RecordingSink;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Coalescing, fan-out, drop and keep-alive rules of {@link LiveHub}, on a manual clock. */
class LiveHubTest {

  private static final int LIKES = 1;
  private static final int VIEWS = 2;
  private static final long T0 = Instant.parse("2030-01-01T00:00:00Z").getEpochSecond();

  private final ManualClock clock = new ManualClock(Instant.ofEpochSecond(T0));
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final LiveGauge gauge = new LiveGauge(clock, Duration.ofSeconds(30), 1000);
  private final LiveHub hub = newHub(3);
  private final ManualLoop loopA = new ManualLoop(clock);
  private final ManualLoop loopB = new ManualLoop(clock);

  private LiveHub newHub(int maxStreams) {
    Map<String, Integer> codes = new LinkedHashMap<>();
    codes.put("likes", LIKES);
    codes.put("views", VIEWS);
    return new LiveHub(
        CounterNames.of(codes),
        gauge,
        new LiveHub.Settings(Duration.ofMillis(250), Duration.ofSeconds(15), maxStreams),
        clock,
        registry);
  }

  private static CounterValue count(long n) {
    return new CounterValue(new Slot(n, 0), T0);
  }

  private static List<CounterValue> zeros() {
    return List.of(CounterValue.NEVER_WRITTEN, CounterValue.NEVER_WRITTEN);
  }

  private void commit(long post, int code, long value) {
    hub.committed(List.of(new CounterId(post, code)), List.of(count(value)));
  }

  private RecordingSink subscribe(long post, ManualLoop loop, List<CounterValue> current) {
    RecordingSink sink = new RecordingSink();
    hub.open(post, loop, sink).start(current);
    return sink;
  }

  private void runLoops() {
    loopA.runReady();
    loopB.runReady();
  }

  @Test
  void start_firstEvent_hasEveryCounterAndLive() {
    RecordingSink sink = subscribe(7, loopA, List.of(count(5), count(9)));

    assertThat(sink.events()).hasSize(1);
    String first = sink.events().get(0);
    assertThat(first).startsWith("retry: 2000\nid: ").endsWith("}}\n\n");
    assertThat(first)
        .contains(
            "data: {\"post_id\":\"7\",\"snapshot\":true,\"counts\":{"
                + "\"likes\":{\"count\":5,\"updated_at\":\"2030-01-01T00:00:00Z\"},"
                + "\"views\":{\"count\":9,\"updated_at\":\"2030-01-01T00:00:00Z\"},"
                + "\"live\":{\"count\":1,\"updated_at\":\"2030-01-01T00:00:00Z\"}}}");
  }

  @Test
  void start_valueCommittedAfterOpen_isInTheFirstEvent() {
    RecordingSink sink = new RecordingSink();
    LiveHub.Subscription sub = hub.open(7, loopA, sink);
    commit(7, LIKES, 4); // lands while the subscriber's read of the store is in flight
    sub.start(List.of(count(3), CounterValue.NEVER_WRITTEN));

    assertThat(sink.last("likes")).isEqualTo(4);
  }

  @Test
  void committed_loneChangeAfterQuietPeriod_isSentAtOnce() {
    RecordingSink sink = subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));

    commit(7, LIKES, 1);
    loopA.runReady();

    assertThat(sink.events()).hasSize(2);
    assertThat(sink.events().get(1))
        .contains("\"snapshot\":false,\"counts\":{\"likes\":{\"count\":1,");
    assertThat(sink.events().get(1)).doesNotContain("views");
  }

  @Test
  void committed_manyChangesWithinInterval_coalesceIntoOneEventWithTheLatestValue() {
    RecordingSink sink = subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));
    commit(7, LIKES, 1);
    loopA.runReady(); // leading edge: sent at once

    for (int i = 2; i <= 1000; i++) {
      commit(7, LIKES, i);
      commit(7, VIEWS, i * 10L);
      if (i % 5 == 0) {
        clock.advance(Duration.ofMillis(1)); // 1000 commits within 200 ms
      }
      loopA.runReady();
    }
    assertThat(sink.events()).hasSize(2); // nothing more before the interval ends

    clock.advance(Duration.ofMillis(60));
    loopA.runReady();

    assertThat(sink.events()).hasSize(3);
    assertThat(sink.events().get(2)).contains("\"likes\":{\"count\":1000,");
    assertThat(sink.events().get(2)).contains("\"views\":{\"count\":10000,");
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();
    assertThat(sink.events()).hasSize(3); // nothing changed since
  }

  @Test
  void committed_eventIdsNeverDecreaseOnAStream() {
    RecordingSink sink = subscribe(7, loopA, zeros());
    for (int i = 1; i <= 20; i++) {
      commit(7, i % 2 == 0 ? LIKES : VIEWS, i);
      clock.advance(Duration.ofMillis(100));
      loopA.runReady();
    }
    List<Long> ids = new ArrayList<>();
    for (String e : sink.events()) {
      String idLine = e.lines().filter(l -> l.startsWith("id: ")).findFirst().orElseThrow();
      ids.add(Long.parseLong(idLine.substring(4)));
    }
    assertThat(ids).isSorted().hasSizeGreaterThan(5);
  }

  @Test
  void committed_reachesOnlySubscribersOfThatPost_onEveryLoop() {
    RecordingSink a7 = subscribe(7, loopA, zeros());
    RecordingSink b7 = subscribe(7, loopB, zeros());
    RecordingSink a8 = subscribe(8, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));

    commit(7, LIKES, 3);
    runLoops();

    assertThat(a7.last("likes")).isEqualTo(3);
    assertThat(b7.last("likes")).isEqualTo(3);
    assertThat(a8.events()).hasSize(1); // only its own snapshot
    commit(9, LIKES, 1); // nobody watches post 9: no work queued anywhere
    assertThat(loopA.runReady() + loopB.runReady()).isZero();
  }

  @Test
  void committed_counterNotConfigured_isIgnored() {
    RecordingSink sink = subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));
    commit(7, 99, 5);
    loopA.runReady();
    assertThat(sink.events()).hasSize(1);
  }

  @Test
  void open_beyondMaxStreams_isOverloadedAndCountsNothing() {
    subscribe(1, loopA, zeros());
    subscribe(2, loopA, zeros());
    subscribe(3, loopA, zeros());

    assertThatThrownBy(() -> hub.open(4, loopA, new RecordingSink()))
        .isInstanceOfSatisfying(
            TallyException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.OVERLOADED));
    assertThat(hub.openStreams()).isEqualTo(3);
    assertThat(gauge.read(4).count()).isZero();
  }

  @Test
  void close_lowersLiveAndTellsTheOtherSubscribers() {
    RecordingSink first = subscribe(7, loopA, zeros());
    RecordingSink second = new RecordingSink();
    LiveHub.Subscription sub = hub.open(7, loopB, second);
    sub.start(zeros());
    assertThat(second.last("live")).isEqualTo(2);
    clock.advance(Duration.ofSeconds(1));
    runLoops();
    assertThat(first.last("live")).isEqualTo(2);

    sub.close();
    sub.close(); // idempotent
    clock.advance(Duration.ofSeconds(1));
    runLoops();

    assertThat(gauge.read(7).count()).isEqualTo(1);
    assertThat(first.last("live")).isEqualTo(1);
    assertThat(hub.openStreams()).isEqualTo(1);
  }

  @Test
  void slowSubscriber_isDroppedAndOthersKeepGettingEvents() {
    RecordingSink slow = subscribe(7, loopA, zeros());
    RecordingSink fast = subscribe(7, loopA, zeros());
    slow.writable = false; // its buffer is full: the client stopped reading
    clock.advance(Duration.ofSeconds(1));

    commit(7, LIKES, 1);
    loopA.runReady();

    assertThat(slow.closed).isTrue();
    assertThat(registry.get("tally.live.dropped").counter().count()).isEqualTo(1);
    assertThat(hub.openStreams()).isEqualTo(1);
    assertThat(fast.last("likes")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(1));
    commit(7, LIKES, 2);
    loopA.runReady();
    assertThat(fast.last("likes")).isEqualTo(2);
    assertThat(fast.last("live")).isEqualTo(1); // the dropped one no longer watches
    assertThat(slow.events()).hasSize(1);
  }

  @Test
  void keepAlive_onlyToStreamsThatWereSilent() {
    RecordingSink idle = subscribe(7, loopA, zeros());
    RecordingSink busy = subscribe(8, loopA, zeros());

    for (int s = 1; s <= 16; s++) {
      clock.advance(Duration.ofSeconds(1));
      commit(8, LIKES, s);
      loopA.runReady();
    }

    assertThat(idle.writes).anyMatch(w -> w.equals(": keep-alive\n\n"));
    assertThat(busy.writes).noneMatch(w -> w.startsWith(":"));
  }

  @Test
  void keepAlive_stopsWhenTheLoopHasNoStreams() {
    LiveHub.Subscription sub = hub.open(7, loopA, new RecordingSink());
    sub.start(zeros());
    sub.close();
    clock.advance(Duration.ofSeconds(20));
    loopA.runReady();
    assertThat(loopA.pendingTimers()).isZero();
  }

  @Test
  void heartbeatOnWatchedPost_isStreamedAsLive() {
    RecordingSink sink = subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));

    gauge.heartbeat(7, "phone-1");
    loopA.runReady();
    assertThat(sink.last("live")).isEqualTo(2);

    clock.advance(Duration.ofSeconds(31));
    gauge.expire();
    loopA.runReady();
    assertThat(sink.last("live")).isEqualTo(1);
  }

  @Test
  void fanOutDelay_isRecordedPerFlush() {
    subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));
    commit(7, LIKES, 1);
    loopA.runReady();
    assertThat(registry.get("tally.live.fanout.delay").timer().count()).isEqualTo(1);
    assertThat(registry.get("tally.live.events").counter().count()).isEqualTo(2);
  }

  // ---- cluster mode

  private void total(long post, int code, long total) {
    hub.totals(List.of(new CounterId(post, code)), new long[] {total}, T0 + 1);
  }

  @Test
  void clusterMode_ignoresLocalCommits_andTakesTotals() {
    hub.useClusterTotals();
    RecordingSink sink = subscribe(7, loopA, zeros());
    clock.advance(Duration.ofSeconds(1));

    commit(7, LIKES, 5); // this node's own share only: not the count
    loopA.runReady();
    assertThat(sink.events()).hasSize(1);

    total(7, LIKES, 42);
    loopA.runReady();
    assertThat(sink.events()).hasSize(2);
    assertThat(sink.events().get(1))
        .contains("\"likes\":{\"count\":42,\"updated_at\":\"2030-01-01T00:00:01Z\"}");
  }

  @Test
  void totals_newestReplacesTheValue_evenWhenLower() {
    hub.useClusterTotals();
    RecordingSink sink = subscribe(7, loopA, zeros());
    total(7, LIKES, 10);
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();

    total(7, LIKES, 9); // an unlike elsewhere: totals are not merged like slots
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();

    assertThat(sink.last("likes")).isEqualTo(9);
  }

  @Test
  void totals_thatChangeNothing_sendNoEvent() {
    hub.useClusterTotals();
    RecordingSink sink = subscribe(7, loopA, zeros());
    total(7, LIKES, 10);
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();
    int events = sink.events().size();

    total(7, LIKES, 10);
    hub.totals(List.of(new CounterId(7, LIKES)), new long[] {10}, 0); // a resend, time unknown
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();

    assertThat(sink.events()).hasSize(events);
  }

  @Test
  void totals_ofUnwatchedPostsAndUnknownCounters_areIgnored() {
    hub.useClusterTotals();
    RecordingSink sink = subscribe(7, loopA, zeros());
    hub.totals(
        List.of(new CounterId(8, LIKES), new CounterId(7, 9), new CounterId(7, VIEWS)),
        new long[] {1, 2, -3},
        T0);
    clock.advance(Duration.ofSeconds(1));
    loopA.runReady();

    assertThat(sink.events()).hasSize(2);
    assertThat(sink.last("views")).isEqualTo(-3);
    assertThat(sink.events().get(1)).doesNotContain("likes");
  }

  @Test
  void start_inClusterMode_keepsATotalHeardSinceOpen_elseTakesTheRead() {
    hub.useClusterTotals();
    RecordingSink sink = new RecordingSink();
    LiveHub.Subscription sub = hub.open(7, loopA, sink);
    total(7, LIKES, 12); // heard while the stream's read was in flight
    sub.start(List.of(count(11), count(30)));

    assertThat(sink.last("likes")).isEqualTo(12); // not merged up, not replaced by the read
    assertThat(sink.last("views")).isEqualTo(30);
  }

  @Test
  void watchedPostsAndCounterIds_describeTheOpenStreams() {
    subscribe(7, loopA, zeros());
    subscribe(9, loopB, zeros());

    assertThat(hub.watchedPosts()).containsExactlyInAnyOrder(7L, 9L);
    assertThat(hub.counterIds(7)).containsExactly(new CounterId(7, LIKES), new CounterId(7, VIEWS));
  }
}
