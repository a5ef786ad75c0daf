package dev.tally.store.local;

import dev.tally.counter.CounterNames;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.local.StoreDb.Handles;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The counter codes of a store: each counter name's one-byte code, kept in the meta column family
 * as {@code counter-code/<name>} → code (see {@link StoreLayout}). A name seen for the first time
 * gets the lowest free code; a code never moves, whatever the order of the configured names, so
 * renaming or reordering them never moves data between counters. Stateless; {@link
 * RocksCounterStore} calls it once while it opens, before anything else uses the database.
 */
final class CounterCodes {

  // the store's logger: one name for everything the store logs
  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  private static final String PREFIX = "counter-code/";
  private static final byte[] PREFIX_BYTES = PREFIX.getBytes(StandardCharsets.UTF_8);

  private CounterCodes() {}

  /**
   * The codes of the {@code wanted} names: those they have, and new ones (written durably before
   * this returns) for names this store has not seen.
   *
   * @throws TallyException when no code is left for a new name
   */
  static CounterNames resolve(Handles h, List<String> wanted) throws RocksDBException {
    Map<String, Integer> known = new LinkedHashMap<>();
    boolean[] used = new boolean[CounterNames.MAX_CODE + 1];
    try (RocksIterator it = h.db().newIterator(h.meta())) {
      for (it.seek(PREFIX_BYTES); it.isValid() && hasPrefix(it.key()); it.next()) {
        int from = PREFIX_BYTES.length;
        String name = new String(it.key(), from, it.key().length - from, StandardCharsets.UTF_8);
        int code = it.value()[0] & 0xFF;
        known.put(name, code);
        used[code] = true;
      }
    }
    Map<String, Integer> served = new LinkedHashMap<>();
    try (WriteBatch batch = new WriteBatch()) {
      for (String name : wanted) {
        Integer code = known.get(name);
        if (code == null) {
          int free = lowestFree(used, name);
          used[free] = true;
          batch.put(
              h.meta(), (PREFIX + name).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) free});
          log.info("counter '{}' is new in this store: code {}", name, free);
          code = free;
        }
        served.put(name, code);
      }
      if (batch.count() > 0) {
        h.db().write(h.syncWrite(), batch);
      }
    }
    return CounterNames.of(served);
  }

  private static int lowestFree(boolean[] used, String name) {
    int free = 1;
    while (free <= CounterNames.MAX_CODE && used[free]) {
      free++;
    }
    if (free > CounterNames.MAX_CODE) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "no free counter code left for " + name);
    }
    return free;
  }

  private static boolean hasPrefix(byte[] key) {
    int n = PREFIX_BYTES.length;
    return key.length >= n && Arrays.equals(key, 0, n, PREFIX_BYTES, 0, n);
  }
}
