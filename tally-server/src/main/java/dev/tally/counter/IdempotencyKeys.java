package dev.tally.counter;

/**
 * The idempotency keys tally takes, the same over HTTP ({@code Idempotency-Key}) and the Redis
 * protocol ({@code TALLY.INCRBY}), and the length the store sizes its key index for. Stateless.
 */
public final class IdempotencyKeys {

  /** The longest key, in characters (each one byte: keys are ASCII). */
  public static final int MAX_LENGTH = 255;

  private IdempotencyKeys() {}

  /** True for a key both APIs take: 1 to {@link #MAX_LENGTH} visible ASCII characters. */
  public static boolean valid(String k) {
    if (k.isEmpty() || k.length() > MAX_LENGTH) {
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
