package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The store writes a new write-ahead log over an old one's file (StoreLayout), and a crash image of
 * a store whose live log is such a file recovers every synced write and nothing of the old log.
 */
class WalRecyclingTest {

  private static final byte[] KEY = bytes("the-counter");

  @TempDir Path tmp;

  @Test
  void aLaterLogReusesAnEarlierOnesFile_andACrashImageRecoversTheSyncedWritesOnly()
      throws Exception {
    Path dir = tmp.resolve("db");
    Path image = tmp.resolve("image");
    long liveLogBytes = 0;
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), 0, () -> {});
    try {
      // each round fills the live log with many versions of one key (tens of KiB), then flushes
      // every family, which starts the next log and leaves the filled one to be reused
      for (int round = 1; round <= 4 && liveLogBytes < 32 * 1024; round++) {
        writeVersions(db, "old-" + round + "-", 2_000);
        flushAll(db);
        // a few synced writes at the head of the next log; in a reused file its tail still
        // holds the old log's many later versions of the same key
        writeVersions(db, "new-", 3);
        liveLogBytes = Files.size(StoreFiles.logs(dir).getLast());
      }
      assertThat(liveLogBytes)
          .as("the live log, three small writes in: an earlier log's file, written over")
          .isGreaterThan(32 * 1024);
      StoreFiles.crashImage(dir, image);
    } finally {
      db.close();
    }

    StoreDb recovered = new StoreDb(image, new StoreLayout(8 << 20), 0, () -> {});
    try {
      byte[] value = recovered.open(h -> h.db().get(h.meta(), KEY));
      assertThat(new String(value, StandardCharsets.US_ASCII)).isEqualTo("new-2");
    } finally {
      recovered.close();
    }
  }

  /** {@code count} synced writes of {@code KEY}: prefix + 0, prefix + 1, … */
  private static void writeVersions(StoreDb db, String prefix, int count) throws RocksDBException {
    db.run(
        h -> {
          for (int i = 0; i < count; i++) {
            try (WriteBatch b = new WriteBatch()) {
              b.put(h.meta(), KEY, bytes(prefix + i));
              h.db().write(h.syncWrite(), b);
            }
          }
        });
  }

  private static void flushAll(StoreDb db) throws RocksDBException {
    db.run(
        h -> {
          try (FlushOptions o = new FlushOptions().setWaitForFlush(true)) {
            h.db().flush(o, h.all());
          }
        });
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
