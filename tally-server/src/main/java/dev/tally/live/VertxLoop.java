package dev.tally.live;

import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * A {@link Loop} on a Vert.x event-loop context: tasks and timers run on that context's thread.
 * Thread-safe; one per context, kept for the node's life by whoever serves the connections.
 */
public final class VertxLoop implements Loop {

  private final Context context;

  public VertxLoop(Context context) {
    this.context = context;
  }

  @Override
  public void execute(Runnable task) {
    context.runOnContext(v -> task.run());
  }

  @Override
  public void schedule(long delayMillis, Runnable task) {
    if (Vertx.currentContext() == context) {
      // a timer set on the context's own thread fires on it too
      context.owner().setTimer(delayMillis, id -> task.run());
    } else {
      context.runOnContext(v -> context.owner().setTimer(delayMillis, id -> task.run()));
    }
  }
}
