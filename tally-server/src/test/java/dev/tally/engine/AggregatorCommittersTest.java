package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.engine.WriteResult.Outcome;
import dev.tally.error.ErrorKind;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.FaultyStore;
import dev.tally.testing.ManualClock;
import dev.tally.testing.Poll;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What several committers add to {@link AggregatorTest} (which also runs with three): writes spread
 * over the committers' threads, batches answered once across them, and idempotency keys reused
 * across them.
 */
class AggregatorCommittersTest {

  private static final int COMMITTERS = 4;

  @TempDir Path dir;

  private final ManualClock clock = new ManualClock(Instant.parse("2030-10-10T12:11:42Z"));
  private FaultyStore store;
  private Aggregator aggregator;
  private final Set<String> committingThreads = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void open() {
    store = new FaultyStore(RocksCounterStore.open(dir, List.of("likes"), 8 << 20));
    aggregator = newAggregator();
    aggregator.addListener(
        (ids, values) -> committingThreads.add(Thread.currentThread().getName()));
    aggregator.start();
  }

  /** An aggregator with {@link #COMMITTERS} committers on the test's store, not started. */
  private Aggregator newAggregator() {
    return new Aggregator(
        store,
        new ReadCache(store, 10_000),
        clock,
        new Aggregator.Settings(
            10_000, 100_000, 10_000, Duration.ofHours(24), Duration.ofSeconds(1), COMMITTERS),
        new SimpleMeterRegistry());
  }

  @AfterEach
  void close() {
    aggregator.close();
    store.close();
  }

  private static CounterId likes(long post) {
    return new CounterId(post, 1);
  }

  /** The first post after {@code after} whose likes the committer {@code c} owns. */
  private static long postOf(int c, long after) {
    long post = after + 1;
    while (Aggregator.committerOf(likes(post), COMMITTERS) != c) {
      post++;
    }
    return post;
  }

  private WriteResult[] submit(Write... writes) throws Exception {
    CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
    aggregator.submit(writes, f::complete);
    return f.get(10, TimeUnit.SECONDS);
  }

  @Test
  void counters_spreadOverEveryCommitter() {
    int[] owned = new int[COMMITTERS];
    for (long post = 1; post <= 100_000; post++) {
      owned[Aggregator.committerOf(likes(post), COMMITTERS)]++;
    }
    for (int n : owned) {
      assertThat(n).isBetween(23_000, 27_000);
    }
  }

  @Test
  void aBatchOverEveryCommitter_isAnsweredOnce_eachItemInItsPlace() throws Exception {
    List<Write> writes = new ArrayList<>();
    List<Long> expected = new ArrayList<>();
    for (int round = 1; round <= 3; round++) {
      for (int c = 0; c < COMMITTERS; c++) {
        long post = postOf(c, 1000L * c);
        writes.add(new Write(likes(post), 1, null));
        expected.add((long) round);
      }
    }
    WriteResult[] r = submit(writes.toArray(new Write[0]));
    assertThat(r).hasSize(writes.size());
    for (int i = 0; i < r.length; i++) {
      assertThat(r[i].outcome()).isEqualTo(Outcome.APPLIED);
      assertThat(r[i].count()).as("item %d", i).isEqualTo(expected.get(i));
    }
    assertThat(committingThreads).hasSize(COMMITTERS);
    // a committer counts its round's writes as pending until it is done with the round, a moment
    // after it answered them
    Poll.until("no writes pending", Duration.ofSeconds(5), aggregator::pendingWrites, n -> n == 0);
  }

  @Test
  void concurrentWrites_overManyCounters_answerEachCountOnce_andLandExactly() throws Exception {
    int threads = 6;
    int perThread = 3_000;
    int posts = 50;
    Map<Long, List<Long>> answers = new ConcurrentHashMap<>();
    List<CompletableFuture<Void>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      CompletableFuture<Void> f = new CompletableFuture<>();
      done.add(f);
      int seed = t;
      Thread.ofPlatform()
          .start(
              () -> {
                java.util.concurrent.atomic.AtomicInteger left =
                    new java.util.concurrent.atomic.AtomicInteger(perThread);
                for (int i = 0; i < perThread; i++) {
                  // single writes and small batches, as the HTTP API and the Redis protocol send
                  int size = 1 + (i + seed) % 3;
                  Write[] ws = new Write[size];
                  for (int j = 0; j < size; j++) {
                    ws[j] = new Write(likes(1 + (i * 7L + j * 13L + seed) % posts), 1, null);
                  }
                  aggregator.submit(
                      ws,
                      r -> {
                        for (int j = 0; j < r.length; j++) {
                          answers
                              .computeIfAbsent(
                                  ws[j].counter().postId(),
                                  p -> Collections.synchronizedList(new ArrayList<>()))
                              .add(r[j].count());
                        }
                        if (left.decrementAndGet() == 0) {
                          f.complete(null);
                        }
                      });
                }
              });
    }
    CompletableFuture.allOf(done.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
    long total = 0;
    for (Map.Entry<Long, List<Long>> e : answers.entrySet()) {
      int n = e.getValue().size();
      total += n;
      assertThat(e.getValue().stream().sorted().toList())
          .as("post %d", e.getKey())
          .isEqualTo(LongStream.rangeClosed(1, n).boxed().toList());
      assertThat(store.get(likes(e.getKey())).count()).isEqualTo(n);
    }
    assertThat(total).isEqualTo((long) threads * (perThread / 3) * (1 + 2 + 3));
    assertThat(committingThreads).hasSize(COMMITTERS);
  }

  @Test
  void orderedCommits_areToldToTheListeners_oneAtATime_inTheOrderTheyWereWritten()
      throws Exception {
    aggregator.close();
    aggregator = newAggregator();
    List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
    aggregator.addListener(
        (ids, values) -> {
          seen.add(store.commits()); // this commit is the latest written
          committingThreads.add(Thread.currentThread().getName());
        });
    aggregator.orderCommits();
    aggregator.start();
    int before = store.commits();
    List<CompletableFuture<WriteResult[]>> answers = new ArrayList<>();
    for (int i = 0; i < 4_000; i++) {
      CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
      aggregator.submit(new Write[] {new Write(likes(1 + i % 64), 1, null)}, f::complete);
      answers.add(f);
    }
    CompletableFuture.allOf(answers.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
    List<Integer> expected = new ArrayList<>();
    for (int k = before + 1; k <= store.commits(); k++) {
      expected.add(k);
    }
    assertThat(seen).isEqualTo(expected);
    assertThat(committingThreads).hasSize(COMMITTERS);
  }

  @Test
  void aKeyInFlightOnOneCommitter_reusedForAnotherCommittersCounter_isAConflict() throws Exception {
    long mine = postOf(0, 0);
    long other = postOf(1, 0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    store.holdNextCommit(held, release);
    CompletableFuture<WriteResult[]> first = new CompletableFuture<>();
    aggregator.submit(new Write[] {new Write(likes(mine), 1, "k")}, first::complete);
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    // the first write is being committed, not yet durable: its key is only in flight
    WriteResult reused = submit(new Write(likes(other), 1, "k"))[0];
    assertThat(reused.outcome()).isEqualTo(Outcome.FAILED);
    assertThat(reused.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    // the other committer is not held up by it
    assertThat(submit(new Write(likes(other), 1, null))[0].count()).isEqualTo(1);
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)[0].outcome()).isEqualTo(Outcome.APPLIED);
    // once durable: a replay is a replay, a reuse still a conflict, and nothing counted twice
    assertThat(submit(new Write(likes(mine), 1, "k"))[0].outcome()).isEqualTo(Outcome.REPLAYED);
    assertThat(submit(new Write(likes(other), 1, "k"))[0].error().kind())
        .isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    assertThat(store.get(likes(mine)).count()).isEqualTo(1);
    assertThat(store.get(likes(other)).count()).isEqualTo(1);
  }

  @Test
  void aRecordedKeyReusedElsewhere_whileItsReplayIsInFlight_isAConflict_andLeavesTheClaim()
      throws Exception {
    long mine = postOf(0, 0);
    long other = postOf(1, 0);
    assertThat(submit(new Write(likes(mine), 1, "k"))[0].outcome()).isEqualTo(Outcome.APPLIED);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    store.holdNextCommit(held, release);
    CompletableFuture<WriteResult[]> replay = new CompletableFuture<>();
    aggregator.submit(new Write[] {new Write(likes(mine), 1, "k")}, replay::complete);
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    WriteResult reused = submit(new Write(likes(other), 1, "k"))[0];
    assertThat(reused.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    assertThat(aggregator.keysInFlight()).as("the replay's claim").isEqualTo(1);
    release.countDown();
    assertThat(replay.get(10, TimeUnit.SECONDS)[0].outcome()).isEqualTo(Outcome.REPLAYED);
    assertThat(aggregator.keysInFlight()).isZero();
    assertThat(store.get(likes(mine)).count()).isEqualTo(1);
    assertThat(store.get(likes(other)).count()).isZero();
  }

  @Test
  void aKeyWhoseFirstWriteFailed_isFreeAgain() throws Exception {
    long mine = postOf(0, 0);
    long other = postOf(1, 0);
    store.failNextCommits(1);
    assertThat(submit(new Write(likes(mine), 1, "k"))[0].error().kind())
        .isEqualTo(ErrorKind.UNAVAILABLE);
    WriteResult r = submit(new Write(likes(other), 1, "k"))[0];
    assertThat(r.outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(store.get(likes(mine)).count()).isZero();
  }

  @Test
  void oneKeyForTwoCommittersCounters_inOneBatch_appliesTheFirstOnly() throws Exception {
    long a = postOf(0, 0);
    long b = postOf(2, 0);
    WriteResult[] r =
        submit(
            new Write(likes(a), 1, "k"),
            new Write(likes(b), 1, "k"),
            new Write(likes(a), 1, "k"),
            new Write(likes(b), 1, null));
    assertThat(r[0].outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(r[1].error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    assertThat(r[2].outcome()).isEqualTo(Outcome.REPLAYED);
    assertThat(r[2].count()).isEqualTo(1);
    assertThat(r[3].count()).isEqualTo(1);
    assertThat(store.get(likes(a)).count()).isEqualTo(1);
    assertThat(store.get(likes(b)).count()).isEqualTo(1);
  }

  @Test
  void keysInFlight_areForgottenOnceAnswered() throws Exception {
    Set<String> keys = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      String k = "key-" + i;
      keys.add(k);
      submit(new Write(likes(1 + i % 17), 1, k), new Write(likes(2 + i % 5), 1, k + "-b"));
    }
    assertThat(aggregator.keysInFlight()).isZero();
    // every key is recorded: a reuse anywhere is a conflict
    for (String k : keys) {
      WriteResult r = submit(new Write(likes(99_999), 1, k))[0];
      assertThat(r.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    }
    assertThat(store.get(likes(99_999)).count()).isZero();
  }
}
