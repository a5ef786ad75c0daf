package dev.tally.store;

import dev.tally.counter.CounterId;

/**
 * What the store keeps for an applied write that carried an {@code Idempotency-Key}: the write
 * itself (to recognise a key reused for a different write), the answer it got, and when the key may
 * be forgotten. Immutable.
 *
 * @param counter the counter the write went to
 * @param delta the write's signed amount
 * @param count the counter's count right after the write: the answer replayed to repeats
 * @param updatedAtSecond the counter's update time in that answer
 * @param expiresAtSecond after this second the key is forgotten and may be used afresh
 */
public record IdempotencyRecord(
    CounterId counter, long delta, long count, long updatedAtSecond, long expiresAtSecond) {

  /** True when a write of {@code delta} to {@code other} is the same request as this one. */
  public boolean sameWrite(CounterId other, long otherDelta) {
    return counter.equals(other) && delta == otherDelta;
  }

  public boolean expiredAt(long nowSecond) {
    return nowSecond >= expiresAtSecond;
  }
}
