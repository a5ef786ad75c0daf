package dev.tally.loop;

import dev.tally.engine.Wakeups;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs tasks from other threads (the committer, the read pool) on one event loop, waking it once
 * for everything queued meanwhile rather than once per task: a group commit answering 500 writes
 * costs each event loop one wake-up, given after the commit's last answer is queued ({@link
 * Wakeups}). Thread-safe; one per event-loop thread, shared by whatever answers on that loop (HTTP
 * requests, RESP connections). Tasks run on the context it was made with, which may be another
 * request's duplicate of the same event loop's context: what matters is the thread.
 */
public final class Handoff {

  // one per event-loop thread, not per Context: Vert.x gives every request its own duplicate of its
  // event loop's context, so hand-offs keyed by context would grow with every request
  private static final ThreadLocal<Handoff> OF_LOOP = new ThreadLocal<>();

  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  // tasks queued on loopThread by a task of the running drain (a connection's flush after its
  // replies were made): a plain queue, read and written only on loopThread, rather than the shared
  // one whose tail the committer writes at the same time
  private final ArrayDeque<Runnable> queuedByDrain = new ArrayDeque<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final Thread loopThread;
  private final Runnable schedule;
  // true while drain() runs; read and written only on loopThread
  private boolean draining;

  /**
   * @param loopThread the event loop's thread
   * @param loop runs a task on that thread, later (the event loop's task queue)
   */
  Handoff(Thread loopThread, Executor loop) {
    this.loopThread = loopThread;
    Runnable drain = this::drain;
    this.schedule = () -> loop.execute(drain);
  }

  /**
   * The hand-off back to the event loop this is called on, made at its first use there.
   *
   * @throws IllegalStateException off an event loop
   */
  public static Handoff toThisLoop() {
    Handoff h = OF_LOOP.get();
    if (h == null) {
      Context context = Vertx.currentContext();
      if (context == null) {
        throw new IllegalStateException("not on an event loop");
      }
      h = new Handoff(Thread.currentThread(), task -> context.runOnContext(v -> task.run()));
      OF_LOOP.set(h);
    }
    return h;
  }

  /**
   * Queues {@code task} to run on the event loop, in order with the others queued from the same
   * thread. A task queued by one that the loop is running now (a reply completing a connection's
   * flush) runs in the same drain, after the tasks other threads queued: a connection whose replies
   * several tasks complete is flushed once, after all of them.
   */
  public void run(Runnable task) {
    if (Thread.currentThread() == loopThread && draining) {
      queuedByDrain.add(task); // the drain running on this thread polls it before it ends
      return;
    }
    tasks.add(task);
    if (scheduled.compareAndSet(false, true)) {
      Wakeups.wake(schedule);
    }
  }

  private void drain() {
    // clear the flag before polling: a task added from another thread after the last poll
    // schedules a new drain
    scheduled.set(false);
    draining = true;
    try {
      for (Runnable r; (r = next()) != null; ) {
        r.run();
      }
    } finally {
      draining = false;
      // a task threw: the ones after it run in a drain of their own
      if ((!tasks.isEmpty() || !queuedByDrain.isEmpty()) && scheduled.compareAndSet(false, true)) {
        Wakeups.wake(schedule);
      }
    }
  }

  private Runnable next() {
    Runnable r = tasks.poll();
    return r != null ? r : queuedByDrain.poll();
  }
}
