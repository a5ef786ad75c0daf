package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.engine.CountReader.Counts;
import dev.tally.engine.LocalCountReader;
import dev.tally.engine.ReadCache;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.FaultyStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster member's counts: its own part from the local store (memory first), the other writers'
 * share from the followed view, which reads Redis (here a table answering at once) for counters not
 * followed yet.
 */
class ClusterCountReaderTest {

  private static final long ME = 1;
  private static final long OTHER = 2;
  private static final CounterId C = new CounterId(812, 1);
  private static final CounterId D = new CounterId(813, 1);

  @TempDir Path dir;
  private FaultyStore store;
  private final AtomicInteger storeReads = new AtomicInteger();
  private final List<List<CounterId>> redisReads = new java.util.ArrayList<>();
  private ClusterCountReader reader;
  private LocalCountReader local;

  @BeforeEach
  void open() {
    store = new FaultyStore(RocksCounterStore.open(dir, List.of("likes", "views"), 8 << 20));
    Executor readThreads =
        task -> {
          storeReads.incrementAndGet();
          task.run();
        };
    local = new LocalCountReader(new ReadCache(store, 1_000), readThreads);
    FollowedCounters.Records redis =
        ids -> {
          redisReads.add(List.copyOf(ids));
          StoredCounter[] out = new StoredCounter[ids.size()];
          for (int i = 0; i < out.length; i++) {
            // every counter: 9 increments and 2 decrements by the other writer
            out[i] = new StoredCounter(1_795_000_000L, new long[] {OTHER, 9, 2});
          }
          return CompletableFuture.completedFuture(out);
        };
    FollowedCounters view = new FollowedCounters(redis, ME, 100, new SimpleMeterRegistry());
    reader = new ClusterCountReader(local, view, () -> true);
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static Counts join(java.util.concurrent.CompletionStage<Counts> stage) {
    return stage.toCompletableFuture().join();
  }

  @Test
  void aCounterNotFollowedYet_isReadFromRedisOnce_thenPeekedFromMemory() {
    assertThat(reader.peek(List.of(C))).isNull();

    Counts first = join(reader.read(List.of(C)));
    assertThat(first.counts()).containsExactly(7);
    assertThat(first.updatedAtSeconds()).containsExactly(1_795_000_000L);
    assertThat(redisReads).containsExactly(List.of(C));

    Counts again = reader.peek(List.of(C));
    assertThat(again).isNotNull();
    assertThat(again.counts()).containsExactly(7);
    assertThat(redisReads).hasSize(1);
  }

  @Test
  void whileOnlyTheOthersShareIsMissing_theOwnPartComesFromMemory_notTheStoreReadThreads() {
    local
        .read(List.of(C))
        .toCompletableFuture()
        .join(); // this node's part of C is now in its read cache
    assertThat(storeReads).hasValue(1);

    Counts c = join(reader.read(List.of(C)));

    assertThat(c.counts()).containsExactly(7);
    assertThat(storeReads).as("no hop to the store's read threads").hasValue(1);
    assertThat(redisReads).containsExactly(List.of(C));
  }

  @Test
  void anOwnPartNotInMemory_isStillReadFromTheStore() {
    local.read(List.of(C)).toCompletableFuture().join(); // C in the read cache, D nowhere
    store.valuesOnDiskOnly();

    Counts both = join(reader.read(List.of(C, D)));

    assertThat(both.counts()).containsExactly(7, 7);
    assertThat(storeReads).hasValue(2);
    assertThat(redisReads).containsExactly(List.of(C, D));
  }
}
