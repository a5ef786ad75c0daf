package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.IdempotencyRecord;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RocksCounterStoreTest {

  private static final long CACHE = 8 << 20;

  @TempDir Path dir;

  @Test
  void commit_isReadBack_andSurvivesReopen() {
    CounterId likes42;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes", "views"), CACHE)) {
      likes42 = new CounterId(42, s.names().code("likes").orElseThrow());
      Commit c = new Commit();
      c.putCounter(likes42, new CounterValue(new Slot(5, 2), 1_900_000_000L));
      s.commit(c);
      assertThat(s.get(likes42).count()).isEqualTo(3);
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes", "views"), CACHE)) {
      assertThat(s.get(likes42)).isEqualTo(new CounterValue(new Slot(5, 2), 1_900_000_000L));
      assertThat(s.get(new CounterId(43, likes42.code()))).isEqualTo(CounterValue.NEVER_WRITTEN);
    }
  }

  @Test
  void names_keepTheirCodes_whenTheListIsReorderedOrExtended() {
    int likes;
    int views;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes", "views"), CACHE)) {
      likes = s.names().code("likes").orElseThrow();
      views = s.names().code("views").orElseThrow();
    }
    try (RocksCounterStore s =
        RocksCounterStore.open(dir, List.of("shares", "views", "likes"), CACHE)) {
      assertThat(s.names().code("likes")).contains(likes);
      assertThat(s.names().code("views")).contains(views);
      assertThat(s.names().code("shares").orElseThrow()).isNotIn(likes, views);
      assertThat(s.names().names()).containsExactly("shares", "views", "likes");
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      assertThat(s.names().names()).containsExactly("likes");
      assertThat(s.names().code("likes")).contains(likes);
    }
  }

  @Test
  void getAll_returnsValuesInRequestOrder() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      Commit c = new Commit();
      for (long post = 1; post <= 10; post++) {
        c.putCounter(new CounterId(post, 1), new CounterValue(new Slot(post, 0), 1));
      }
      s.commit(c);
      List<CounterValue> got =
          s.getAll(List.of(new CounterId(7, 1), new CounterId(99, 1), new CounterId(2, 1)));
      assertThat(got).extracting(CounterValue::count).containsExactly(7L, 0L, 2L);
    }
  }

  @Test
  void keys_areStoredWithTheirWrite_andPurgedAfterExpiry() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      CounterId id = new CounterId(1, 1);
      Commit c = new Commit();
      c.putCounter(id, new CounterValue(new Slot(1, 0), 100));
      c.putKey("k-old", new IdempotencyRecord(id, 1, 1, 100, 200));
      c.putKey("k-new", new IdempotencyRecord(id, 1, 1, 100, 10_000));
      s.commit(c);
      assertThat(s.getKeys(List.of("k-old", "nope", "k-new")))
          .extracting(r -> r == null ? null : r.expiresAtSecond())
          .containsExactly(200L, null, 10_000L);

      assertThat(s.purgeExpiredKeys(199, 100)).isZero();
      assertThat(s.purgeExpiredKeys(200, 100)).isEqualTo(1);
      assertThat(s.getKeys(List.of("k-old", "k-new")))
          .extracting(r -> r == null ? null : r.expiresAtSecond())
          .containsExactly(null, 10_000L);
    }
  }

  @Test
  void purge_keepsAKeyThatWasReusedAfterItExpired() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      CounterId id = new CounterId(1, 1);
      Commit c = new Commit();
      c.putKey("k", new IdempotencyRecord(id, 1, 1, 100, 200));
      s.commit(c);
      c.clear();
      c.putKey("k", new IdempotencyRecord(id, 1, 2, 300, 400));
      s.commit(c);
      assertThat(s.purgeExpiredKeys(250, 100)).isEqualTo(1);
      assertThat(s.getKeys(List.of("k")).getFirst().expiresAtSecond()).isEqualTo(400);
    }
  }

  @Test
  void open_failsClearly_whenAnotherStoreHoldsTheDirectory() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      assertThatThrownBy(() -> RocksCounterStore.open(dir, List.of("likes"), CACHE))
          .isInstanceOf(TallyException.class)
          .hasMessageContaining("cannot open the store");
    }
  }

  @Test
  void compaction_keepsCountersSmallOnDisk() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      Commit c = new Commit();
      int n = 100_000;
      for (long post = 1; post <= n; post++) {
        c.putCounter(
            new CounterId(post, 1), new CounterValue(new Slot(post % 1000, 0), 1_900_000_000L));
        if (c.counterCount() == 10_000) {
          s.commit(c);
          c.clear();
        }
      }
      s.compact();
      long bytes = s.statistic("counters.sst.bytes");
      // raw key+value is ~14 bytes; prefix-delta keys, ZSTD on the last level and no last-level
      // bloom filter take it under the 8-byte target
      assertThat(bytes).isPositive().isLessThan(8L * n);
    }
  }

  @Test
  void getIfInMemory_answersFromMemory_andNullWhenItWouldReadTheDisk() {
    CounterId id = new CounterId(5, 1);
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      Commit c = new Commit();
      c.putCounter(id, new CounterValue(new Slot(3, 0), 1));
      s.commit(c);
      assertThat(s.getIfInMemory(id).count()).isEqualTo(3); // in the memtable
      s.compact();
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      // freshly opened: the table block holding the counter is not cached yet
      assertThat(s.getIfInMemory(id)).isNull();
      assertThat(s.get(id).count()).isEqualTo(3);
      assertThat(s.getIfInMemory(id).count()).isEqualTo(3); // now in the block cache
    }
  }

  @Test
  void outbox_marksEveryCommittedCounterPerTarget_durably_andClearsOnlyUnchangedOnes() {
    CounterId a;
    CounterId b;
    CounterValue a1 = new CounterValue(new Slot(1, 0), 1_900_000_000L);
    CounterValue b1 = new CounterValue(new Slot(2, 1), 1_900_000_000L);
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      a = new CounterId(7, code);
      b = new CounterId(9, code);
      Commit before = new Commit();
      before.putCounter(new CounterId(5, code), a1);
      s.commit(before); // committed before the outbox was on: never marked
      s.enableOutbox(2);
      Commit c = new Commit();
      c.putCounter(a, a1);
      c.putCounter(b, b1);
      s.commit(c);
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      s.enableOutbox(2);
      assertThat(s.outboxPage(0, null, 10)).containsExactly(a, b);
      assertThat(s.outboxPage(1, null, 10)).containsExactly(a, b);
      assertThat(s.outboxPage(0, a, 10)).containsExactly(b);
      assertThat(s.outboxPage(0, null, 1)).containsExactly(a);

      // b changes after its push was taken: its mark must stay
      Commit again = new Commit();
      again.putCounter(b, b1.plus(1, 1_900_000_001L));
      s.commit(again);
      s.outboxRemoveIfCurrent(0, List.of(a, b), List.of(a1, b1));
      assertThat(s.outboxPage(0, null, 10)).containsExactly(b);
      assertThat(s.outboxPage(1, null, 10)).as("other targets keep theirs").containsExactly(a, b);
    }
  }

  @Test
  void counterPage_walksEveryCounterInIdOrder() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      Commit c = new Commit();
      for (long post = 1; post <= 25; post++) {
        c.putCounter(new CounterId(post, code), new CounterValue(new Slot(post, 0), 1));
      }
      s.commit(c);
      java.util.List<CounterId> all = new java.util.ArrayList<>();
      CounterId after = null;
      while (true) {
        java.util.List<CounterId> ids = new java.util.ArrayList<>();
        java.util.List<CounterValue> values = new java.util.ArrayList<>();
        s.counterPage(after, 10, ids, values);
        if (ids.isEmpty()) {
          break;
        }
        for (int i = 0; i < ids.size(); i++) {
          assertThat(values.get(i).count()).isEqualTo(ids.get(i).postId());
        }
        all.addAll(ids);
        after = ids.get(ids.size() - 1);
      }
      assertThat(all).hasSize(25);
      assertThat(all.get(0).postId()).isEqualTo(1);
      assertThat(all.get(24).postId()).isEqualTo(25);
    }
  }
}
