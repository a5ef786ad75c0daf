package dev.tally.testing;

import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import java.util.ArrayList;
import java.util.List;

/** Slots as the counter values a node pushes, for tests of the Redis side. */
public final class Values {

  /** A fixed write time: 2026-11-18, well within the records' 4-byte time range. */
  public static final long SECOND = 1_795_000_000L;

  private Values() {}

  /** {@code slots} as values last written at {@link #SECOND}. */
  public static List<CounterValue> of(List<Slot> slots) {
    List<CounterValue> out = new ArrayList<>(slots.size());
    for (Slot s : slots) {
      out.add(new CounterValue(s, SECOND));
    }
    return out;
  }
}
