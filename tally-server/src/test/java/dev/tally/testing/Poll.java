package dev.tally.testing;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/**
 * Polls a probe until its answer is accepted or a deadline passes: the one place tests wait for
 * something to become true. A probe that throws counts as not yet (its exception is kept for the
 * failure message), so a node still starting or a Redis still failing over is simply polled again.
 */
public final class Poll {

  private static final Duration INTERVAL = Duration.ofMillis(100);

  private Poll() {}

  /**
   * Calls {@code probe} every 100 ms until {@code done} accepts its answer, and returns that
   * answer.
   *
   * @throws AssertionError naming {@code what} and the last answer (or exception) once {@code
   *     timeout} has passed
   */
  public static <T> T until(String what, Duration timeout, Callable<T> probe, Predicate<T> done)
      throws InterruptedException {
    return until(what, timeout, INTERVAL, probe, done);
  }

  /** {@link #until(String, Duration, Callable, Predicate)} with another polling interval. */
  public static <T> T until(
      String what, Duration timeout, Duration interval, Callable<T> probe, Predicate<T> done)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last = null;
    Exception failure = null;
    while (true) {
      try {
        last = probe.call();
        failure = null;
        if (done.test(last)) {
          return last;
        }
      } catch (InterruptedException e) {
        throw e;
      } catch (Exception e) {
        failure = e;
      }
      if (System.nanoTime() - deadline >= 0) {
        AssertionError error =
            new AssertionError(
                what
                    + ": not within "
                    + timeout.toMillis()
                    + " ms; last "
                    + (failure != null ? "failure: " + failure : "answer: " + last));
        if (failure != null) {
          error.initCause(failure);
        }
        throw error;
      }
      Thread.sleep(interval.toMillis());
    }
  }

  /**
   * Polls {@code condition} until it holds; see {@link #until(String, Duration, Callable,
   * Predicate)}.
   */
  public static void until(String what, Duration timeout, Callable<Boolean> condition)
      throws InterruptedException {
    until(what, timeout, condition, Boolean.TRUE::equals);
  }
}
