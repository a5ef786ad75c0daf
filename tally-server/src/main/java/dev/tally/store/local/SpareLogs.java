package dev.tally.store.local;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;
import org.rocksdb.MutableDBOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Gives a new store spent write-ahead logs to write over from its first commit.
 *
 * <p>RocksDB writes a new log over a spent one when it has one ({@link StoreLayout#SPARE_LOGS}):
 * the file's blocks are then allocated and its size already covers the records, so a commit's sync
 * writes the data alone, where a sync of a log that grows also writes the file's inode (a third of
 * a sync's CPU and latency on the test machine). A new store has no spent logs, and gets its first
 * only after about the log bound of writing. This fills and ends logs before the store takes its
 * first write: log-only records ({@link WriteBatch#putLogData}, which no memtable keeps), ended by
 * flushing a column family of its own, spent together by dropping another that held them, and the
 * live log begun over one of them. Nothing of it stays in the store but the files.
 */
final class SpareLogs {

  private static final byte[] PIN = "spare-logs-pin".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SWITCH = "spare-logs-switch".getBytes(StandardCharsets.US_ASCII);
  private static final int CHUNK = 1 << 20;

  private SpareLogs() {}

  /**
   * The column families of {@code dir}'s store that a priming cut short (a crash, a full disk) left
   * behind, to be opened and dropped: RocksDB opens a store only with all of its families.
   */
  static List<byte[]> leftoversIn(Path dir) throws RocksDBException {
    List<byte[]> found = new ArrayList<>();
    try (Options options = new Options()) {
      for (byte[] name : RocksDB.listColumnFamilies(options, dir.toString())) {
        if (Arrays.equals(name, PIN) || Arrays.equals(name, SWITCH)) {
          found.add(name);
        }
      }
    }
    return found;
  }

  /** Whether {@code dir} holds no store yet (RocksDB's CURRENT file names its manifest). */
  static boolean isNewStore(Path dir) {
    return !Files.exists(dir.resolve("CURRENT"));
  }

  /**
   * Leaves {@code spares} spent logs of about {@code bytesEach} bytes each and a live log written
   * over one of them. Call on a store that has taken no write yet.
   */
  static void prime(RocksDB db, int spares, long bytesEach, long walLimitBytes)
      throws RocksDBException {
    try (ColumnFamilyHandle pin = db.createColumnFamily(new ColumnFamilyDescriptor(PIN));
        ColumnFamilyHandle sw = db.createColumnFamily(new ColumnFamilyDescriptor(SWITCH));
        WriteOptions noSync = new WriteOptions().setSync(false);
        FlushOptions wait = new FlushOptions().setWaitForFlush(true);
        WriteBatch batch = new WriteBatch()) {
      // the logs filled while pinned must not reach the bound that would flush the pin
      db.setDBOptions(
          MutableDBOptions.builder()
              .setMaxTotalWalSize(Math.max(walLimitBytes, (spares + 2) * bytesEach * 2))
              .build());
      db.put(pin, noSync, PIN, PIN);
      byte[] chunk = new byte[CHUNK];
      for (int i = 0; i < spares + 2; i++) {
        if (i == spares) {
          // the logs filled so far are spent together when this flush's switch is done
          db.dropColumnFamily(pin);
        }
        for (long written = 0; written < bytesEach; written += CHUNK) {
          batch.clear();
          batch.putLogData(chunk);
          db.write(noSync, batch);
        }
        db.put(sw, noSync, SWITCH, SWITCH);
        db.flush(wait, sw);
      }
      db.dropColumnFamily(sw);
      db.setDBOptions(MutableDBOptions.builder().setMaxTotalWalSize(walLimitBytes).build());
    }
  }
}
