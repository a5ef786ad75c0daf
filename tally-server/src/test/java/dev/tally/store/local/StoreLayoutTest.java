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
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.OptionsUtil;

/**
 * The store's options as RocksDB took them: read back, with RocksDB's own reader, from the OPTIONS
 * file it wrote when the store opened.
 */
class StoreLayoutTest {

  @TempDir Path tmp;

  @Test
  void counters_areUpdatedInPlace_inAHashedMemtable_underAFewLockStripes() throws Exception {
    readBack(
        (db, families) -> {
          ColumnFamilyOptions counters = family(families, "counters");
          assertThat(counters.inplaceUpdateSupport()).isTrue();
          assertThat(counters.inplaceUpdateNumLocks()).isEqualTo(64);
          assertThat(counters.memTableFactoryName()).isEqualTo("HashLinkedListRepFactory");
        });
  }

  @Test
  void counters_haveA128MiBMemtable_theOtherFamiliesRocksDBsDefault() throws Exception {
    readBack(
        (db, families) -> {
          assertThat(family(families, "counters").writeBufferSize()).isEqualTo(128L << 20);
          assertThat(family(families, "idempotency").writeBufferSize()).isEqualTo(64L << 20);
        });
  }

  @Test
  void idempotencyKeys_sitInAMemtableHashedOnTheirPrefix_andTheExpiryIndexInASkipList()
      throws Exception {
    readBack(
        (db, families) -> {
          ColumnFamilyOptions keys = family(families, "idempotency");
          assertThat(keys.inplaceUpdateSupport()).isFalse();
          assertThat(keys.memTableFactoryName()).isEqualTo("HashLinkedListRepFactory");
          assertThat(family(families, "idempotency-expiry").memTableFactoryName())
              .isEqualTo("SkipListFactory");
        });
  }

  @Test
  void aSpentWriteAheadLog_isKeptToBeWrittenOver() throws Exception {
    readBack(
        (db, families) -> assertThat(db.recycleLogFileNum()).isEqualTo(StoreLayout.SPARE_LOGS));
  }

  @Test
  void theLogsBound_is256MiB_orAsGiven() throws Exception {
    readBack((db, families) -> assertThat(db.maxTotalWalSize()).isEqualTo(256L << 20));
    readBack(
        new StoreLayout(8 << 20, 3L << 20),
        (db, families) -> assertThat(db.maxTotalWalSize()).isEqualTo(3L << 20));
  }

  private interface Check {
    void accept(DBOptions db, List<ColumnFamilyDescriptor> families);
  }

  /** Opens and closes a store in a fresh directory, then runs {@code check} on its options. */
  private void readBack(Check check) throws Exception {
    readBack(new StoreLayout(8 << 20), check);
  }

  /** The same with {@code layout} (closed with the store). */
  private void readBack(StoreLayout layout, Check check) throws Exception {
    Path dir = Files.createTempDirectory(tmp, "db");
    new StoreDb(dir, layout, 0, () -> {}).close();
    List<ColumnFamilyDescriptor> families = new ArrayList<>();
    try (ConfigOptions config = new ConfigOptions();
        DBOptions db = new DBOptions()) {
      OptionsUtil.loadLatestOptions(config, dir.toString(), db, families);
      try {
        check.accept(db, families);
      } finally {
        families.forEach(f -> f.getOptions().close());
      }
    }
  }

  private static ColumnFamilyOptions family(List<ColumnFamilyDescriptor> families, String name) {
    return families.stream()
        .filter(f -> new String(f.getName(), StandardCharsets.UTF_8).equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no column family " + name))
        .getOptions();
  }
}
