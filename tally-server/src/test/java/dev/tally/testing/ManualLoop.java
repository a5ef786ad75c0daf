package dev.tally.testing;

import dev.tally.live.Loop;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A {@link Loop} driven by the test: tasks wait until {@link #runReady}, timers until the clock
 * passes their due time. Not thread-safe: the test thread plays the loop (and the committer).
 */
public final class ManualLoop implements Loop {

  private record Timer(long dueMillis, long seq, Runnable task) {}

  private final Clock clock;
  private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
  private final List<Timer> timers = new ArrayList<>();
  private long seq;

  public ManualLoop(Clock clock) {
    this.clock = clock;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
  }

  @Override
  public void schedule(long delayMillis, Runnable task) {
    timers.add(new Timer(clock.millis() + delayMillis, seq++, task));
  }

  /** Runs queued tasks and due timers until none is left; returns how many ran. */
  public int runReady() {
    int ran = 0;
    while (true) {
      Runnable t = tasks.poll();
      if (t == null) {
        Timer due =
            timers.stream()
                .filter(x -> x.dueMillis() <= clock.millis())
                .min(Comparator.comparingLong(Timer::dueMillis).thenComparingLong(Timer::seq))
                .orElse(null);
        if (due == null) {
          return ran;
        }
        timers.remove(due);
        t = due.task();
      }
      t.run();
      ran++;
    }
  }

  public int pendingTimers() {
    return timers.size();
  }
}
