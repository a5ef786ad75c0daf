package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.engine.WriteResult.Outcome;
import dev.tally.error.ErrorKind;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.FaultyStore;
import dev.tally.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Aggregator accounting against a sequential model: whatever the batching and injected commit
 * failures, every write is answered once, each answer is what applying the writes one by one in
 * submission order gives, and the store holds exactly the sum of the applied writes. With several
 * committers too: writes to counters of different committers, idempotency keys reused across them
 * and commit failures that hit one committer's batch and not the others'.
 */
class AggregatorAccountingTest {

  /** One generated request: writes submitted together, and whether to fail a commit first. */
  record Step(List<Write> writes, boolean failCommitBefore) {}

  @Provide
  Arbitrary<List<Step>> steps() {
    Arbitrary<Write> write =
        Combinators.combine(
                Arbitraries.longs().between(1, POSTS),
                Arbitraries.of(1L, 1L, 1L, -1L),
                Arbitraries.strings().withChars("abcdef").ofLength(1).injectNull(0.5))
            .as((post, delta, key) -> new Write(new CounterId(post, 1), delta, key));
    Arbitrary<Step> step =
        Combinators.combine(
                write.list().ofMinSize(1).ofMaxSize(4),
                Arbitraries.of(false, false, false, false, false, false, false, false, false, true))
            .as(Step::new);
    return step.list().ofMinSize(1).ofMaxSize(60);
  }

  private static final int POSTS = 8;

  @Property(tries = 60)
  void everyWrite_isAnsweredOnce_asTheSequentialModelSays(@ForAll("steps") List<Step> steps)
      throws Exception {
    check(steps, 1_000, 1);
  }

  @Property(tries = 60)
  void everyWrite_isAnsweredOnce_asTheSequentialModelSays_withTwoCommitters(
      @ForAll("steps") List<Step> steps) throws Exception {
    check(steps, 1_000, 2);
  }

  @Property(tries = 60)
  void everyWrite_isAnsweredOnce_asTheSequentialModelSays_withThreeCommitters(
      @ForAll("steps") List<Step> steps) throws Exception {
    check(steps, 1_000, 3);
  }

  /**
   * The same with a committer that holds at most two counters: most are read back from the store.
   */
  @Property(tries = 60)
  void everyWrite_isAnsweredOnce_asTheSequentialModelSays_whenTheCommitterEvicts(
      @ForAll("steps") List<Step> steps) throws Exception {
    check(steps, 2, 1);
  }

  private static void check(List<Step> steps, int committerCounters, int committers)
      throws Exception {
    Path dir = Files.createTempDirectory("tally-acct");
    FaultyStore store = new FaultyStore(RocksCounterStore.open(dir, List.of("likes"), 8 << 20));
    ManualClock clock = new ManualClock(Instant.parse("2030-01-01T00:00:00Z"));
    Aggregator agg =
        new Aggregator(
            store,
            new ReadCache(store, 1_000),
            clock,
            new Aggregator.Settings(
                3, 10_000, committerCounters, Duration.ofHours(1), Duration.ofHours(1), committers),
            new SimpleMeterRegistry());
    agg.start();
    try {
      List<CompletableFuture<WriteResult[]>> answers = new ArrayList<>();
      AtomicInteger callbacks = new AtomicInteger();
      for (Step s : steps) {
        if (s.failCommitBefore()) {
          // wait for the queue to empty so the failure hits the next batch, which holds this step
          while (agg.pendingWrites() > 0) {
            Thread.onSpinWait();
          }
          store.failNextCommits(1);
        }
        CompletableFuture<WriteResult[]> f = new CompletableFuture<>();
        agg.submit(
            s.writes().toArray(new Write[0]),
            r -> {
              callbacks.incrementAndGet();
              f.complete(r);
            });
        answers.add(f);
      }
      CompletableFuture.allOf(answers.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
      assertThat(callbacks.get()).isEqualTo(steps.size());

      // replay the model in submission order; failed (unavailable) writes change nothing
      Map<CounterId, Long> model = new HashMap<>();
      Map<String, Write> keyWrite = new HashMap<>();
      Map<String, Long> keyCount = new HashMap<>();
      // keys whose first write failed: with several committers, a different write with such a key
      // may have been refused while the failing one was in flight (Aggregator's class comment)
      java.util.Set<String> keyFailed = new java.util.HashSet<>();
      for (int i = 0; i < steps.size(); i++) {
        List<Write> writes = steps.get(i).writes();
        WriteResult[] got = answers.get(i).get();
        assertThat(got).hasSize(writes.size());
        for (int j = 0; j < got.length; j++) {
          Write w = writes.get(j);
          WriteResult r = got[j];
          String k = w.idempotencyKey();
          if (r.outcome() == Outcome.FAILED && r.error().kind() == ErrorKind.UNAVAILABLE) {
            if (k != null && !keyWrite.containsKey(k)) {
              keyFailed.add(k);
            }
            continue;
          }
          if (committers > 1
              && k != null
              && !keyWrite.containsKey(k)
              && keyFailed.contains(k)
              && r.outcome() == Outcome.FAILED
              && r.error().kind() == ErrorKind.IDEMPOTENCY_CONFLICT) {
            continue;
          }
          if (k != null && keyWrite.containsKey(k)) {
            Write first = keyWrite.get(k);
            if (first.counter().equals(w.counter()) && first.delta() == w.delta()) {
              assertThat(r.outcome()).isEqualTo(Outcome.REPLAYED);
              assertThat(r.count()).isEqualTo(keyCount.get(k));
            } else {
              assertThat(r.outcome()).isEqualTo(Outcome.FAILED);
              assertThat(r.error().kind()).isEqualTo(ErrorKind.IDEMPOTENCY_CONFLICT);
            }
            continue;
          }
          long next = model.merge(w.counter(), w.delta(), Long::sum);
          assertThat(r.outcome()).isEqualTo(Outcome.APPLIED);
          assertThat(r.count()).isEqualTo(next);
          if (k != null) {
            keyWrite.put(k, w);
            keyCount.put(k, next);
          }
        }
      }
      for (long post = 1; post <= POSTS; post++) {
        CounterId id = new CounterId(post, 1);
        assertThat(store.get(id).count()).isEqualTo(model.getOrDefault(id, 0L));
      }
    } finally {
      agg.close();
      store.close();
      deleteTree(dir);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
