package dev.tally.http;

import io.vertx.core.Context;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs tasks from other threads (the committer, the read pool) on one event loop, waking it once
 * for everything queued meanwhile rather than once per task: a group commit answering 500 writes
 * costs each event loop one wake-up. Thread-safe; one per event-loop thread, owned by {@link
 * HttpApi}. Tasks run on the context it was made with, which may be another request's duplicate of
 * the same event loop's context: what matters is the thread.
 */
final class Handoff {

  private final Context context;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();

  Handoff(Context context) {
    this.context = context;
  }

  /** Queues {@code task} to run on the event loop, in order with the others. */
  void run(Runnable task) {
    tasks.add(task);
    if (scheduled.compareAndSet(false, true)) {
      context.runOnContext(v -> drain());
    }
  }

  private void drain() {
    // clear the flag before polling: a task added after the last poll schedules a new drain
    scheduled.set(false);
    for (Runnable r; (r = tasks.poll()) != null; ) {
      r.run();
    }
  }
}
