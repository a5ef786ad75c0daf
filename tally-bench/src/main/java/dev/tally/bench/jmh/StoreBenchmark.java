package dev.tally.bench.jmh;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.store.Commit;
import dev.tally.store.local.RocksCounterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The embedded store alone: durable (fsync'ed) group commits of N counter updates, and point reads
 * of counters held in memory. Commit results are counter updates per second.
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar org.openjdk.jmh.Main StoreBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StoreBenchmark {

  static final int COUNTERS = 1_000_000;

  @Param({"1", "100", "1000"})
  public int updatesPerCommit;

  private Path dir;
  private RocksCounterStore store;
  private final SplittableRandom random = new SplittableRandom(11);
  private final Commit commit = new Commit();
  private long p;

  @Setup(Level.Trial)
  public void open() throws Exception {
    dir = Files.createTempDirectory("tally-jmh-store");
    store = RocksCounterStore.open(dir, List.of("likes"), 256L << 20);
    Commit fill = new Commit();
    for (long post = 1; post <= COUNTERS; post++) {
      fill.putCounter(
          new CounterId(post, 1),
          new CounterValue(new Slot(post % 5000, post % 7), 1_900_000_000L));
      if (fill.counterCount() == 50_000) {
        store.commit(fill);
        fill.clear();
      }
    }
    store.compact();
  }

  @TearDown(Level.Trial)
  public void close() throws Exception {
    store.close();
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  /** Updates per second in fsync'ed commits of {@code updatesPerCommit} distinct counters. */
  @Benchmark
  public int durableCommit() {
    commit.clear();
    p++;
    for (int i = 0; i < updatesPerCommit; i++) {
      commit.putCounter(
          new CounterId(1 + random.nextInt(COUNTERS), 1),
          new CounterValue(new Slot(p, 0), 1_900_000_000L));
    }
    store.commit(commit);
    return updatesPerCommit;
  }

  /** One committing thread's own commit and random numbers. */
  @State(Scope.Thread)
  public static class Committer {
    final Commit commit = new Commit();
    final SplittableRandom random = new SplittableRandom(Thread.currentThread().threadId());
    long p;
  }

  /**
   * Updates per second in fsync'ed commits of {@code updatesPerCommit} distinct counters made by as
   * many threads at once as JMH runs ({@code -t N}): the premise of committers sharded by counter.
   * RocksDB joins concurrent writes into one WAL write and one fsync, and each thread inserts its
   * own batch into the memtable in parallel with the others.
   */
  @Benchmark
  public int durableCommitFromThreads(Committer c) {
    c.commit.clear();
    c.p++;
    for (int i = 0; i < updatesPerCommit; i++) {
      c.commit.putCounter(
          new CounterId(1 + c.random.nextInt(COUNTERS), 1),
          new CounterValue(new Slot(c.p, 0), 1_900_000_000L));
    }
    store.commit(c.commit);
    return updatesPerCommit;
  }

  /** Point reads per second of counters in the block cache, as the event loop does them. */
  @Benchmark
  @OperationsPerInvocation(100)
  public long readInMemory() {
    long sum = 0;
    for (int i = 0; i < 100; i++) {
      CounterValue v = store.getIfInMemory(new CounterId(1 + random.nextInt(10_000), 1));
      sum += v == null ? 0 : v.count();
    }
    return sum;
  }
}
