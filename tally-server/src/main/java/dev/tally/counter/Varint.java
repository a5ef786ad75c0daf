package dev.tally.counter;

/**
 * Unsigned LEB128 varints, the one varint format of tally: the store's values and the records of
 * the Redis layout. Stateless; every method is safe from any thread.
 *
 * <pre>
 *   7 bits a byte, least significant group first; the high bit is set on every byte but the last
 *   0 .. 127                 1 byte          0x7F               → 7F
 *   128 .. 2^14-1            2 bytes         128                → 80 01
 *   2^14 .. 2^21-1           3 bytes         2^21-1             → FF FF 7F
 *   ...
 *   2^63 .. 2^64-1           10 bytes        a negative long, read as its 64 bits unsigned
 * </pre>
 *
 * <p>The {@code byte[]} forms serve the store; the {@code String} forms serve Redis values, which
 * hold one byte per char (0..255, an ISO-8859-1 codec) and are the same bytes as the {@code byte[]}
 * forms (VarintTest holds them to it). A reader's position is an {@code int[1]} that the read moves
 * past the varint.
 */
public final class Varint {

  /** The most bytes a varint takes: a long's 64 bits in groups of 7. */
  public static final int MAX_LENGTH = 10;

  private Varint() {}

  /** Writes {@code v} at {@code pos} of {@code buf}, which must have room; returns the end. */
  public static int put(byte[] buf, int pos, long v) {
    while ((v & ~0x7FL) != 0) {
      buf[pos++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    buf[pos++] = (byte) v;
    return pos;
  }

  /**
   * Reads the varint at {@code pos[0]} of {@code b} and moves {@code pos[0]} past it.
   *
   * @throws IllegalStateException if the bytes end inside the varint or it runs past {@link
   *     #MAX_LENGTH} bytes
   */
  public static long get(byte[] b, int[] pos) {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos[0] >= b.length) {
        throw new IllegalStateException("truncated varint");
      }
      byte x = b[pos[0]++];
      v |= (long) (x & 0x7F) << shift;
      if (x >= 0) {
        return v;
      }
    }
    throw new IllegalStateException("varint longer than " + MAX_LENGTH + " bytes");
  }

  /**
   * Appends {@code v} to {@code sb}, one char (0..255) per byte of {@link #put(byte[], int, long)}.
   */
  public static void put(StringBuilder sb, long v) {
    while ((v & ~0x7FL) != 0) {
      sb.append((char) ((v & 0x7F) | 0x80));
      v >>>= 7;
    }
    sb.append((char) v);
  }

  /**
   * Reads the varint at {@code pos[0]} of {@code s}, one byte per char (0..255), and moves {@code
   * pos[0]} past it; fails as {@link #get(byte[], int[])} does.
   */
  public static long get(CharSequence s, int[] pos) {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos[0] >= s.length()) {
        throw new IllegalStateException("truncated varint");
      }
      int x = s.charAt(pos[0]++) & 0xFF;
      v |= (long) (x & 0x7F) << shift;
      if (x < 0x80) {
        return v;
      }
    }
    throw new IllegalStateException("varint longer than " + MAX_LENGTH + " bytes");
  }
}
