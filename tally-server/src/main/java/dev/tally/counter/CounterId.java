package dev.tally.counter;

/**
 * Identifies one counter: a post and one of the configured counter names, by its stable one-byte
 * code (see {@link CounterNames}). Immutable, so safe to share between threads.
 *
 * <p>Encoded as 9 bytes: the post id big-endian, then the code, so that all counters of one post
 * sit next to each other in the store.
 */
public record CounterId(long postId, int code) {

  /** Length of {@link #toBytes()}. */
  public static final int ENCODED_LENGTH = 9;

  public CounterId {
    if (postId <= 0) {
      throw new IllegalArgumentException("post id must be positive, got " + postId);
    }
    if (code < 1 || code > CounterNames.MAX_CODE) {
      throw new IllegalArgumentException("counter code out of range: " + code);
    }
  }

  public byte[] toBytes() {
    byte[] b = new byte[ENCODED_LENGTH];
    writeTo(b, 0);
    return b;
  }

  /** Writes {@link #toBytes()}'s bytes at {@code at} of {@code b}, which must have room. */
  public void writeTo(byte[] b, int at) {
    long v = postId;
    for (int i = at + 7; i >= at; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    b[at + 8] = (byte) code;
  }

  public static CounterId fromBytes(byte[] b) {
    if (b.length != ENCODED_LENGTH) {
      throw new IllegalArgumentException("counter key must be 9 bytes, got " + b.length);
    }
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[i] & 0xFF);
    }
    return new CounterId(v, b[8] & 0xFF);
  }

  // written out: the record's generated equals runs through a method handle that the JIT did not
  // always inline, and the committer compares ids on every write
  @Override
  public boolean equals(Object o) {
    return o instanceof CounterId c && c.postId == postId && c.code == code;
  }

  @Override
  public int hashCode() {
    // postId varies most; mix it so neighbouring posts spread over hash buckets
    long h = postId * 0x9E3779B97F4A7C15L + code;
    return (int) (h ^ (h >>> 32));
  }
}
