package dev.tally.live;

import io.vertx.core.Context;

/**
 * A {@link Loop} on a Vert.x event-loop context: tasks and timers run on that context's thread.
 * Thread-safe; one per context, kept for the node's life by whoever serves the connections.
 */
public final class VertxLoop implements Loop {

  private final Context context;
  private final Thread thread;

  /** A loop on {@code context}'s event-loop thread; create it on that thread. */
  public VertxLoop(Context context) {
    this.context = context;
    this.thread = Thread.currentThread();
  }

  @Override
  public void execute(Runnable task) {
    context.runOnContext(v -> task.run());
  }

  @Override
  public void schedule(long delayMillis, Runnable task) {
    if (Thread.currentThread() == thread) {
      // a timer set on an event-loop thread fires on that thread
      context.owner().setTimer(delayMillis, id -> task.run());
    } else {
      context.runOnContext(v -> context.owner().setTimer(delayMillis, id -> task.run()));
    }
  }
}
