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
    if (s == null || s.isEmpty()) {
      return -1;
    }
    int from = 0;
    if (leadingZeros) {
      while (from < s.length() - 1 && s.charAt(from) == '0') {
        from++;
      }
    } else if (s.charAt(0) == '0') {
      return -1;
    }
    if (s.length() - from > 19) {
      return -1;
    }
    long v = 0;
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
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
