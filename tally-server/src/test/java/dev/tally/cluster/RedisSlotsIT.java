package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.Values;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** {@link RedisSlots} against a real 6-node Redis Cluster. */
class RedisSlotsIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private static RedisCluster cluster;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path redisDir;

  @BeforeAll
  static void startCluster() throws Exception {
    assertThat(RedisCluster.available())
        .as("redis-server and redis-cli must be installed (bin/test-deps)")
        .isTrue();
    cluster = RedisCluster.start(redisDir);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void flush() throws Exception {
    cluster.flushAll();
  }

  private static RedisSlots slots(long writer) {
    return new RedisSlots(cluster.seeds(), writer, TIMEOUT);
  }

  private static <T> T await(java.util.concurrent.CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void pushesOfThreeWriters_convergeToTheExactSum() throws Exception {
    List<CounterId> ids = List.of(new CounterId(812, 1), new CounterId(812, 2));
    try (RedisSlots a = slots(1);
        RedisSlots b = slots(2);
        RedisSlots c = slots(0xABCDEFL)) {
      await(a.push(ids, Values.of(List.of(new Slot(10, 3), new Slot(5, 0)))));
      await(b.push(ids, Values.of(List.of(new Slot(7, 0), new Slot(0, 2)))));
      await(c.push(ids, Values.of(List.of(new Slot(1, 9), new Slot(100, 1)))));

      assertThat(await(a.totals(ids)))
          .containsExactly(Map.entry(ids.get(0), 6L), Map.entry(ids.get(1), 102L));
      // each writer reads the same shared total
      assertThat(await(c.totals(ids))).isEqualTo(await(b.totals(ids)));
      assertThat(await(a.totals(List.of(new CounterId(813, 1)))))
          .containsExactly(Map.entry(new CounterId(813, 1), 0L));
    }
  }

  @Test
  void slotsAndTimesOfEveryVarintLength_areStoredExactly() throws Exception {
    long[] sizes = {
      0,
      127,
      128,
      16_383,
      16_384,
      2_097_151,
      2_097_152,
      268_435_455,
      268_435_456,
      1L << 40,
      (1L << 53) - 1
    };
    List<CounterId> ids = new ArrayList<>();
    List<CounterValue> values = new ArrayList<>();
    for (int i = 0; i < sizes.length; i++) {
      ids.add(new CounterId(70_000 + i, 1));
      // the time runs through the lengths too: seconds since 2020 from 1 to 2^28 and beyond
      long time = RedisSlots.TIME_BASE_SECOND + Math.max(1, Math.min(sizes[i], 1L << 31));
      values.add(new CounterValue(new Slot(sizes[i], sizes[sizes.length - 1 - i] / 2), time));
    }
    try (RedisSlots a = slots(5);
        RedisSlots b = slots(6)) {
      await(a.push(ids, values));
      await(b.push(ids, values)); // a second writer's entry after the first one's
      StoredCounter[] stored = await(a.records(ids));
      for (int i = 0; i < ids.size(); i++) {
        assertThat(stored[i].slotOf(5))
            .as("writer 5, counter %d", i)
            .isEqualTo(values.get(i).slot());
        assertThat(stored[i].slotOf(6))
            .as("writer 6, counter %d", i)
            .isEqualTo(values.get(i).slot());
        assertThat(stored[i].updatedAtSecond()).isEqualTo(values.get(i).updatedAtSecond());
      }
    }
  }

  @Test
  void manyRecordsReadTogether_matchTheirOneByOneReads_absentOnesIncluded() throws Exception {
    // more counters than one script call reads, over every primary; every third never pushed
    List<CounterId> ids = new ArrayList<>();
    List<CounterId> pushed = new ArrayList<>();
    List<CounterValue> values = new ArrayList<>();
    for (int i = 0; i < 3 * RedisSlots.MAX_COUNTERS_PER_READ; i++) {
      CounterId id = new CounterId(40_000_000L + 7L * i, 1 + i % 2);
      ids.add(id);
      if (i % 3 != 0) {
        pushed.add(id);
        values.add(new CounterValue(new Slot(i, i / 4), RedisSlots.TIME_BASE_SECOND + i + 1));
      }
    }
    try (RedisSlots a = slots(3)) {
      await(a.push(pushed, values));
      StoredCounter[] together = await(a.records(ids));
      assertThat(together).hasSize(ids.size());
      for (int i = 0; i < ids.size(); i++) {
        StoredCounter alone = await(a.records(List.of(ids.get(i))))[0];
        assertThat(together[i].entries()).as("counter %d", i).containsExactly(alone.entries());
        assertThat(together[i].updatedAtSecond()).isEqualTo(alone.updatedAtSecond());
        if (i % 3 == 0) {
          assertThat(together[i]).isSameAs(StoredCounter.ABSENT);
        } else {
          assertThat(together[i].slotOf(3)).isEqualTo(new Slot(i, i / 4));
        }
      }
    }
  }

  @Test
  void duplicatedAndReorderedPushes_neverChangeTheTotal() throws Exception {
    Random rnd = new Random(42);
    CounterId id = new CounterId(9_000_000_001L, 1);
    List<Slot> lastSlots = new ArrayList<>();
    try (RedisSlots a = slots(1);
        RedisSlots b = slots(2)) {
      for (RedisSlots writer : List.of(a, b)) {
        // a writer's history: slots only grow; pushed shuffled, each several times
        List<Slot> history = new ArrayList<>();
        Slot s = Slot.ZERO;
        for (int i = 0; i < 50; i++) {
          s = s.plus(rnd.nextInt(21) - 10);
          history.add(s);
        }
        Slot last = s;
        lastSlots.add(last);
        List<Slot> pushes = new ArrayList<>(history);
        pushes.addAll(history);
        Collections.shuffle(pushes, rnd);
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        for (Slot p : pushes) {
          inFlight.add(writer.push(List.of(id), Values.of(List.of(p))).toCompletableFuture());
        }
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
            .get(30, TimeUnit.SECONDS);
        writer
            .push(List.of(id), Values.of(List.of(last)))
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        long before = await(writer.totals(List.of(id))).get(id);
        // re-pushing the latest or any older slot changes nothing
        await(writer.push(List.of(id), Values.of(List.of(last))));
        await(writer.push(List.of(id), Values.of(List.of(history.get(0)))));
        await(writer.push(List.of(id), Values.of(List.of(Slot.ZERO))));
        assertThat(await(writer.totals(List.of(id))).get(id)).isEqualTo(before);
      }
      // the total is exactly the sum of both writers' latest slots
      long sum = lastSlots.stream().mapToLong(Slot::value).sum();
      try (RedisSlots reader = slots(424_242)) {
        assertThat(await(reader.totals(List.of(id))).get(id)).isEqualTo(sum);
      }
      assertThat(await(a.totals(List.of(id))).get(id)).isEqualTo(sum);
    }
  }

  @Test
  void manyCountersSpreadOverTheCluster_areAllExact_andSurviveAFlush() throws Exception {
    Random rnd = new Random(7);
    int posts = 2_500;
    List<CounterId> ids = new ArrayList<>();
    for (long post = 1; post <= posts; post++) {
      long postId = 1_000_000L + post * 7919;
      ids.add(new CounterId(postId, 1));
      ids.add(new CounterId(postId, 2));
    }
    Map<Long, List<Slot>> byWriter = new HashMap<>();
    Map<CounterId, Long> expected = new HashMap<>();
    for (long w = 1; w <= 3; w++) {
      List<Slot> s = new ArrayList<>();
      for (CounterId id : ids) {
        Slot slot = new Slot(rnd.nextInt(1_000_000), rnd.nextInt(3) == 0 ? rnd.nextInt(1000) : 0);
        s.add(slot);
        expected.merge(id, slot.value(), Long::sum);
      }
      byWriter.put(w, s);
    }
    List<RedisSlots> writers = List.of(slots(1), slots(2), slots(3));
    try {
      for (int w = 0; w < 3; w++) {
        await(writers.get(w).push(ids, Values.of(byWriter.get(w + 1L))));
      }
      assertThat(await(writers.get(0).totals(ids))).isEqualTo(expected);
      for (int port : cluster.primaries()) {
        long keys = Long.parseLong(cluster.cli(port, "dbsize").strip());
        assertThat(keys).as("keys on primary %d", port).isGreaterThan(posts / 6);
      }

      cluster.flushAll();
      assertThat(await(writers.get(1).totals(ids)).values()).containsOnly(0L);
      for (int w = 0; w < 3; w++) {
        await(writers.get(w).push(ids, Values.of(byWriter.get(w + 1L))));
      }
      assertThat(await(writers.get(2).totals(ids))).isEqualTo(expected);
    } finally {
      writers.forEach(RedisSlots::close);
    }
  }

  @Test
  void aKilledPrimary_failsOverAndPushesGoOn() throws Exception {
    List<CounterId> ids = new ArrayList<>();
    List<Slot> values = new ArrayList<>();
    for (long post = 1; post <= 300; post++) {
      ids.add(new CounterId(post, 1));
      values.add(new Slot(post, 1));
    }
    try (RedisSlots a = slots(1)) {
      await(a.push(ids, Values.of(values)));
      int victim = cluster.primaries().get(0) - cluster.port(0);
      cluster.kill(victim);
      List<Slot> more = values.stream().map(s -> s.plus(5)).toList();
      Poll.until(
          "a push after primary " + cluster.port(victim) + " was killed",
          Duration.ofSeconds(30),
          Duration.ofMillis(200),
          () -> await(a.push(ids, Values.of(more))),
          pushed -> true);
      Map<CounterId, Long> totals = await(a.totals(ids));
      for (int i = 0; i < ids.size(); i++) {
        assertThat(totals.get(ids.get(i))).isEqualTo(more.get(i).value());
      }
    } finally {
      // the rest of the tests run on a cluster whose killed primary was replaced by its replica
      cluster.awaitOk();
    }
  }

  @Test
  void memoryPerCounter_withOneWriter() throws Exception {
    int count = 20_000;
    int perBucket = 100;
    Random rnd = new Random(3);
    List<CounterId> ids = new ArrayList<>();
    List<Slot> values = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ids.add(new CounterId(100_000_000L + i * 104_729L, 1 + (i & 1)));
      values.add(new Slot(rnd.nextInt(100_000), rnd.nextInt(10) == 0 ? rnd.nextInt(100) : 0));
    }
    // the bucket count is part of the cluster's layout: start from an empty cluster, leave one
    cluster.flushAll();
    try (RedisSlots a =
        new RedisSlots(RedisOptions.plain(cluster.seeds(), TIMEOUT), 7, count / perBucket)) {
      long before = cluster.usedMemoryOfPrimaries();
      await(a.push(ids, Values.of(values)));
      Thread.sleep(2_000); // Redis shrinks the pipelined push's client buffers in its cron
      long after = cluster.usedMemoryOfPrimaries();
      double perCounter = (after - before) / (double) count;
      java.util.Set<String> buckets = new java.util.TreeSet<>();
      for (CounterId id : ids) {
        buckets.add(a.key(id));
      }
      long usage = 0;
      java.util.Map<String, Integer> encodings = new java.util.TreeMap<>();
      for (String bucket : buckets) {
        usage +=
            Long.parseLong(
                cluster
                    .cli(cluster.anyLivePort(), "-c", "memory", "usage", bucket, "samples", "0")
                    .strip());
        encodings.merge(
            cluster.cli(cluster.anyLivePort(), "-c", "object", "encoding", bucket).strip(),
            1,
            Integer::sum);
      }
      double usagePerCounter = usage / (double) count;
      System.out.printf(
          "redis memory per counter, one writer, %d buckets of ≈ %d counters: MEMORY USAGE %.1f"
              + " B, used_memory delta %.1f B, encodings %s%n",
          buckets.size(), perBucket, usagePerCounter, perCounter, encodings);
      assertThat(await(a.totals(ids.subList(0, 100))).values())
          .containsExactlyElementsOf(values.subList(0, 100).stream().map(Slot::value).toList());
      cluster.flushAll();
      double plain = plainStringKeysPerCounter(ids, values);
      System.out.printf(
          "redis memory per counter, one writer, plain string key per counter: %.1f B%n", plain);
      // the target is 32 B; a regression to a key per counter would be ≈ 100 B
      assertThat(usagePerCounter).isLessThan(40);
    } finally {
      cluster.flushAll();
    }
  }

  /**
   * Ten writers come and go: each writes every counter, then nine are retired. Their shares fold
   * into the base entry, every total stays exact, a retired writer's pushes and restarts are
   * refused, and the records shrink back to about one writer's size.
   */
  @Test
  void writersThatComeAndGo_foldIntoTheBase_totalsStay_andRetiredOnesAreFenced() throws Exception {
    int count = 2_000;
    int perBucket = 100;
    int buckets = count / perBucket;
    List<CounterId> ids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ids.add(new CounterId(200_000_000L + i * 7_919L, 1));
    }
    cluster.flushAll();
    RedisOptions options = RedisOptions.plain(cluster.seeds(), TIMEOUT);
    List<RedisSlots> writers = new ArrayList<>();
    try {
      Map<CounterId, Long> expected = new java.util.HashMap<>();
      Random rnd = new Random(11);
      for (long w = 1; w <= 10; w++) {
        RedisSlots slots = new RedisSlots(options, w, buckets);
        writers.add(slots);
        List<Slot> values = new ArrayList<>();
        for (CounterId id : ids) {
          Slot s = new Slot(1 + rnd.nextInt(1000), rnd.nextInt(50));
          values.add(s);
          expected.merge(id, s.value(), Long::sum);
        }
        await(slots.push(ids, Values.of(values)));
      }
      double tenWriters = memoryUsagePerCounter(writers.get(0), ids);
      assertThat(await(writers.get(9).totals(ids))).isEqualTo(expected);

      WriterRetirement retirement = new WriterRetirement(writers.get(9).connection(), buckets);
      for (long w = 1; w <= 9; w++) {
        assertThat(retirement.retire(w)).as("records folded for writer %d", w).isEqualTo(count);
      }
      assertThat(retirement.retire(3)).as("retiring again finds nothing to fold").isZero();
      double oneWriterAndBase = memoryUsagePerCounter(writers.get(0), ids);
      System.out.printf(
          "redis memory per counter after 10 writers came and 9 were retired: MEMORY USAGE %.1f B"
              + " with 10 writers, %.1f B after folding 9 into the base%n",
          tenWriters, oneWriterAndBase);

      assertThat(await(writers.get(9).totals(ids))).isEqualTo(expected);
      StoredCounter record = await(writers.get(9).records(ids.subList(0, 1)))[0];
      assertThat(record.writers()).as("base and writer 10").isEqualTo(2);
      assertThat(await(retirement.retired()))
          .containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);

      // a retired writer's late push is refused and changes nothing; it cannot start again
      Slot late = new Slot(1_000_000, 0);
      assertThatThrownBy(
              () -> await(writers.get(2).push(ids.subList(0, 1), Values.of(List.of(late)))))
          .hasMessageContaining("RETIRED");
      assertThat(await(writers.get(9).totals(ids.subList(0, 1))).get(ids.get(0)))
          .isEqualTo(expected.get(ids.get(0)));
      assertThatThrownBy(() -> new RedisSlots(options, 3, buckets).close())
          .hasMessageContaining("was retired");
      // writer 10 goes on as before
      await(writers.get(9).push(ids.subList(0, 1), Values.of(List.of(late))));
      assertThat(await(writers.get(9).totals(ids.subList(0, 1))).get(ids.get(0)))
          .isGreaterThan(expected.get(ids.get(0)));
      // reasonable bounds: ten writers take > 100 B per counter, one writer and a base < 50 B
      assertThat(tenWriters).isGreaterThan(100);
      assertThat(oneWriterAndBase).isLessThan(50);
    } finally {
      writers.forEach(RedisSlots::close);
      cluster.flushAll();
    }
  }

  /** MEMORY USAGE of the buckets holding {@code ids}, per counter. */
  private static double memoryUsagePerCounter(RedisSlots slots, List<CounterId> ids)
      throws Exception {
    java.util.Set<String> buckets = new java.util.TreeSet<>();
    for (CounterId id : ids) {
      buckets.add(slots.key(id));
    }
    long usage = 0;
    for (String bucket : buckets) {
      usage +=
          Long.parseLong(
              cluster
                  .cli(cluster.anyLivePort(), "-c", "memory", "usage", bucket, "samples", "0")
                  .strip());
    }
    return usage / (double) ids.size();
  }

  /** used_memory per counter when each counter is a plain string key holding its total. */
  private static double plainStringKeysPerCounter(List<CounterId> ids, List<Slot> values)
      throws Exception {
    RedisClusterClient client =
        RedisClusterClient.create(
            cluster.seeds().stream().map(s -> RedisURI.create("redis://" + s)).toList());
    try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
      long before = cluster.usedMemoryOfPrimaries();
      List<CompletableFuture<String>> sets = new ArrayList<>();
      for (int i = 0; i < ids.size(); i++) {
        sets.add(
            c.async()
                .set(
                    "p:{" + RedisSlots.counterName(ids.get(i)) + "}",
                    Long.toString(values.get(i).value()))
                .toCompletableFuture());
      }
      CompletableFuture.allOf(sets.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      return (cluster.usedMemoryOfPrimaries() - before) / (double) ids.size();
    } finally {
      client.shutdown();
    }
  }
}
