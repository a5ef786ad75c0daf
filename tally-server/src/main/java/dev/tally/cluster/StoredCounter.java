package dev.tally.cluster;

import dev.tally.counter.Slot;

/**
 * A counter as a Redis record holds it: every writer's slot and the counter's last write time over
 * all writers. Immutable; {@code entries} is not copied and must not be changed.
 *
 * @param updatedAtSecond the last write time, epoch seconds (0 when none is recorded)
 * @param entries per writer three longs: writer id, P, N
 */
public record StoredCounter(long updatedAtSecond, long[] entries) {

  /** No record: nothing pushed yet, or lost until the writers push again. */
  public static final StoredCounter ABSENT = new StoredCounter(0, new long[0]);

  /** False for {@link #ABSENT}. */
  public boolean exists() {
    return entries.length > 0;
  }

  /** Σ (P − N) over the writers. */
  public long total() {
    long t = 0;
    for (int i = 0; i < entries.length; i += 3) {
      t += entries[i + 1] - entries[i + 2];
    }
    return t;
  }

  /** The slot of {@code writer}, or {@link Slot#ZERO}. */
  public Slot slotOf(long writer) {
    for (int i = 0; i < entries.length; i += 3) {
      if (entries[i] == writer) {
        return new Slot(entries[i + 1], entries[i + 2]);
      }
    }
    return Slot.ZERO;
  }

  /** How many writers the record holds. */
  public int writers() {
    return entries.length / 3;
  }
}
