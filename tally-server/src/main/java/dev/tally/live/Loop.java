package dev.tally.live;

/**
 * A single thread that owns some subscribers and runs their work: an HTTP event loop in the node, a
 * manually driven queue in tests. Implementations are thread-safe for {@link #execute}; everything
 * run through a loop is confined to it. Lifecycle owned by whoever created the loop.
 */
public interface Loop {

  /** Runs {@code task} later on this loop; callable from any thread, never blocks. */
  void execute(Runnable task);

  /** Runs {@code task} on this loop after {@code delayMillis}; call only on this loop. */
  void schedule(long delayMillis, Runnable task);
}
