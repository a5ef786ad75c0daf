package dev.tally.loop;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import java.util.concurrent.TimeUnit;

/**
 * A no-op task falling due on every event loop once a second from the node's start, so that the JIT
 * compiles the loops with their scheduled-task paths taken.
 *
 * <p>Why: otherwise the first task due on a loop is the idle check of its first connections ({@code
 * --idle-timeout}, 60 s later). By then the JIT has compiled Netty's paths for due tasks ({@code
 * epollWait} with a timeout, {@code pollScheduledTask}, {@code hasScheduledTasks}) as never taken,
 * and that first check threw them back to the interpreter at once on every loop: a ≈ 20 ms stall of
 * all answers about a minute after start (docs/performance-notes.md, "A stall a minute after
 * start"). The tick costs each loop one wake-up a second. Called once at start; the ticks end with
 * the loops.
 */
public final class LoopTicks {

  /** How often the no-op task falls due on each loop. */
  static final long PERIOD_MILLIS = 1_000;

  private LoopTicks() {}

  /** Schedules the no-op tick on every loop of {@code loops}; returns how many loops got one. */
  public static int start(EventExecutorGroup loops) {
    return start(loops, () -> {}, PERIOD_MILLIS);
  }

  /** Schedules {@code tick} every {@code periodMillis} on every loop of {@code loops}. */
  static int start(EventExecutorGroup loops, Runnable tick, long periodMillis) {
    int n = 0;
    for (EventExecutor loop : loops) {
      loop.scheduleAtFixedRate(tick, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
      n++;
    }
    return n;
  }
}
