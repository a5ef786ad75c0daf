package dev.tally.store.local;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.counter.Varint;
import dev.tally.store.IdempotencyRecord;
import java.nio.charset.StandardCharsets;

/**
 * Encodes and decodes the values and keys of the counters, idempotency and idempotency-expiry
 * column families, as {@link StoreLayout} draws them. Stateless; every method is safe from any
 * thread.
 */
final class Codec {

  private Codec() {}

  /** The most bytes {@link #putCounterValue} writes. */
  static final int MAX_COUNTER_VALUE = 3 * Varint.MAX_LENGTH;

  static byte[] counterValue(CounterValue v) {
    byte[] buf = new byte[MAX_COUNTER_VALUE];
    return java.util.Arrays.copyOf(buf, putCounterValue(buf, 0, v));
  }

  /**
   * Writes {@link #counterValue(CounterValue)}'s bytes at {@code pos} of {@code buf}; returns the
   * end.
   */
  static int putCounterValue(byte[] buf, int pos, CounterValue v) {
    pos = Varint.put(buf, pos, v.slot().p());
    pos = Varint.put(buf, pos, v.slot().n());
    return Varint.put(buf, pos, v.updatedAtSecond());
  }

  static CounterValue counterValue(byte[] b) {
    int[] pos = {0};
    long p = Varint.get(b, pos);
    long n = Varint.get(b, pos);
    long at = Varint.get(b, pos);
    if (pos[0] != b.length) {
      throw new IllegalStateException("corrupt counter value: " + b.length + " bytes");
    }
    return new CounterValue(new Slot(p, n), at);
  }

  /** Bytes that start every idempotency key's stored form: its hash prefix. */
  static final int KEY_PREFIX_LENGTH = 3;

  private static final int KEY_PREFIX_BITS = 18;

  /** How many distinct prefixes {@link #keyBytes} gives. */
  static final int KEY_PREFIXES = 1 << KEY_PREFIX_BITS;

  /**
   * An idempotency key's stored form: a 3-byte prefix from a hash of the key, then the key itself
   * (US-ASCII). The prefix spreads keys evenly over {@link #KEY_PREFIXES} ranges, each one bucket
   * of the column family's hashed memtable, a few keys each, so that a flush reads each bucket as
   * one short run of ascending keys (StoreLayout). Its first byte is at least 0x80 (keys are
   * ASCII), so a stored key of this form never equals one of the earlier form, the bare key ({@link
   * #legacyKeyBytes}). The prefix is part of the data on disk: the hash below must never change.
   */
  static byte[] keyBytes(String key) {
    byte[] b = new byte[KEY_PREFIX_LENGTH + key.length()];
    for (int i = 0; i < key.length(); i++) {
      b[KEY_PREFIX_LENGTH + i] = (byte) key.charAt(i);
    }
    return withPrefix(b);
  }

  /**
   * Fills the first {@link #KEY_PREFIX_LENGTH} bytes of {@code b} from the key after them: 0x80 |
   * the high 2 bits, then the next 8 and the low 8, of an 18-bit hash (a 31-polynomial over the
   * key's bytes, then murmur3's 32-bit finalizer, its top 18 bits).
   */
  private static byte[] withPrefix(byte[] b) {
    int h = 0;
    for (int i = KEY_PREFIX_LENGTH; i < b.length; i++) {
      h = 31 * h + (b[i] & 0xFF);
    }
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    int prefix = h >>> (32 - KEY_PREFIX_BITS);
    b[0] = (byte) (0x80 | (prefix >>> 16));
    b[1] = (byte) (prefix >>> 8);
    b[2] = (byte) prefix;
    return b;
  }

  /** An idempotency key's stored form before the hash prefix: the bare key, US-ASCII. */
  static byte[] legacyKeyBytes(String key) {
    return key.getBytes(StandardCharsets.US_ASCII);
  }

  /** True for a stored key of the earlier form ({@link #legacyKeyBytes}). */
  static boolean isLegacyKey(byte[] stored) {
    return (stored[0] & 0x80) == 0;
  }

  static byte[] idempotencyRecord(IdempotencyRecord r) {
    byte[] buf = new byte[60];
    int pos = Varint.put(buf, 0, r.counter().postId());
    buf[pos++] = (byte) r.counter().code();
    pos = Varint.put(buf, pos, zigzag(r.delta()));
    pos = Varint.put(buf, pos, zigzag(r.count()));
    pos = Varint.put(buf, pos, r.updatedAtSecond());
    pos = Varint.put(buf, pos, r.expiresAtSecond());
    return java.util.Arrays.copyOf(buf, pos);
  }

  static IdempotencyRecord idempotencyRecord(byte[] b) {
    int[] pos = {0};
    long postId = Varint.get(b, pos);
    if (pos[0] >= b.length) {
      throw new IllegalStateException("corrupt idempotency record");
    }
    int code = b[pos[0]++] & 0xFF;
    long delta = unzigzag(Varint.get(b, pos));
    long count = unzigzag(Varint.get(b, pos));
    long at = Varint.get(b, pos);
    long expires = Varint.get(b, pos);
    if (pos[0] != b.length) {
      throw new IllegalStateException("corrupt idempotency record: " + b.length + " bytes");
    }
    return new IdempotencyRecord(new CounterId(postId, code), delta, count, at, expires);
  }

  static byte[] expiryKey(long expiresAtSecond, byte[] key) {
    byte[] b = new byte[8 + key.length];
    long v = expiresAtSecond;
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    System.arraycopy(key, 0, b, 8, key.length);
    return b;
  }

  static long expiryOf(byte[] expiryKey) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (expiryKey[i] & 0xFF);
    }
    return v;
  }

  static byte[] keyOfExpiry(byte[] expiryKey) {
    return java.util.Arrays.copyOfRange(expiryKey, 8, expiryKey.length);
  }

  /**
   * Builds an expiry index entry's value: the idempotency keys it names besides the one in its key,
   * each as its length (1 byte, 1..255) then the key, US-ASCII, without the hash prefix (which
   * {@link #moreKeysOfExpiry} adds back); read back by {@link #moreKeysOfExpiry}.
   */
  static final class ExpiryKeys {
    private byte[] bytes;
    private int length;

    ExpiryKeys(int keys) {
      bytes = new byte[keys * 40];
    }

    /** Adds {@code stored}, a key's stored form ({@link #keyBytes}), by its key alone. */
    void add(byte[] stored) {
      int n = stored.length - KEY_PREFIX_LENGTH;
      if (length + 1 + n > bytes.length) {
        bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + 1 + n));
      }
      bytes[length++] = (byte) n;
      System.arraycopy(stored, KEY_PREFIX_LENGTH, bytes, length, n);
      length += n;
    }

    byte[] toBytes() {
      return java.util.Arrays.copyOf(bytes, length);
    }
  }

  /**
   * Adds to {@code keys} the stored forms of the idempotency keys an expiry index entry's value
   * names besides the one in its key: each is its length (1 byte, 1..255) then the key; none in an
   * empty value. {@code legacy}: the entry's own key names a key of the earlier form ({@link
   * #isLegacyKey}), and so do the keys in its value; else they get their hash prefix back.
   */
  static void moreKeysOfExpiry(byte[] value, boolean legacy, java.util.List<byte[]> keys) {
    int pos = 0;
    while (pos < value.length) {
      int len = value[pos++] & 0xFF;
      if (len == 0 || pos + len > value.length) {
        throw new IllegalStateException("corrupt idempotency expiry entry");
      }
      if (legacy) {
        keys.add(java.util.Arrays.copyOfRange(value, pos, pos + len));
      } else {
        byte[] b = new byte[KEY_PREFIX_LENGTH + len];
        System.arraycopy(value, pos, b, KEY_PREFIX_LENGTH, len);
        keys.add(withPrefix(b));
      }
      pos += len;
    }
  }

  static long zigzag(long v) {
    return (v << 1) ^ (v >> 63);
  }

  static long unzigzag(long v) {
    return (v >>> 1) ^ -(v & 1);
  }
}
