package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.engine.WriteResult.Outcome;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.FaultyStore;
import dev.tally.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AggregatorTest {

  @TempDir Path dir;

  private final ManualClock clock = new ManualClock(Instant.parse("2030-10-10T12:11:42Z"));
  private FaultyStore store;
  private ReadCache reads;
  private Aggregator aggregator;

  @BeforeEach
  void open() {
    store = new FaultyStore(RocksCounterStore.open(dir, List.of("likes", "views"), 8 << 20));
    start(settings(10_000, 100_000));
  }

  private void start(Aggregator.Settings s) {
    reads = new ReadCache(store, 10_000);
    aggregator = new Aggregator(store, reads, clock, s, new SimpleMeterRegistry());
    aggregator.start();
  }

  private Aggregator.Settings settings(int maxBatch, int maxPending) {
    return new Aggregator.Settings(
        maxBatch, maxPending, 10_000, Duration.ofHours(24), Duration.ofSeconds(1), committers());
  }

  /** Committer threads; {@link AggregatorThreeCommittersTest} runs every test here with three. */
  int committers() {
    return 1;
  }

  @AfterEach
  void close() {
    aggregator.close();
    store.close();
  }

  private static CounterId likes(long post) {
    return new CounterId(post, 1);
  }

  /**
   * The likes of the {@code i}-th post (from 1) that the first committer owns: for tests of what
   * writes committed together do (with one committer, {@code likes(i)}).
   */
  private CounterId together(int i) {
    long post = 0;
    for (int found = 0; found < i; ) {
      if (Aggregator.committerOf(likes(++post), committers()) == 0) {
        found++;
      }
    }
    return likes(post);
  }

  private WriteResult[] submit(Write... writes) throws Exception {
    CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
    aggregator.submit(writes, f::complete);
    return f.get(10, TimeUnit.SECONDS);
  }

  @Test
  void write_answersTheCountAfterIt_withTheClockTime() throws Exception {
    WriteResult r = submit(new Write(likes(1), 1, null))[0];
    assertThat(r.outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(r.count()).isEqualTo(1);
    assertThat(r.updatedAtSecond()).isEqualTo(clock.instant().getEpochSecond());
    assertThat(submit(new Write(likes(1), -1, null))[0].count()).isZero();
    assertThat(store.get(likes(1)).slot().p()).isEqualTo(1);
    assertThat(store.get(likes(1)).slot().n()).isEqualTo(1);
  }

  @Test
  void concurrentWrites_toOneCounter_answerEachCountOnce_andLandExactly() throws Exception {
    int threads = 8;
    int perThread = 2_000;
    List<Long> answers = java.util.Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<Void>> done = new ArrayList<>();
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      CompletableFuture<Void> f = new CompletableFuture<>();
      done.add(f);
      ts.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    java.util.concurrent.atomic.AtomicInteger left =
                        new java.util.concurrent.atomic.AtomicInteger(perThread);
                    for (int i = 0; i < perThread; i++) {
                      aggregator.submit(
                          new Write[] {new Write(likes(7), 1, null)},
                          r -> {
                            answers.add(r[0].count());
                            if (left.decrementAndGet() == 0) {
                              f.complete(null);
                            }
                          });
                    }
                  }));
    }
    CompletableFuture.allOf(done.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
    int n = threads * perThread;
    assertThat(answers).hasSize(n);
    assertThat(answers.stream().sorted().toList())
        .isEqualTo(java.util.stream.LongStream.rangeClosed(1, n).boxed().toList());
    assertThat(store.get(likes(7)).count()).isEqualTo(n);
    // coalescing: far fewer store commits than writes
    assertThat(store.commits()).isLessThan(n);
  }

  @Test
  void idempotencyKey_appliesOnce_andRepeatsTheFirstAnswer() throws Exception {
    WriteResult first = submit(new Write(likes(1), 1, "k1"))[0];
    submit(new Write(likes(1), 1, null));
    clock.advance(Duration.ofMinutes(5));
    WriteResult again = submit(new Write(likes(1), 1, "k1"))[0];
    assertThat(first.outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(again.outcome()).isEqualTo(Outcome.REPLAYED);
    assertThat(again.count()).isEqualTo(first.count());
    assertThat(again.updatedAtSecond()).isEqualTo(first.updatedAtSecond());
    assertThat(store.get(likes(1)).count()).isEqualTo(2);
  }

  @Test
  void idempotencyKey_repeatedInTheSameBatch_appliesOnce() throws Exception {
    WriteResult[] r =
        submit(
            new Write(likes(1), 1, "same"),
            new Write(likes(1), 1, "same"),
            new Write(likes(1), 1, "other"));
    assertThat(r)
        .extracting(WriteResult::outcome)
        .containsExactly(Outcome.APPLIED, Outcome.REPLAYED, Outcome.APPLIED);
    assertThat(r[1].count()).isEqualTo(1);
    assertThat(store.get(likes(1)).count()).isEqualTo(2);
  }

  @Test
  void idempotencyKey_reusedForADifferentWrite_isAConflict_andChangesNothing() throws Exception {
    submit(new Write(likes(1), 1, "k"));
    WriteResult otherAction = submit(new Write(likes(1), -1, "k"))[0];
    WriteResult otherCounter = submit(new Write(likes(2), 1, "k"))[0];
    assertThat(otherAction.outcome()).isEqualTo(Outcome.FAILED);
    assertThat(otherAction.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    assertThat(otherCounter.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
    assertThat(store.get(likes(1)).count()).isEqualTo(1);
    assertThat(store.get(likes(2)).count()).isZero();
  }

  @Test
  void idempotencyKey_isForgottenAfterRetention() throws Exception {
    submit(new Write(likes(1), 1, "k"));
    clock.advance(Duration.ofHours(24).plusSeconds(1));
    WriteResult r = submit(new Write(likes(1), 1, "k"))[0];
    assertThat(r.outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(r.count()).isEqualTo(2);
  }

  @Test
  void failedCommit_failsEveryWriteOfTheBatch_andARetryAppliesOnce() throws Exception {
    submit(new Write(together(1), 1, "a"));
    store.failNextCommits(1);
    WriteResult[] failed = submit(new Write(together(1), 1, "b"), new Write(together(2), 1, null));
    assertThat(failed)
        .allSatisfy(
            r -> {
              assertThat(r.outcome()).isEqualTo(Outcome.FAILED);
              assertThat(r.error().retriable()).isTrue();
            });
    assertThat(store.get(together(1)).count()).isEqualTo(1);
    // the committer dropped the failed batch's effects: the retry counts from the stored value
    WriteResult retry = submit(new Write(together(1), 1, "b"))[0];
    assertThat(retry.outcome()).isEqualTo(Outcome.APPLIED);
    assertThat(retry.count()).isEqualTo(2);
    assertThat(reads.read(together(1)).count()).isEqualTo(2);
  }

  @Test
  void submit_beyondThePendingBound_isRejectedAsOverloaded() {
    aggregator.close();
    start(settings(10, 3));
    // the committer may take some of these at once; the bound counts unanswered writes
    Write[] four = new Write[4];
    java.util.Arrays.fill(four, new Write(likes(1), 1, null));
    assertThatThrownBy(() -> aggregator.submit(four, r -> {}))
        .isInstanceOf(TallyException.class)
        .extracting(e -> ((TallyException) e).kind())
        .isEqualTo(ErrorKind.OVERLOADED);
    assertThat(aggregator.pendingWrites()).isZero();
  }

  @Test
  void close_answersQueuedWrites_thenRefusesNewOnes() throws Exception {
    List<CompletableFuture<WriteResult[]>> futures = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
      aggregator.submit(new Write[] {new Write(likes(3), 1, null)}, f::complete);
      futures.add(f);
    }
    aggregator.close();
    for (CompletableFuture<WriteResult[]> f : futures) {
      assertThat(f.get(1, TimeUnit.SECONDS)[0].outcome()).isEqualTo(Outcome.APPLIED);
    }
    assertThat(store.get(likes(3)).count()).isEqualTo(1_000);
    assertThatThrownBy(() -> aggregator.submit(new Write[] {new Write(likes(3), 1, null)}, r -> {}))
        .extracting(e -> ((TallyException) e).kind())
        .isEqualTo(ErrorKind.UNAVAILABLE);
  }

  @Test
  void readCache_seesEveryAcknowledgedWrite() throws Exception {
    assertThat(reads.read(likes(9)).count()).isZero();
    submit(new Write(likes(9), 1, null));
    assertThat(reads.peek(likes(9)).count()).isEqualTo(1);
    assertThat(reads.read(likes(9)).count()).isEqualTo(1);
  }

  // repeated: the race it guards against showed in about one run in thirty before it was closed
  @org.junit.jupiter.api.RepeatedTest(20)
  void readCache_neverAnswersBehindAnAcknowledgedWrite_whileCommitsAndEvictionsRace()
      throws Exception {
    aggregator.close();
    reads = new ReadCache(store, 4); // 16 counters through 4 places: readers refill it all the time
    aggregator =
        new Aggregator(store, reads, clock, settings(10_000, 100_000), new SimpleMeterRegistry());
    aggregator.start();
    int counters = 16;
    java.util.concurrent.atomic.AtomicLongArray acked =
        new java.util.concurrent.atomic.AtomicLongArray(counters);
    java.util.concurrent.atomic.AtomicBoolean done =
        new java.util.concurrent.atomic.AtomicBoolean();
    List<String> behind = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> readers = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      long seed = t;
      readers.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
                    try {
                      while (!done.get()) {
                        int c = random.nextInt(counters);
                        long before = acked.get(c);
                        var v =
                            random.nextBoolean()
                                ? reads.read(likes(c + 1))
                                : reads.peek(likes(c + 1));
                        if (v != null && v.count() < before) {
                          behind.add("post " + c + ": read " + v.count() + " after " + before);
                        }
                      }
                    } catch (RuntimeException e) {
                      behind.add("reader failed: " + e);
                    }
                  }));
    }
    java.util.SplittableRandom random = new java.util.SplittableRandom(7);
    List<CompletableFuture<WriteResult[]>> futures = new ArrayList<>();
    for (int i = 0; i < 5_000; i++) {
      int c = random.nextInt(counters);
      CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
      aggregator.submit(
          new Write[] {new Write(likes(c + 1), 1, null)},
          r -> {
            acked.accumulateAndGet(c, r[0].count(), Math::max);
            f.complete(r);
          });
      futures.add(f);
      if (futures.size() % 100 == 0) {
        futures.get(futures.size() - 50).get(5, TimeUnit.SECONDS); // keep a few batches in flight
      }
    }
    for (CompletableFuture<WriteResult[]> f : futures) {
      assertThat(f.get(5, TimeUnit.SECONDS)[0].outcome()).isEqualTo(Outcome.APPLIED);
    }
    done.set(true);
    for (Thread r : readers) {
      r.join(5_000);
    }
    assertThat(behind).isEmpty();
    long total = 0;
    for (int c = 0; c < counters; c++) {
      assertThat(reads.read(likes(c + 1)).count()).isEqualTo(acked.get(c));
      total += acked.get(c);
    }
    assertThat(total).isEqualTo(5_000);
  }

  @Test
  void listeners_hearEveryDurableCommit_butNotFailedOnes() throws Exception {
    List<String> heard = java.util.Collections.synchronizedList(new ArrayList<>());
    aggregator.addListener(
        (ids, values) -> {
          for (int i = 0; i < ids.size(); i++) {
            heard.add(ids.get(i).postId() + "=" + values.get(i).count());
          }
        });
    submit(
        new Write(together(4), 1, null),
        new Write(together(4), 1, null),
        new Write(together(5), -1, null));
    store.failNextCommits(1);
    submit(new Write(together(4), 1, null));
    assertThat(heard).containsExactly(together(4).postId() + "=2", together(5).postId() + "=-1");
  }

  @Test
  void aCommitsAnswers_allGoOutBeforeAnyWakeupTheyAskFor() throws Exception {
    java.util.concurrent.CountDownLatch firstCommitHeld =
        new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    aggregator.addListener(
        (ids, values) -> {
          if (firstCommitHeld.getCount() > 0) {
            firstCommitHeld.countDown();
            try {
              release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        });
    CompletableFuture<WriteResult[]> first = new CompletableFuture<>();
    aggregator.submit(new Write[] {new Write(together(1), 1, null)}, first::complete);
    assertThat(firstCommitHeld.await(10, TimeUnit.SECONDS)).isTrue();
    // three writers queue up while the first commit is held: they form the next batch
    List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.CountDownLatch woken = new java.util.concurrent.CountDownLatch(3);
    for (int i = 0; i < 3; i++) {
      String n = Integer.toString(i);
      aggregator.submit(
          new Write[] {new Write(together(2 + i), 1, null)},
          results -> {
            log.add("answer " + n);
            Wakeups.wake(
                () -> {
                  log.add("wake " + n);
                  woken.countDown();
                });
          });
    }
    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    assertThat(woken.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(log)
        .containsExactly("answer 0", "answer 1", "answer 2", "wake 0", "wake 1", "wake 2");
  }

  @Test
  void aWriteThatWouldOverflow_failsAlone_andTheOthersOfItsBatchApply() throws Exception {
    assertThat(submit(new Write(likes(9), Long.MAX_VALUE - 1, null))[0].count())
        .isEqualTo(Long.MAX_VALUE - 1);
    WriteResult[] r =
        submit(
            new Write(likes(9), 1, null),
            new Write(likes(9), 1, null),
            new Write(likes(9), -5, null),
            new Write(likes(10), 3, null));
    assertThat(r[0].count()).isEqualTo(Long.MAX_VALUE);
    assertThat(r[1].outcome()).isEqualTo(Outcome.FAILED);
    assertThat(r[1].error().kind()).isEqualTo(ErrorKind.UNPROCESSABLE);
    assertThat(r[2].count()).isEqualTo(Long.MAX_VALUE - 5);
    assertThat(r[3].count()).isEqualTo(3);
    assertThat(store.get(likes(9)).slot().p()).isEqualTo(Long.MAX_VALUE);
    assertThat(store.get(likes(9)).slot().n()).isEqualTo(5);
    assertThat(store.get(likes(10)).count()).isEqualTo(3);
  }
}
