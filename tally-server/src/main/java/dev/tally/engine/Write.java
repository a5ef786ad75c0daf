package dev.tally.engine;

import dev.tally.counter.CounterId;

/**
 * One write a client asked for: add {@code delta} to {@code counter}, at most once per {@code
 * idempotencyKey} (null for none). Immutable.
 */
public record Write(CounterId counter, long delta, String idempotencyKey) {

  /**
   * The longest idempotency key, in characters; the HTTP and Redis-protocol APIs take the same
   * keys.
   */
  public static final int MAX_KEY_LENGTH = 255;

  public Write {
    if (delta == 0) {
      throw new IllegalArgumentException("a write must change the counter");
    }
  }

  /** True for a key the APIs take: 1 to {@link #MAX_KEY_LENGTH} visible ASCII characters. */
  public static boolean validKey(String k) {
    if (k.isEmpty() || k.length() > MAX_KEY_LENGTH) {
      return false;
    }
    for (int i = 0; i < k.length(); i++) {
      char c = k.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        return false;
      }
    }
    return true;
  }
}
