package dev.tally.counter;

/**
 * One writer's share of a PN-counter: {@code p} is the sum of the increments it accepted, {@code n}
 * the sum of its decrements. Both only grow, so merging two copies of a slot is a per-component
 * maximum. Immutable.
 */
public record Slot(long p, long n) {

  public static final Slot ZERO = new Slot(0, 0);

  public Slot {
    if (p < 0 || n < 0) {
      throw new IllegalArgumentException(
          "slot components are sums and never negative: " + p + "," + n);
    }
  }

  /** The slot's contribution to the counter's value. */
  public long value() {
    return p - n;
  }

  /**
   * This slot after one more write of {@code delta}: a positive delta raises {@code p}, a negative
   * one raises {@code n}.
   *
   * @throws ArithmeticException if a component would pass {@link Long#MAX_VALUE}
   */
  public Slot plus(long delta) {
    return new Slot(pAfter(p, delta), nAfter(n, delta));
  }

  /**
   * {@code p} after one more write of {@code delta}, as {@link #plus} changes it; for callers that
   * keep the components in fields of their own.
   *
   * @throws ArithmeticException if it would pass {@link Long#MAX_VALUE}
   */
  public static long pAfter(long p, long delta) {
    return delta >= 0 ? Math.addExact(p, delta) : p;
  }

  /**
   * {@code n} after one more write of {@code delta}, as {@link #plus} changes it.
   *
   * @throws ArithmeticException if it would pass {@link Long#MAX_VALUE}
   */
  public static long nAfter(long n, long delta) {
    return delta >= 0 ? n : Math.addExact(n, Math.negateExact(delta));
  }

  /** The least slot that dominates both: the CRDT merge. */
  public Slot merge(Slot other) {
    return new Slot(Math.max(p, other.p), Math.max(n, other.n));
  }

  /** True when every component is at least the other's (this slot has seen all of other). */
  public boolean dominates(Slot other) {
    return p >= other.p && n >= other.n;
  }
}
