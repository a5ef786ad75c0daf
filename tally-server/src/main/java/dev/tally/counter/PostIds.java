package dev.tally.counter;

/** Post ids as text, shared by the HTTP API and the Redis protocol. */
public final class PostIds {

  private PostIds() {}

  /**
   * The post id {@code s} names in decimal, or -1 when it names none: empty, not only digits, 0, or
   * past 2^63 - 1. With {@code leadingZeros} false a leading zero is refused (the HTTP API's one
   * spelling per post); with true it is skipped, so that {@code 0812} names post 812 (tools that
   * pad numbers into Redis keys).
   */
  public static long parse(CharSequence s, boolean leadingZeros) {
    return s == null ? -1 : parse(s.length(), s::charAt, leadingZeros);
  }

  /**
   * The post id that bytes {@code from} (inclusive) to {@code to} (exclusive) of {@code b} name in
   * ASCII decimal, by the rules of {@link #parse(CharSequence, boolean)}.
   */
  public static long parse(byte[] b, int from, int to, boolean leadingZeros) {
    return parse(to - from, i -> b[from + i], leadingZeros);
  }

  private static long parse(int length, java.util.function.IntUnaryOperator charAt, boolean zeros) {
    if (length == 0) {
      return -1;
    }
    int from = 0;
    if (zeros) {
      while (from < length - 1 && charAt.applyAsInt(from) == '0') {
        from++;
      }
    } else if (charAt.applyAsInt(0) == '0') {
      return -1;
    }
    if (length - from > 19) {
      return -1;
    }
    long v = 0;
    for (int i = from; i < length; i++) {
      int c = charAt.applyAsInt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
      if (v < 0) {
        return -1; // past 2^63 - 1
      }
    }
    return v == 0 ? -1 : v;
  }
}
