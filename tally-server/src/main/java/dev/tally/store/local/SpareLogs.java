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
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Gives a new store a live write-ahead log written over a spent one, and one spent log more.
 *
 * <p>RocksDB writes a new log over a spent one when it has one ({@link StoreLayout#SPARE_LOGS}):
 * the file's blocks are then allocated and its size already covers the records, so a commit's sync
 * writes the data alone, where a sync of a log that grows also writes the file's inode (a third of
 * a sync's CPU and latency on the test machine). A new store has no spent logs, and gets its first
 * only after about the log bound of writing. This fills two logs with log-only records ({@link
 * WriteBatch#putLogData}, which no memtable keeps), each ended by flushing a column family of its
 * own, so that the live log begins over the first and the second is the next log's. Not more: spent
 * logs are written over first in, first out, so every small one made here would stand in front of
 * the full-sized logs the node spends later. Nothing of it stays in the store but the files.
 */
final class SpareLogs {

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
        if (Arrays.equals(name, SWITCH)) {
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
   * Leaves the live log written over a spent one of about {@code bytesEach} bytes, and one such
   * spent log. Call on a store that has taken no write yet.
   */
  static void prime(RocksDB db, long bytesEach) throws RocksDBException {
    try (ColumnFamilyHandle sw = db.createColumnFamily(new ColumnFamilyDescriptor(SWITCH));
        WriteOptions noSync = new WriteOptions().setSync(false);
        FlushOptions wait = new FlushOptions().setWaitForFlush(true);
        WriteBatch batch = new WriteBatch()) {
      byte[] chunk = new byte[CHUNK];
      // the first round's switch starts a new log and spends the filled one; the second's begins
      // the live log over that one and spends the second
      for (int round = 0; round < 2; round++) {
        for (long written = 0; written < bytesEach; written += CHUNK) {
          batch.clear();
          batch.putLogData(chunk);
          db.write(noSync, batch);
        }
        db.put(sw, noSync, SWITCH, SWITCH);
        db.flush(wait, sw);
      }
      db.dropColumnFamily(sw);
    }
  }
}
