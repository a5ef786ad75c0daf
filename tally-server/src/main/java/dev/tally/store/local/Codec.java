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

  static byte[] keyBytes(String key) {
    return key.getBytes(StandardCharsets.US_ASCII);
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
   * each as its length (1 byte, 1..255) then its bytes; read back by {@link #moreKeysOfExpiry}.
   */
  static final class ExpiryKeys {
    private byte[] bytes;
    private int length;

    ExpiryKeys(int keys) {
      bytes = new byte[keys * 40];
    }

    void add(byte[] key) {
      if (length + 1 + key.length > bytes.length) {
        bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + 1 + key.length));
      }
      bytes[length++] = (byte) key.length;
      System.arraycopy(key, 0, bytes, length, key.length);
      length += key.length;
    }

    byte[] toBytes() {
      return java.util.Arrays.copyOf(bytes, length);
    }
  }

  /**
   * Adds to {@code keys} the idempotency keys an expiry index entry's value names besides the one
   * in its key: each is its length (1 byte, 1..255) then its bytes; none in an empty value.
   */
  static void moreKeysOfExpiry(byte[] value, java.util.List<byte[]> keys) {
    int pos = 0;
    while (pos < value.length) {
      int len = value[pos++] & 0xFF;
      if (len == 0 || pos + len > value.length) {
        throw new IllegalStateException("corrupt idempotency expiry entry");
      }
      keys.add(java.util.Arrays.copyOfRange(value, pos, pos + len));
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
