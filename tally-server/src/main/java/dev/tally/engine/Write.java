package dev.tally.engine;

import dev.tally.counter.CounterId;

/**
 * One write a client asked for: add {@code delta} to {@code counter}, at most once per {@code
 * idempotencyKey} (null for none). Immutable.
 */
public record Write(CounterId counter, long delta, String idempotencyKey) {

  public Write {
    if (delta == 0) {
      throw new IllegalArgumentException("a write must change the counter");
    }
  }
}
