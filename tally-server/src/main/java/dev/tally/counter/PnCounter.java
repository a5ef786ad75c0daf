package dev.tally.counter;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * A PN-counter CRDT: one {@link Slot} per writer (a tally node, by its stable id). Its value is the
 * sum of the slots' values; merging two counters takes the per-writer slot merge, which is
 * commutative, associative and idempotent, so copies converge whatever order, duplication or
 * retries their updates see. Immutable.
 */
public final class PnCounter {

  public static final PnCounter EMPTY = new PnCounter(Map.of());

  private final Map<Long, Slot> slots;

  private PnCounter(Map<Long, Slot> slots) {
    this.slots = slots;
  }

  public static PnCounter of(Map<Long, Slot> slots) {
    return new PnCounter(Map.copyOf(slots));
  }

  public Map<Long, Slot> slots() {
    return Collections.unmodifiableMap(slots);
  }

  public Slot slot(long writer) {
    return slots.getOrDefault(writer, Slot.ZERO);
  }

  public long value() {
    long v = 0;
    for (Slot s : slots.values()) {
      v += s.value();
    }
    return v;
  }

  /** This counter after {@code writer} accepted a write of {@code delta}. */
  public PnCounter apply(long writer, long delta) {
    Map<Long, Slot> next = new HashMap<>(slots);
    next.put(writer, slot(writer).plus(delta));
    return new PnCounter(Map.copyOf(next));
  }

  public PnCounter merge(PnCounter other) {
    Map<Long, Slot> next = new HashMap<>(slots);
    other.slots.forEach((w, s) -> next.merge(w, s, Slot::merge));
    return new PnCounter(Map.copyOf(next));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PnCounter other && slots.equals(other.slots);
  }

  @Override
  public int hashCode() {
    return slots.hashCode();
  }

  @Override
  public String toString() {
    return "PnCounter" + slots;
  }
}
