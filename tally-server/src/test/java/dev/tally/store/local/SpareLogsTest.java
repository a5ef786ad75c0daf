package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

/**
 * A new store's live write-ahead log is written over a spent one and one spare is left, and nothing
 * of the priming is left in the store: not in a crash image, not after a priming cut short.
 */
class SpareLogsTest {

  private static final long MIB = 1 << 20;
  private static final byte[] KEY = bytes("the-key");

  @TempDir Path tmp;

  @Test
  void aNewStore_writesItsLiveLogOverASpentOne_andHasOneSpare() throws Exception {
    Path dir = tmp.resolve("db");
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), MIB, () -> {});
    try {
      db.run(h -> h.db().put(h.meta(), h.syncWrite(), KEY, bytes("v1")));
      List<Path> logs = StoreFiles.logs(dir);
      assertThat(logs)
          .as("the spare and the live log")
          .hasSize(2)
          .allSatisfy(log -> assertThat(Files.size(log)).isGreaterThanOrEqualTo(MIB));
      Path live = logs.get(logs.size() - 1);
      assertThat(Files.size(live))
          .as("the live log, one small write in: a spent log's file, written over")
          .isLessThan(2 * MIB);
      assertThat(families(dir)).as("the store's own families only").hasSize(5);
      assertThat(metaKeys(db)).as("nothing of the priming in the store").containsExactly("the-key");
    } finally {
      db.close();
    }

    StoreDb reopened = new StoreDb(dir, new StoreLayout(8 << 20), MIB, () -> {});
    try {
      assertThat(value(reopened)).isEqualTo(bytes("v1"));
      assertThat(metaKeys(reopened)).containsExactly("the-key");
    } finally {
      reopened.close();
    }
  }

  @Test
  void aCrashImageOfAPrimedStore_recoversItsSyncedWrites() throws Exception {
    Path dir = tmp.resolve("db");
    Path image = tmp.resolve("image");
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), MIB, () -> {});
    try {
      for (int i = 1; i <= 50; i++) {
        byte[] value = bytes("v" + i);
        db.run(h -> h.db().put(h.meta(), h.syncWrite(), KEY, value));
      }
      StoreFiles.crashImage(dir, image);
    } finally {
      db.close();
    }
    StoreDb recovered = new StoreDb(image, new StoreLayout(8 << 20), MIB, () -> {});
    try {
      assertThat(value(recovered)).isEqualTo(bytes("v50"));
      assertThat(metaKeys(recovered)).containsExactly("the-key");
    } finally {
      recovered.close();
    }
  }

  @Test
  void theSparesAreAtMostAQuarterOfTheLogBound() throws Exception {
    Path dir = tmp.resolve("db");
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20, 4 * MIB), 64 * MIB, () -> {});
    try {
      assertThat(StoreFiles.logs(dir))
          .hasSize(2)
          .allSatisfy(log -> assertThat(Files.size(log)).isBetween(MIB, MIB + MIB / 2));
    } finally {
      db.close();
    }
  }

  @Test
  void aPrimingCutShort_isDroppedAtTheNextOpen() throws Exception {
    Path dir = tmp.resolve("db");
    new StoreDb(dir, new StoreLayout(8 << 20), 0, () -> {}).close();
    // what a crash in the middle of a priming leaves: its family, holding a key
    List<byte[]> names = new ArrayList<>();
    try (Options options = new Options()) {
      names.addAll(RocksDB.listColumnFamilies(options, dir.toString()));
    }
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    names.forEach(n -> descriptors.add(new ColumnFamilyDescriptor(n)));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try (var opts = new org.rocksdb.DBOptions();
        RocksDB raw = RocksDB.open(opts, dir.toString(), descriptors, handles)) {
      ColumnFamilyHandle sw =
          raw.createColumnFamily(new ColumnFamilyDescriptor(bytes("spare-logs-switch")));
      raw.put(sw, bytes("switch"), bytes("switch"));
      sw.close();
      handles.forEach(ColumnFamilyHandle::close);
    }
    assertThat(families(dir)).hasSize(6);

    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), MIB, () -> {});
    try {
      db.run(h -> h.db().put(h.meta(), h.syncWrite(), KEY, bytes("v")));
      assertThat(value(db)).isEqualTo(bytes("v"));
    } finally {
      db.close();
    }
    assertThat(families(dir)).as("the leftovers dropped").hasSize(5);
  }

  private static byte[] value(StoreDb db) throws Exception {
    return db.open(h -> h.db().get(h.meta(), KEY));
  }

  private static List<String> metaKeys(StoreDb db) {
    return db.open(
        h -> {
          List<String> keys = new ArrayList<>();
          try (RocksIterator it = h.db().newIterator(h.meta())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
              String key = new String(it.key(), StandardCharsets.UTF_8);
              if (!key.startsWith("counter-code/")) {
                keys.add(key);
              }
            }
          }
          return keys;
        });
  }

  private static List<byte[]> families(Path dir) throws Exception {
    try (Options options = new Options()) {
      return RocksDB.listColumnFamilies(options, dir.toString());
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
