package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;

class StoreDbTest {

  private static final byte[] KEY = "k".getBytes(StandardCharsets.UTF_8);
  private static final byte[] VALUE = "v".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;

  @Test
  void aReopenThatFails_leavesTheStoreUnavailable_untilOneSucceeds() throws Exception {
    Path dir = tmp.resolve("db");
    Path aside = tmp.resolve("aside");
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), 0, () -> {});
    try {
      db.run(h -> h.db().put(h.meta(), h.syncWrite(), KEY, VALUE));

      // the directory is gone and a file stands in its place: the database cannot open there
      Files.move(dir, aside);
      Files.writeString(dir, "not a directory");
      assertThatThrownBy(db::reopen).isInstanceOf(RocksDBException.class);

      assertThatThrownBy(() -> db.open(h -> h.db().get(h.meta(), KEY)))
          .isInstanceOfSatisfying(
              TallyException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
      assertThat(db.ifOpen("closed", h -> "open")).isEqualTo("closed");
      assertThat(db.isClosed()).as("not closed: a later reopen may succeed").isFalse();

      Files.delete(dir);
      Files.move(aside, dir);
      assertThat(db.reopen()).isTrue();
      byte[] read = db.open(h -> h.db().get(h.meta(), KEY));
      assertThat(read).isEqualTo(VALUE);
    } finally {
      db.close();
    }
    assertThat(db.reopen()).as("once closed, never reopened").isFalse();
  }

  @Test
  void aDatabaseThatCannotOpen_failsTheConstructor_andCanBeOpenedOnceItCan() throws Exception {
    Path dir = tmp.resolve("file");
    Files.writeString(dir, "not a directory");
    assertThatThrownBy(() -> new StoreDb(dir, new StoreLayout(8 << 20), 0, () -> {}))
        .isInstanceOf(RocksDBException.class);
    Files.delete(dir);
    StoreDb db = new StoreDb(dir, new StoreLayout(8 << 20), 0, () -> {});
    db.close();
    assertThatThrownBy(() -> db.run(h -> {}))
        .isInstanceOfSatisfying(
            TallyException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
  }
}
