package dev.tally.store.local;

import dev.tally.counter.Varint;
import dev.tally.store.local.StoreDb.Handles;
import java.nio.charset.StandardCharsets;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which forms of stored idempotency keys a store may hold (see {@link Codec#keyBytes}). Keys are
 * written with their hash prefix; a store written by a version before it may still hold keys of the
 * earlier form, the bare key, until they expire and are purged. The meta column family records, as
 * {@code "idempotency-key-format"} → format (1 byte, 2) | varint second, the last expiry second of
 * any key of the earlier form, 0 when there is none: until the purge has gone past that second, a
 * key not found in its new form is looked for in the old one too.
 *
 * <p>Every key of the earlier form has an entry of its expiry in the expiry index (written in the
 * same batch), so the index's last entry, when the record is first made, bounds them all.
 * Stateless; {@link RocksCounterStore} calls it while it opens and when its purge has passed that
 * second.
 */
final class KeyFormat {

  // the store's logger: one name for everything the store logs
  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  private static final byte[] RECORD = "idempotency-key-format".getBytes(StandardCharsets.UTF_8);
  private static final byte FORMAT = 2;

  private KeyFormat() {}

  /**
   * The last expiry second of a key of the earlier form this store may hold, 0 for none; recorded
   * durably the first time (before any key of the new form is written).
   */
  static long legacyUntil(Handles h) throws RocksDBException {
    byte[] recorded = h.db().get(h.meta(), RECORD);
    if (recorded != null) {
      if (recorded.length < 2 || recorded[0] != FORMAT) {
        throw new IllegalStateException("unknown idempotency key format in this store");
      }
      return Varint.get(recorded, new int[] {1});
    }
    long until = 0;
    try (RocksIterator it = h.db().newIterator(h.expiry())) {
      it.seekToLast();
      if (it.isValid()) {
        until = Codec.expiryOf(it.key());
      }
    }
    record(h, until);
    if (until > 0) {
      log.info(
          "idempotency keys of the earlier format may be here until second {}: looked up in both forms until then",
          until);
    }
    return until;
  }

  /** Records that no key of the earlier form is left. */
  static void noLegacyKeys(Handles h) throws RocksDBException {
    record(h, 0);
    log.info("no idempotency key of the earlier format is left");
  }

  private static void record(Handles h, long until) throws RocksDBException {
    byte[] v = new byte[1 + Varint.MAX_LENGTH];
    v[0] = FORMAT;
    int end = Varint.put(v, 1, until);
    h.db().put(h.meta(), h.syncWrite(), RECORD, java.util.Arrays.copyOf(v, end));
  }
}
