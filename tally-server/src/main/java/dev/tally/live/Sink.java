package dev.tally.live;

/**
 * Where one subscriber's events go: an HTTP response in the node. Confined to the subscriber's
 * {@link Loop}; owned by the connection it writes to.
 */
public interface Sink {

  /** False when the bytes already waiting to be sent reached the sink's bound. */
  boolean writable();

  /** Queues {@code text} for sending; never blocks. */
  void write(String text);

  /** Closes the connection (the subscriber is dropped); the close is reported back later. */
  void close();
}
