package dev.tally.store.local;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Varint;
import java.util.Arrays;
import org.rocksdb.WriteBatch;

/**
 * A RocksDB write batch assembled in Java, in the byte form RocksDB itself keeps a batch in, and
 * handed to RocksDB whole: one native call per commit instead of one per key (each {@code
 * WriteBatch.put} pins and releases two Java arrays across JNI; at a thousand keys a commit that
 * was a sixth of the committer's time). Not thread-safe: the committer owns one and reuses it.
 *
 * <pre>
 *   header     sequence  fixed64, little-endian: 0 (the write assigns it)
 *              count     fixed32, little-endian: the number of records
 *   record     0x01 key value                 a put to the default column family
 *              0x05 varint32(cf) key value    a put to column family cf (its id, not its name)
 *   key, value varint32 length, then the bytes
 * </pre>
 *
 * This is RocksDB's own layout (its write_batch.cc: kTypeValue, kTypeColumnFamilyValue);
 * BatchRepTest holds every method to the bytes RocksJava's {@code WriteBatch} builds for the same
 * calls.
 */
final class BatchRep {

  private static final int HEADER = 12;
  private static final byte PUT_DEFAULT = 0x01;
  private static final byte PUT_FAMILY = 0x05;

  /** A batch bigger than this after a commit gives its buffer back (a huge commit is rare). */
  private static final int KEEP = 1 << 20;

  private byte[] buf = new byte[8192];
  private int len = HEADER;
  private int count;

  /** Adds a put of {@code value} at {@code key} in column family {@code family}. */
  void put(int family, byte[] key, byte[] value) {
    ensure(1 + 5 + 5 + key.length + 5 + value.length);
    int pos = tag(family);
    pos = Varint.put(buf, pos, key.length);
    System.arraycopy(key, 0, buf, pos, key.length);
    pos += key.length;
    pos = Varint.put(buf, pos, value.length);
    System.arraycopy(value, 0, buf, pos, value.length);
    len = pos + value.length;
    count++;
  }

  /**
   * Adds a put of counter {@code id}'s {@code value} in column family {@code family}, encoded as
   * {@link CounterId#toBytes} and {@link Codec#counterValue(CounterValue)} do, without their
   * arrays.
   */
  void putCounter(int family, CounterId id, CounterValue value) {
    ensure(1 + 5 + 1 + CounterId.ENCODED_LENGTH + 1 + Codec.MAX_COUNTER_VALUE);
    int pos = tag(family);
    buf[pos++] = CounterId.ENCODED_LENGTH;
    id.writeTo(buf, pos);
    pos += CounterId.ENCODED_LENGTH;
    int lengthAt = pos++; // a value takes at most 30 bytes: its length is one byte
    int end = Codec.putCounterValue(buf, pos, value);
    buf[lengthAt] = (byte) (end - pos);
    len = end;
    count++;
  }

  int count() {
    return count;
  }

  /** The batch as RocksDB takes it; the caller closes it. */
  WriteBatch toWriteBatch() {
    long c = count;
    for (int i = 0; i < 4; i++) {
      buf[8 + i] = (byte) (c >>> (8 * i));
    }
    return new WriteBatch(Arrays.copyOf(buf, len));
  }

  /** Empties the batch for the next commit. */
  void clear() {
    if (buf.length > KEEP) {
      buf = new byte[8192];
    }
    Arrays.fill(buf, 0, HEADER, (byte) 0);
    len = HEADER;
    count = 0;
  }

  private int tag(int family) {
    int pos = len;
    if (family == 0) {
      buf[pos++] = PUT_DEFAULT;
    } else {
      buf[pos++] = PUT_FAMILY;
      pos = Varint.put(buf, pos, family);
    }
    return pos;
  }

  private void ensure(int more) {
    if (len + more > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
    }
  }
}
