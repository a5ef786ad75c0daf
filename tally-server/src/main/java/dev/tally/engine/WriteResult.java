package dev.tally.engine;

import dev.tally.error.TallyException;

/**
 * The answer to one {@link Write}. Immutable.
 *
 * @param outcome what happened
 * @param count the counter's count right after this write (for a replay: after the original)
 * @param updatedAtSecond the counter's update time in that answer, epoch seconds
 * @param error why the write was not applied, for {@link Outcome#FAILED}; else null
 */
public record WriteResult(Outcome outcome, long count, long updatedAtSecond, TallyException error) {

  /** What happened to a write. */
  public enum Outcome {
    /** Applied now, and durable. */
    APPLIED,
    /** Its idempotency key was applied before: not applied again, the first answer repeated. */
    REPLAYED,
    /** Not applied; {@link WriteResult#error()} says why. */
    FAILED
  }

  static WriteResult applied(long count, long at) {
    return new WriteResult(Outcome.APPLIED, count, at, null);
  }

  static WriteResult replayed(long count, long at) {
    return new WriteResult(Outcome.REPLAYED, count, at, null);
  }

  static WriteResult failed(TallyException e) {
    return new WriteResult(Outcome.FAILED, 0, 0, e);
  }
}
