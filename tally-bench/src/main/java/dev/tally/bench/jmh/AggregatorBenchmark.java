package dev.tally.bench.jmh;

import dev.tally.counter.CounterId;
import dev.tally.engine.Aggregator;
import dev.tally.engine.ReadCache;
import dev.tally.engine.Write;
import dev.tally.loop.LoopPriority;
import dev.tally.loop.ProcStat;
import dev.tally.store.local.RocksCounterStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
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
 * The write engine alone, no HTTP: a burst of 1,000 single-write submissions, as 1,000 concurrent
 * requests would make, through the aggregator into a real RocksDB store with fsync'ed group
 * commits. Reports durable writes per second, for one hot counter and for writes spread over a
 * million counters, with one committer thread and with two (each owning half of the counters).
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar org.openjdk.jmh.Main AggregatorBenchmark
 * java -cp tally-bench/target/tally-bench.jar org.openjdk.jmh.Main AggregatorBenchmark \
 *     -p keys=spread -p committers=1,2
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class AggregatorBenchmark {

  static final int BURST = 1_000;

  @Param({"hot", "spread"})
  public String keys;

  @Param({"1", "2"})
  public int committers;

  private Path dir;
  private RocksCounterStore store;
  private Aggregator aggregator;
  private final SplittableRandom random = new SplittableRandom(7);

  @Setup(Level.Trial)
  public void open() throws Exception {
    dir = Files.createTempDirectory("tally-jmh-agg");
    store = RocksCounterStore.open(dir, List.of("likes"), 64L << 20);
    aggregator =
        new Aggregator(
            store,
            new ReadCache(store, 1_000_000),
            Clock.systemUTC(),
            new Aggregator.Settings(
                20_000,
                200_000,
                1_000_000,
                Duration.ofHours(24),
                Duration.ofSeconds(1),
                committers),
            new SimpleMeterRegistry());
    aggregator.start();
  }

  @TearDown(Level.Trial)
  public void close() throws Exception {
    aggregator.close();
    store.close();
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private java.util.TreeMap<String, Long> cpuAtStart;
  private long writesAtStart;
  private long writes;

  /**
   * Each committer thread's CPU time so far (ns), by thread name in name order, from the JVM's
   * thread accounting.
   */
  private static java.util.TreeMap<String, Long> committerCpuNanos() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    java.util.TreeMap<String, Long> nanos = new java.util.TreeMap<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("tally-committer")) {
        nanos.put(t.getName(), mx.getThreadCpuTime(t.threadId()));
      }
    }
    if (nanos.isEmpty()) {
      throw new IllegalStateException("no committer thread");
    }
    return nanos;
  }

  private long storeCpuAtStart;

  /**
   * CPU time (ns) of RocksDB's own threads (flushes, compactions), native threads the JVM does not
   * account for: utime+stime of this process's tasks named {@code rocksdb:*}, from /proc.
   */
  static long storeThreadsCpuNanos() {
    long ticks = 0;
    try {
      for (long id : ProcStat.threadsNamed(LoopPriority::rocksDbThread)) {
        try {
          String stat = Files.readString(Path.of("/proc/self/task/" + id + "/stat"));
          ticks +=
              Long.parseLong(ProcStat.field(stat, 14)) + Long.parseLong(ProcStat.field(stat, 15));
        } catch (java.io.IOException gone) {
          // the thread ended meanwhile
        }
      }
    } catch (java.io.IOException e) {
      return 0; // no /proc: report the committer alone
    }
    return ticks * 10_000_000L; // USER_HZ is 100 on Linux
  }

  @Setup(Level.Iteration)
  public void iterationStart() {
    cpuAtStart = committerCpuNanos();
    storeCpuAtStart = storeThreadsCpuNanos();
    writesAtStart = writes;
  }

  /**
   * Prints the committers' CPU per write over the iteration, and that of RocksDB's flush and
   * compaction threads beside it: the engine's cost per write, whatever else the machine did
   * meanwhile (throughput swings with it; this much less).
   */
  @TearDown(Level.Iteration)
  public void iterationEnd() {
    long n = writes - writesAtStart;
    if (n > 0) {
      long total = 0;
      StringBuilder each = new StringBuilder();
      for (var e : committerCpuNanos().entrySet()) {
        long used = e.getValue() - cpuAtStart.getOrDefault(e.getKey(), 0L);
        total += used;
        each.append(each.isEmpty() ? "" : " + ").append(String.format("%.2f", used / 1e3 / n));
      }
      System.out.printf(
          "%n  committer CPU per write: %.2f us (%s), RocksDB threads: %.2f us (%d writes)%n",
          total / 1e3 / n, each, (storeThreadsCpuNanos() - storeCpuAtStart) / 1e3 / n, n);
    }
  }

  @Benchmark
  @OperationsPerInvocation(BURST)
  public void burstOfSingleWrites() throws InterruptedException {
    CountDownLatch done = new CountDownLatch(BURST);
    for (int i = 0; i < BURST; i++) {
      long post = keys.equals("hot") ? 1 : 1 + random.nextInt(1_000_000);
      aggregator.submit(
          new Write[] {new Write(new CounterId(post, 1), 1, null)}, r -> done.countDown());
    }
    done.await();
    writes += BURST;
  }
}
