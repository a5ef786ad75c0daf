package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The followed view's accounting: notifications merge by per-writer maximum whatever their order,
 * repetition or timing against the load; this node's own slot is never held; memory stays bounded.
 * Records come from an in-memory table standing in for Redis, whose replies the tests release.
 */
class FollowedCountersTest {

  private static final long ME = 1;
  private static final CounterId C = new CounterId(812, 1);

  /** Records as Redis would answer them, each reply completed when the test says. */
  private static final class Table implements FollowedCounters.Records {
    final Map<CounterId, Map<Long, Slot>> rows = new HashMap<>();
    final List<CompletableFuture<StoredCounter[]>> replies = new ArrayList<>();
    final List<List<CounterId>> asked = new ArrayList<>();
    boolean answerAtOnce = true;
    RuntimeException failure;

    void put(CounterId id, long writer, long p, long n) {
      rows.computeIfAbsent(id, k -> new HashMap<>()).put(writer, new Slot(p, n));
    }

    @Override
    public CompletableFuture<StoredCounter[]> read(List<CounterId> ids) {
      asked.add(List.copyOf(ids));
      CompletableFuture<StoredCounter[]> reply = new CompletableFuture<>();
      replies.add(reply);
      if (failure != null) {
        reply.completeExceptionally(failure);
      } else if (answerAtOnce) {
        reply.complete(snapshot(ids));
      }
      return reply;
    }

    StoredCounter[] snapshot(List<CounterId> ids) {
      StoredCounter[] out = new StoredCounter[ids.size()];
      for (int i = 0; i < out.length; i++) {
        Map<Long, Slot> row = rows.get(ids.get(i));
        if (row == null) {
          out[i] = StoredCounter.ABSENT;
          continue;
        }
        long[] e = new long[row.size() * 3];
        int k = 0;
        for (Map.Entry<Long, Slot> w : row.entrySet()) {
          e[k++] = w.getKey();
          e[k++] = w.getValue().p();
          e[k++] = w.getValue().n();
        }
        out[i] = new StoredCounter(1_795_000_000L, e);
      }
      return out;
    }
  }

  private final Table table = new Table();

  private FollowedCounters view(long max) {
    return new FollowedCounters(table, ME, max, new SimpleMeterRegistry());
  }

  private static FollowedCounters.Share share(FollowedCounters v, CounterId id) {
    return v.follow(List.of(id)).toCompletableFuture().join()[0];
  }

  @Test
  void follow_readsTheRecordOnce_thenAnswersFromMemory() {
    table.put(C, 2, 10, 3);
    table.put(C, ME, 100, 0); // this node's own slot: never part of the others' share
    FollowedCounters v = view(100);
    assertThat(v.peek(C)).isNull();

    assertThat(share(v, C).others()).isEqualTo(7);
    assertThat(v.peek(C)).isEqualTo(new FollowedCounters.Share(7, 1_795_000_000L));
    share(v, C);
    assertThat(table.asked).hasSize(1);
  }

  @Test
  void notifications_raiseTheShare_ownOnesAndUnfollowedCountersAreIgnored() {
    table.put(C, 2, 10, 3);
    FollowedCounters v = view(100);
    share(v, C);

    v.merge(C, 2, 12, 3, 1_795_000_100L);
    v.merge(C, 3, 5, 0, 1_795_000_050L);
    v.merge(C, ME, 1000, 0, 1_795_000_200L); // own slot: ignored
    v.merge(new CounterId(813, 1), 2, 50, 0, 1); // not followed: ignored

    assertThat(v.peek(C)).isEqualTo(new FollowedCounters.Share(9 + 5, 1_795_000_100L));
    assertThat(v.size()).isEqualTo(1);
  }

  @Test
  void aNotificationThatOvertakesTheLoad_isKept() {
    table.put(C, 2, 10, 0);
    table.answerAtOnce = false;
    FollowedCounters v = view(100);
    CompletableFuture<FollowedCounters.Share[]> read = v.follow(List.of(C)).toCompletableFuture();

    v.merge(C, 2, 15, 0, 1_795_000_100L); // pushed after Redis answered the (still pending) read
    table.replies.get(0).complete(table.snapshot(List.of(C)));

    assertThat(read.join()[0].others()).isEqualTo(15);
    assertThat(v.peek(C).others()).isEqualTo(15);
  }

  @Test
  void concurrentFollowsOfOneCounter_shareOneRead() {
    table.put(C, 2, 4, 0);
    table.answerAtOnce = false;
    FollowedCounters v = view(100);
    CompletableFuture<FollowedCounters.Share[]> a = v.follow(List.of(C)).toCompletableFuture();
    CompletableFuture<FollowedCounters.Share[]> b = v.follow(List.of(C)).toCompletableFuture();
    assertThat(table.asked).hasSize(1);
    table.replies.get(0).complete(table.snapshot(List.of(C)));
    assertThat(a.join()[0].others()).isEqualTo(4);
    assertThat(b.join()[0].others()).isEqualTo(4);
  }

  @Test
  void aFailedRead_failsAsUnavailable_andIsTriedAgainNextTime() {
    table.failure = new IllegalStateException("connection refused");
    FollowedCounters v = view(100);
    assertThatThrownBy(() -> share(v, C))
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOfSatisfying(
            TallyException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
    assertThat(v.peek(C)).isNull();

    table.failure = null;
    table.put(C, 2, 3, 0);
    assertThat(share(v, C).others()).isEqualTo(3);
  }

  @Test
  void refresh_readsFollowedCountersAgain_andKeepsTheLargerSlots() {
    table.put(C, 2, 10, 0);
    FollowedCounters v = view(100);
    share(v, C);
    table.put(C, 2, 25, 1); // pushed while this node's notifications were lost
    table.put(C, 3, 7, 0);

    v.refresh(id -> true).toCompletableFuture().join();

    assertThat(v.peek(C).others()).isEqualTo(24 + 7);
    table.put(C, 2, 20, 0); // an older record (a rolled-back failover) never lowers the view
    v.refresh(id -> true).toCompletableFuture().join();
    assertThat(v.peek(C).others()).isEqualTo(24 + 7);
  }

  @Test
  void memory_isBoundedByMaxCounters() {
    FollowedCounters v = view(100);
    for (long post = 1; post <= 1000; post++) {
      table.put(new CounterId(post, 1), 2, post, 0);
      share(v, new CounterId(post, 1));
    }
    assertThat(v.size()).isLessThanOrEqualTo(100);
    // an evicted counter is read again when needed, and is still right
    assertThat(share(v, new CounterId(1, 1)).others()).isEqualTo(1);
  }

  @Test
  void localCommitsOfWatchedPosts_reachTheStreamsWithTheOthersShare() {
    table.put(C, 2, 10, 0);
    FollowedCounters v = view(100);
    share(v, C);
    List<Long> seen = new ArrayList<>();
    v.feed((ids, totals, at) -> seen.add(totals[0]), post -> post == 812, id -> null);

    CounterValue own = new CounterValue(new Slot(5, 0), 1_795_000_300L);
    v.committed(List.of(C, new CounterId(999, 1)), List.of(own, own));

    assertThat(seen).containsExactly(15L);
  }

  @Test
  void aRetiredWritersShare_comesFromRecordsOnly_untilItIsFoldedIntoTheBase() {
    table.put(C, 2, 10, 0);
    table.put(C, 3, 5, 0);
    FollowedCounters v = view(100);
    assertThat(share(v, C).others()).isEqualTo(15);

    // retired, not folded yet: the record still holds writer 3, and its late notices are ignored
    v.retired(java.util.Set.of(3L)).toCompletableFuture().join();
    v.merge(C, 3, 20, 0, 1);
    assertThat(v.peek(C).others()).isEqualTo(15);

    // folded: Redis moved writer 3's share into the base entry (writer 0)
    table.rows.get(C).remove(3L);
    table.put(C, WriterRetirement.BASE_WRITER, 5, 0);
    v.retired(java.util.Set.of(3L)).toCompletableFuture().join();
    assertThat(v.peek(C).others()).isEqualTo(15);
    v.merge(C, 3, 30, 0, 1);
    assertThat(v.peek(C).others()).isEqualTo(15);
    // a counter followed afterwards reads the folded record
    FollowedCounters fresh = view(100);
    fresh.retired(java.util.Set.of(3L)).toCompletableFuture().join();
    assertThat(share(fresh, C).others()).isEqualTo(15);
  }

  @Test
  void aRecordWhoseBaseGrew_dropsTheWritersItNoLongerHolds_beforeTheNodeLearnsTheyRetired() {
    table.put(C, 2, 10, 0);
    table.put(C, 3, 5, 0);
    FollowedCounters v = view(100);
    assertThat(share(v, C).others()).isEqualTo(15);

    // writer 3 folded into the base; this node has not learned that writer 3 retired
    table.rows.get(C).remove(3L);
    table.put(C, WriterRetirement.BASE_WRITER, 5, 0);
    v.refresh(id -> true).toCompletableFuture().join();

    assertThat(v.peek(C).others()).as("not 20: writer 3's share counted once").isEqualTo(15);
  }

  @Test
  void theSweep_readsEveryFollowedCounterAgainWithinItsCycle() {
    FollowedCounters v = view(1000);
    List<CounterId> ids = new ArrayList<>();
    for (long post = 1; post <= 200; post++) {
      CounterId id = new CounterId(post, 1);
      ids.add(id);
      table.put(id, 2, 1, 0);
      share(v, id);
    }
    // every counter moved on in Redis, and this node heard of none of it
    for (CounterId id : ids) {
      table.put(id, 2, 5, 0);
    }
    // a 30 s cycle in 250 ms ticks: 120 ticks
    for (int tick = 0; tick < 120; tick++) {
      v.sweep(250, 30_000, 500).toCompletableFuture().join();
    }
    for (CounterId id : ids) {
      assertThat(v.peek(id).others()).as("post %d", id.postId()).isEqualTo(5);
    }
  }

  @Test
  void theSweep_readsASmallViewOncePerCycle_notOnceATick() {
    FollowedCounters v = view(1000);
    for (long post = 1; post <= 10; post++) {
      CounterId id = new CounterId(post, 1);
      table.put(id, 2, 1, 0);
      share(v, id);
    }
    table.asked.clear();
    for (int tick = 0; tick < 240; tick++) { // two 30 s cycles
      v.sweep(250, 30_000, 500).toCompletableFuture().join();
    }
    assertThat(table.asked.stream().mapToInt(List::size).sum())
        .as("counters read again in two cycles")
        .isEqualTo(20);
  }

  /**
   * Each writer's slots only grow; whatever order, repetition and split between the initial read
   * and the notifications they reach the view in, the share is Σ over the other writers of their
   * last slot.
   */
  @Property(tries = 200)
  void anyOrderAndRepetitionOfNotifications_givesTheMaxPerWriter(
      @ForAll @IntRange(min = 1, max = 4) int writers,
      @ForAll @IntRange(min = 1, max = 30) int steps,
      @ForAll long seed) {
    Random random = new Random(seed);
    List<long[]> pushes = new ArrayList<>(); // writer, p, n
    Map<Long, long[]> last = new HashMap<>();
    for (int s = 0; s < steps; s++) {
      long w = 1 + random.nextInt(writers + 1); // ME among them
      long[] prev = last.getOrDefault(w, new long[] {0, 0});
      long[] next = {prev[0] + random.nextInt(5), prev[1] + random.nextInt(3)};
      last.put(w, next);
      pushes.add(new long[] {w, next[0], next[1]});
    }
    // Redis holds some prefix of the pushes when the node reads; the rest arrive as notifications,
    // shuffled and some twice, and some pushes from before the read arrive late too
    int readAt = random.nextInt(pushes.size() + 1);
    Table t = new Table();
    for (long[] p : pushes.subList(0, readAt)) {
      Slot old = t.rows.getOrDefault(C, Map.of()).get(p[0]);
      if (old == null || (p[1] >= old.p() && p[2] >= old.n())) {
        t.put(C, p[0], p[1], p[2]);
      }
    }
    FollowedCounters v = new FollowedCounters(t, ME, 10, new SimpleMeterRegistry());
    v.follow(List.of(C)).toCompletableFuture().join();
    List<long[]> notices = new ArrayList<>(pushes);
    for (int i = 0; i < pushes.size() / 2; i++) {
      notices.add(pushes.get(random.nextInt(pushes.size())));
    }
    Collections.shuffle(notices, random);
    for (long[] p : notices) {
      v.merge(C, p[0], p[1], p[2], 1);
    }

    long expected = 0;
    for (Map.Entry<Long, long[]> e : last.entrySet()) {
      if (e.getKey() != ME) {
        expected += e.getValue()[0] - e.getValue()[1];
      }
    }
    assertThat(v.peek(C).others()).isEqualTo(expected);
  }
}
