package dev.tally.testing;

import dev.tally.live.Loop;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Loop} on a thread of its own, for tests whose subscribers are fed by other threads
 * (Redis clients, the committer). Thread-safe; {@link #call} runs test code on the loop, so that
 * sinks and subscriptions confined to it can be touched. Closed by the test.
 */
public final class ThreadLoop implements Loop, AutoCloseable {

  private final ScheduledExecutorService thread;

  public ThreadLoop(String name) {
    this.thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, name);
              t.setDaemon(true);
              return t;
            });
  }

  @Override
  public void execute(Runnable task) {
    thread.execute(task);
  }

  @Override
  public void schedule(long delayMillis, Runnable task) {
    thread.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
  }

  /** Runs {@code task} on the loop and returns its result (waits up to 10 s). */
  public <T> T call(Callable<T> task) throws Exception {
    return thread.submit(task).get(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
