package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.error.TallyException;
import dev.tally.store.Commit;
import dev.tally.store.IdempotencyRecord;
import dev.tally.store.StoreStatistic;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

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
  void aCommitsKeys_shareOneExpiryEntry_andArePurgedTogether_keepingAKeyReusedSince() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      CounterId id = new CounterId(1, 1);
      Commit c = new Commit();
      for (String k : List.of("a", "b".repeat(255), "c", "d")) {
        c.putKey(k, new IdempotencyRecord(id, 1, 1, 100, 200));
      }
      c.putKey("later", new IdempotencyRecord(id, 1, 1, 100, 300));
      s.commit(c);
      // "c" expired and was used again
      c.clear();
      c.putKey("c", new IdempotencyRecord(id, 1, 7, 250, 500));
      s.commit(c);
      // one entry names the first commit's four keys of second 200: a purge takes it whole
      assertThat(s.purgeExpiredKeys(260, 1)).isEqualTo(4);
      List<IdempotencyRecord> left = s.getKeys(List.of("a", "b".repeat(255), "c", "d", "later"));
      assertThat(left.get(0)).isNull();
      assertThat(left.get(1)).isNull();
      assertThat(left.get(2).count()).isEqualTo(7);
      assertThat(left.get(3)).isNull();
      assertThat(left.get(4)).isNotNull();
      assertThat(s.purgeExpiredKeys(260, 100)).isZero();
      assertThat(s.purgeExpiredKeys(300, 100)).isEqualTo(1);
      assertThat(s.purgeExpiredKeys(500, 100)).isEqualTo(1);
      assertThat(s.getKeys(List.of("later", "c"))).containsOnlyNulls();
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

  /**
   * Committers commit at once, each its own counters, while expired keys are purged: every commit
   * lands whole, and a key reused after its expiry (a new record, committed while the purge runs)
   * survives the purge of its old record.
   */
  @Test
  void concurrentCommits_ofTheirOwnCounters_allLand_whileExpiredKeysArePurged() throws Exception {
    int threads = 4;
    int commits = 300;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      // keys that expired at 200, each to be reused by the committers with a later expiry
      Commit old = new Commit();
      for (int t = 0; t < threads; t++) {
        for (int i = 0; i < commits; i++) {
          old.putKey(
              "k-" + t + "-" + i, new IdempotencyRecord(new CounterId(1, 1), 1, 1, 100, 200));
        }
      }
      s.commit(old);
      List<Thread> committers = new ArrayList<>();
      java.util.concurrent.atomic.AtomicReference<Throwable> failed =
          new java.util.concurrent.atomic.AtomicReference<>();
      for (int t = 0; t < threads; t++) {
        int me = t;
        committers.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        Commit c = new Commit();
                        for (int i = 0; i < commits; i++) {
                          c.clear();
                          for (int j = 0; j < 10; j++) {
                            long post = 1 + me + (long) threads * j; // this thread's own posts
                            c.putCounter(
                                new CounterId(post, 1), new CounterValue(new Slot(i + 1, 0), 300));
                          }
                          c.putKey(
                              "k-" + me + "-" + i,
                              new IdempotencyRecord(new CounterId(1 + me, 1), 1, i + 1, 300, 900));
                          s.commit(c);
                        }
                      } catch (Throwable e) {
                        failed.set(e);
                      }
                    }));
      }
      int purged = 0;
      while (committers.stream().anyMatch(Thread::isAlive)) {
        purged += s.purgeExpiredKeys(250, 50);
      }
      for (Thread c : committers) {
        c.join();
      }
      purged += s.purgeExpiredKeys(250, 100_000);
      assertThat(failed.get()).isNull();
      assertThat(purged).isEqualTo(threads * commits);
      for (int t = 0; t < threads; t++) {
        for (int j = 0; j < 10; j++) {
          long post = 1 + t + (long) threads * j;
          assertThat(s.get(new CounterId(post, 1)).count()).isEqualTo(commits);
        }
        for (int i = 0; i < commits; i++) {
          IdempotencyRecord r = s.getKeys(List.of("k-" + t + "-" + i)).getFirst();
          assertThat(r).as("k-%d-%d", t, i).isNotNull();
          assertThat(r.expiresAtSecond()).isEqualTo(900);
        }
      }
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
      long bytes = s.statistic(StoreStatistic.COUNTERS_SST_BYTES);
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
  void outbox_logsEveryCommitPerTarget_durably_inOrder_andClearsThroughANumber() {
    CounterId a;
    CounterId b;
    CounterId c;
    CounterValue v = new CounterValue(new Slot(1, 0), 1_900_000_000L);
    long first;
    long second;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      a = new CounterId(7, code);
      b = new CounterId(9, code);
      c = new CounterId(3, code);
      s.commit(commitOf(v, new CounterId(5, code))); // before the outbox was on: not logged
      s.enableOutbox(2);
      assertThat(s.outboxSeq()).isZero();
      s.commit(commitOf(v, a, b));
      first = s.outboxSeq();
      s.commit(commitOf(v, c, a));
      second = s.outboxSeq();
      assertThat(second).isGreaterThan(first);
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      s.enableOutbox(2);
      assertThat(s.outboxSeq()).as("numbers go on after a restart").isEqualTo(second);
      assertThat(read(s, 0, 0, 10)).containsExactly(a, b, c);
      assertThat(read(s, 1, 0, 10)).containsExactly(a, b, c);
      assertThat(read(s, 0, first, 10)).as("after the first entry").containsExactly(c, a);
      Set<CounterId> page = new LinkedHashSet<>();
      assertThat(s.outboxRead(0, 0, 1, page)).as("whole entries, up to the limit").isEqualTo(first);
      assertThat(page).containsExactly(a, b);
      assertThat(s.outboxRead(0, second, 10, new LinkedHashSet<>())).isEqualTo(second);

      s.outboxClear(0, first);
      assertThat(read(s, 0, 0, 10)).containsExactly(c, a);
      assertThat(read(s, 1, 0, 10)).as("other targets keep theirs").containsExactly(a, b, c);
      s.outboxClear(0, second);
      assertThat(read(s, 0, 0, 10)).isEmpty();
      s.commit(commitOf(v, b));
      assertThat(read(s, 0, 0, 10)).containsExactly(b);
      assertThat(s.outboxEstimate()).isPositive();
    }
  }

  @Test
  void outbox_clearsLongRunsWithOneRangeDeletion() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      s.enableOutbox(1);
      CounterValue v = new CounterValue(new Slot(1, 0), 1_900_000_000L);
      for (long post = 1; post <= 5000; post++) {
        s.commit(commitOf(v, new CounterId(post, code)));
      }
      long last = s.outboxSeq();
      s.commit(commitOf(v, new CounterId(9999, code)));
      s.outboxClear(0, last);
      assertThat(read(s, 0, 0, 10_000)).containsExactly(new CounterId(9999, code));
    }
  }

  @Test
  void outbox_turnsMarksOfTheEarlierFormatIntoEntries() throws Exception {
    CounterId a;
    CounterId b;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      a = new CounterId(7, code);
      b = new CounterId(9, code);
    }
    // the earlier format: one empty value per target and counter, keyed target byte + counter id
    rawDb(
        (db, family) -> {
          for (int t = 0; t < 2; t++) {
            for (CounterId id : List.of(a, b)) {
              byte[] k = new byte[1 + CounterId.ENCODED_LENGTH];
              k[0] = (byte) t;
              System.arraycopy(id.toBytes(), 0, k, 1, CounterId.ENCODED_LENGTH);
              db.put(family.apply("outbox"), k, new byte[0]);
            }
          }
        });
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      s.enableOutbox(2);
      assertThat(read(s, 0, 0, 10)).containsExactlyInAnyOrder(a, b);
      assertThat(read(s, 1, 0, 10)).containsExactlyInAnyOrder(a, b);
      s.commit(commitOf(new CounterValue(new Slot(1, 0), 1_900_000_000L), a));
      s.outboxClear(0, s.outboxSeq() - 1);
      assertThat(read(s, 0, 0, 10)).as("the new entry is numbered after them").containsExactly(a);
    }
  }

  @Test
  void keysOfTheEarlierForm_areFound_untilThePurgeHasTakenTheLastOfThem() throws Exception {
    CounterId id;
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      id = new CounterId(5, s.names().code("likes").orElseThrow());
      assertThat(s.legacyKeysUntil()).as("a new store holds none").isZero();
    }
    // a store of an earlier version: bare keys (one of them a single byte), their expiry entries
    // (the second one naming two keys), and no record of the key format
    rawDb(
        (db, family) -> {
          ColumnFamilyHandle keys = family.apply("idempotency");
          ColumnFamilyHandle expiry = family.apply("idempotency-expiry");
          for (String k : List.of("old-1", "x", "old-2")) {
            long expires = k.equals("old-1") ? 300 : 400;
            db.put(
                keys,
                Codec.legacyKeyBytes(k),
                Codec.idempotencyRecord(new IdempotencyRecord(id, 1, 1, 100, expires)));
          }
          db.put(expiry, Codec.expiryKey(300, Codec.legacyKeyBytes("old-1")), new byte[0]);
          db.put(
              expiry,
              Codec.expiryKey(400, Codec.legacyKeyBytes("x")),
              new byte[] {5, 'o', 'l', 'd', '-', '2'});
          db.delete(
              family.apply("default"), "idempotency-key-format".getBytes(StandardCharsets.UTF_8));
        });
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      assertThat(s.legacyKeysUntil()).isEqualTo(400);
      Commit c = new Commit();
      c.putKey("new", new IdempotencyRecord(id, 1, 2, 150, 1_000));
      s.commit(c);
      assertThat(s.getKeys(List.of("old-1", "new", "x", "nope", "old-2")))
          .extracting(r -> r == null ? null : r.expiresAtSecond())
          .containsExactly(300L, 1_000L, 400L, null, 400L);

      assertThat(s.purgeExpiredKeys(300, 100)).isEqualTo(1);
      assertThat(s.getKeys(List.of("old-1", "x")))
          .extracting(r -> r == null)
          .containsExactly(true, false);
      assertThat(s.legacyKeysUntil()).as("keys of the earlier form are left").isEqualTo(400);
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      assertThat(s.legacyKeysUntil()).as("recorded").isEqualTo(400);
      assertThat(s.purgeExpiredKeys(400, 1)).isEqualTo(2);
      assertThat(s.legacyKeysUntil()).as("the purge stopped at its limit").isEqualTo(400);
      assertThat(s.purgeExpiredKeys(400, 100)).isZero();
      assertThat(s.legacyKeysUntil()).isZero();
      assertThat(s.getKeys(List.of("x", "old-2", "new")))
          .extracting(r -> r == null ? null : r.expiresAtSecond())
          .containsExactly(null, null, 1_000L);
    }
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      assertThat(s.legacyKeysUntil()).as("recorded").isZero();
    }
  }

  private interface RawWork {
    void run(RocksDB db, java.util.function.Function<String, ColumnFamilyHandle> family)
        throws Exception;
  }

  /** Runs {@code work} on the store in {@code dir} opened as a bare RocksDB, as a tool would. */
  private void rawDb(RawWork work) throws Exception {
    List<byte[]> families = RocksDB.listColumnFamilies(new Options(), dir.toString());
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    for (byte[] f : families) {
      descriptors.add(new ColumnFamilyDescriptor(f));
    }
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try (DBOptions o = new DBOptions();
        RocksDB db = RocksDB.open(o, dir.toString(), descriptors, handles)) {
      work.run(
          db,
          name -> {
            for (int i = 0; i < families.size(); i++) {
              if (new String(families.get(i), StandardCharsets.UTF_8).equals(name)) {
                return handles.get(i);
              }
            }
            throw new IllegalArgumentException(name);
          });
      handles.forEach(ColumnFamilyHandle::close);
    }
  }

  private static Commit commitOf(CounterValue v, CounterId... ids) {
    Commit c = new Commit();
    for (CounterId id : ids) {
      c.putCounter(id, v);
    }
    return c;
  }

  private static Set<CounterId> read(RocksCounterStore s, int target, long after, int limit) {
    Set<CounterId> ids = new LinkedHashSet<>();
    s.outboxRead(target, after, limit, ids);
    return ids;
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

  @Test
  void counterPage_walksCountersInIdOrder_fromFilesAndTheMemtable_continuingOrNot() {
    try (RocksCounterStore s = RocksCounterStore.open(dir, List.of("likes"), CACHE)) {
      int code = s.names().code("likes").orElseThrow();
      List<Long> posts = new java.util.ArrayList<>();
      for (long post = 1; post <= 600; post++) {
        posts.add(post * 7919 % 100_003); // spread, none repeated
      }
      java.util.Collections.shuffle(posts, new java.util.Random(11));
      for (int half = 0; half < 2; half++) {
        Commit c = new Commit();
        for (long post : posts.subList(half * 300, half * 300 + 300)) {
          c.putCounter(new CounterId(post, code), new CounterValue(new Slot(post, 0), 1));
        }
        s.commit(c);
        if (half == 0) {
          s.compact(); // the first half in files, the second in the memtable
        }
      }
      List<Long> sorted = posts.stream().sorted().toList();

      List<Long> seen = new java.util.ArrayList<>();
      CounterId after = null;
      for (int page = 0; ; page++) {
        List<CounterId> ids = new java.util.ArrayList<>();
        List<CounterValue> values = new java.util.ArrayList<>();
        s.counterPage(after, 64, ids, values);
        if (ids.isEmpty()) {
          break;
        }
        for (int i = 0; i < ids.size(); i++) {
          assertThat(values.get(i).count()).isEqualTo(ids.get(i).postId());
          seen.add(ids.get(i).postId());
        }
        after = ids.get(ids.size() - 1);
        // a full page leaves its scan open for the next, which continues it; the last closes it
        assertThat(s.openScans()).isEqualTo(ids.size() == 64 ? 1 : 0);
        if (page == 2) {
          // a commit behind the cursor while the scan is open
          Commit c = new Commit();
          c.putCounter(new CounterId(1, code), new CounterValue(new Slot(5, 0), 1));
          s.commit(c);
        }
      }
      assertThat(seen).isEqualTo(sorted);
      assertThat(s.openScans()).isZero();

      // a page from a cursor no open scan stopped at starts a new scan there
      List<CounterId> ids = new java.util.ArrayList<>();
      s.counterPage(new CounterId(sorted.get(99), code), 3, ids, new java.util.ArrayList<>());
      assertThat(ids)
          .extracting(CounterId::postId)
          .containsExactlyElementsOf(sorted.subList(100, 103));
      // and a new walk sees the commit made during the first one
      ids.clear();
      s.counterPage(null, 1, ids, new java.util.ArrayList<>());
      assertThat(ids).extracting(CounterId::postId).containsExactly(1L);
      s.close(); // with a scan open
      assertThat(s.openScans()).isZero();
    }
  }
}
