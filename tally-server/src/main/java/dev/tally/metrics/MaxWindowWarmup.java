package dev.tally.metrics;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.distribution.TimeWindowMax;

/**
 * Takes micrometer's {@link TimeWindowMax} through its rotations once at start, so that the JIT
 * never compiles them as a path that cannot happen.
 *
 * <p>Why: every timer and distribution summary keeps its {@code _max} in a {@code TimeWindowMax},
 * which each record checks for a rotation that comes once a minute (the Prometheus registry's
 * step). Under load the JIT compiles the hot callers — the committer's commit, the HTTP and
 * Redis-protocol meters — within seconds, long before the first rotation, and finds the rotation's
 * branch never taken: it leaves it out and puts a trap in its place. The first rotation then throws
 * those methods back to the interpreter while they are compiled again, and on a busy core the
 * committer ran that slowly for a few hundred milliseconds: writes at half the peak rate waited up
 * to 90–106 ms, about a minute after every start (docs/performance-notes.md, "A stall a minute
 * after start"). A branch profile belongs to the method, not to one object, so rotating a private
 * instance on a clock of its own a few thousand times records the branch as taken for every
 * instance, and the callers are compiled with it.
 */
final class MaxWindowWarmup {

  /** Records through rotations: enough for the method's profile to exist and count them. */
  static final int RECORDS = 20_000;

  private MaxWindowWarmup() {}

  /**
   * Records {@link #RECORDS} falling values into a throwaway window on its own clock, which steps
   * one rotation between records and, every 16th record, past the whole buffer (the full reset).
   *
   * @return how many records were followed by a full reset, that is found the window holding only
   *     the value just recorded (for tests: {@code RECORDS / 16} when both paths ran)
   */
  static int run() {
    SteppedClock clock = new SteppedClock();
    TimeWindowMax max = new TimeWindowMax(clock, 1, 3); // a rotation every millisecond
    max.record(RECORDS);
    int resets = 0;
    for (int i = 1; i <= RECORDS; i++) {
      boolean reset = i % 16 == 0;
      clock.millis += reset ? 10 : 1;
      long value = RECORDS - i;
      max.record(value);
      // falling values: without rotations the window would hold the first one
      if (max.poll() == value) {
        resets++;
      }
    }
    return resets;
  }

  /** A clock that moves only when told. */
  private static final class SteppedClock implements Clock {
    long millis = 1;

    @Override
    public long wallTime() {
      return millis;
    }

    @Override
    public long monotonicTime() {
      return millis * 1_000_000;
    }
  }
}
