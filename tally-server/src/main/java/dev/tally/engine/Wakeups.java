package dev.tally.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * Holds back the wake-ups of other threads while one thread hands out a batch of answers, then
 * gives them all at once.
 *
 * <p>The committer answers a group commit's writes one callback at a time, and each answer goes to
 * an event loop. Waking a loop at its first answer lets it run (on a small machine it takes the
 * committer's core) with only that answer, sleep again, and be woken by the next one: a commit of
 * 60 writes cost its one event loop 3-6 wake-ups and as many context switches, and the answers went
 * out in as many socket rounds. Inside {@link #holdDuring} a wake-up is only noted; each one noted
 * runs, in order, once the hand-out is over, so each loop wakes once to find all its answers.
 *
 * <p>Thread-confined: a hold covers only the thread that runs {@link #holdDuring}; {@link #wake}
 * from any other thread runs at once.
 */
public final class Wakeups {

  private static final ThreadLocal<List<Runnable>> HELD = new ThreadLocal<>();

  private Wakeups() {}

  /**
   * Runs {@code handOut}, holding back the wake-ups it asks for on this thread; then runs them in
   * the order they were asked for, also if {@code handOut} throws. Holds nest: an inner hold's
   * wake-ups wait for the outermost.
   */
  public static void holdDuring(Runnable handOut) {
    if (HELD.get() != null) {
      handOut.run();
      return;
    }
    List<Runnable> held = new ArrayList<>();
    HELD.set(held);
    try {
      handOut.run();
    } finally {
      HELD.remove();
      for (Runnable wakeup : held) {
        wakeup.run();
      }
    }
  }

  /** Runs {@code wakeup} now, or, inside {@link #holdDuring} on this thread, once it is over. */
  public static void wake(Runnable wakeup) {
    List<Runnable> held = HELD.get();
    if (held == null) {
      wakeup.run();
    } else {
      held.add(wakeup);
    }
  }
}
