package dev.tally.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * What the disk alone does: appends a small record and syncs its data ({@code fdatasync}, as a
 * write-ahead log does) at a fixed rate, and prints the latency of each append+sync as JSON. A
 * durable acknowledgement cannot be faster than this, so its tail bounds every durable store's tail
 * on the same disk.
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar dev.tally.bench.FsyncProbe --dir /var/lib/tally \
 *   --rate 500 --duration 30s [--record-bytes 400] [--json out.json]
 * </pre>
 */
public final class FsyncProbe {

  private FsyncProbe() {}

  /** The latencies of {@code rate} append+syncs per second for {@code duration}. */
  public static Histogram run(Path dir, double rate, Duration duration, int recordBytes)
      throws IOException {
    Path file = Files.createTempFile(dir, "fsync-probe", ".log");
    Histogram h = new Histogram(3_600_000_000L, 3); // µs
    ByteBuffer record = ByteBuffer.allocateDirect(recordBytes);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      long interval = (long) (1e9 / rate);
      long start = System.nanoTime();
      long end = start + duration.toNanos();
      for (long due = start; due < end; due += interval) {
        long wait;
        while ((wait = due - System.nanoTime()) > 0) {
          LockSupport.parkNanos(wait);
        }
        record.clear();
        while (record.hasRemaining()) {
          ch.write(record);
        }
        ch.force(false);
        // from the intended time: a stalled sync delays the ones scheduled behind it
        h.recordValue(Math.max(1, (System.nanoTime() - due) / 1_000));
      }
    } finally {
      Files.deleteIfExists(file);
    }
    return h;
  }

  public static void main(String[] args) throws IOException {
    var o = LoadGenerator.parse(args);
    Path dir = Path.of(o.getOrDefault("dir", "."));
    double rate = Double.parseDouble(o.getOrDefault("rate", "500"));
    Duration duration = LoadGenerator.duration(o.getOrDefault("duration", "30s"));
    int recordBytes = Integer.parseInt(o.getOrDefault("record-bytes", "400"));
    Histogram h = run(dir, rate, duration, recordBytes);
    String json =
        String.format(
            Locale.ROOT,
            "{\"rate\":%.0f,\"syncs\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,"
                + "\"max_ms\":%.2f,\"over_100ms\":%d}",
            rate,
            h.getTotalCount(),
            h.getValueAtPercentile(50) / 1000.0,
            h.getValueAtPercentile(99) / 1000.0,
            h.getValueAtPercentile(99.9) / 1000.0,
            h.getMaxValue() / 1000.0,
            h.getCountBetweenValues(100_001, h.getMaxValue()));
    System.out.println(json);
    if (o.containsKey("json")) {
      Files.writeString(Path.of(o.get("json")), json + "\n");
    }
  }
}
