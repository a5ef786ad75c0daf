package dev.tally.engine;

/**
 * Where the HTTP layer sends writes: the {@link Aggregator} on a single node, or the cluster's
 * writer in front of it. Thread-safe; {@link #submit} never blocks.
 */
public interface WritePath {

  /**
   * Takes {@code writes}; {@code callback} later gets one result per write, in order, on some other
   * thread (it must only hand off).
   *
   * @throws dev.tally.error.TallyException when nothing was taken (overload, shutdown)
   */
  void submit(Write[] writes, Aggregator.Callback callback);
}
