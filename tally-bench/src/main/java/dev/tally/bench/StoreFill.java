package dev.tally.bench;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.store.Commit;
import dev.tally.store.StoreStatistic;
import dev.tally.store.local.DataDir;
import dev.tally.store.local.RocksCounterStore;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Fills a node's data directory with N counters of realistic shape, compacts the store fully and
 * prints its size on disk per counter. The directory can then be served by a node (to time a
 * restart with that many counters).
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar dev.tally.bench.StoreFill --data-dir /tmp/fill --posts 5000000
 * </pre>
 *
 * Each post gets {@code likes} and {@code views}: P drawn heavy-tailed (most posts have a few
 * likes, some very many), N about a tenth of P for likes and 0 for views, the update time spread
 * over the last year.
 */
public final class StoreFill {

  private StoreFill() {}

  public static void main(String[] args) {
    var o = LoadGenerator.parse(args);
    Path dir = Path.of(o.getOrDefault("data-dir", "./fill-data"));
    long posts = Long.parseLong(o.getOrDefault("posts", "5000000"));
    DataDir data = new DataDir(dir);
    data.nodeId();
    SplittableRandom r = new SplittableRandom(5);
    long now = System.currentTimeMillis() / 1000;
    long t0 = System.nanoTime();
    try (RocksCounterStore store =
        RocksCounterStore.open(data.storeDir(), List.of("likes", "views"), 64L << 20)) {
      int likes = store.names().code("likes").orElseThrow();
      int views = store.names().code("views").orElseThrow();
      Commit c = new Commit();
      for (long post = 1; post <= posts; post++) {
        long p = heavyTail(r);
        c.putCounter(
            new CounterId(post, likes),
            new CounterValue(new Slot(p, p / 10), now - r.nextInt(31_536_000)));
        long v = heavyTail(r) * 20;
        c.putCounter(
            new CounterId(post, views),
            new CounterValue(new Slot(v, 0), now - r.nextInt(31_536_000)));
        if (c.counterCount() >= 100_000) {
          store.commit(c);
          c.clear();
        }
      }
      store.commit(c);
      long fillMs = (System.nanoTime() - t0) / 1_000_000;
      store.compact();
      long counters = posts * 2;
      long bytes = store.statistic(StoreStatistic.COUNTERS_SST_BYTES);
      long allBytes = store.statistic(StoreStatistic.SST_BYTES);
      System.out.printf(
          "{\"counters\":%d,\"fill_ms\":%d,\"counters_sst_bytes\":%d,\"bytes_per_counter\":%.2f,\"all_sst_bytes\":%d}%n",
          counters, fillMs, bytes, (double) bytes / counters, allBytes);
    }
  }

  /** Mostly small, sometimes huge: like counts on a social network. */
  private static long heavyTail(SplittableRandom r) {
    double u = r.nextDouble();
    return (long) Math.floor(Math.pow(1 - u, -1.2)) - 1;
  }
}
