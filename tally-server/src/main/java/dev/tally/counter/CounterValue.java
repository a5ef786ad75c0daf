package dev.tally.counter;

/**
 * What a node stores for one counter: its own slot and the time of the last write it accepted, in
 * whole seconds since the epoch (0 = never written). Immutable.
 */
public record CounterValue(Slot slot, long updatedAtSecond) {

  public static final CounterValue NEVER_WRITTEN = new CounterValue(Slot.ZERO, 0);

  public long count() {
    return slot.value();
  }

  /** This value after a write of {@code delta} at {@code nowSecond}. */
  public CounterValue plus(long delta, long nowSecond) {
    return new CounterValue(slot.plus(delta), Math.max(updatedAtSecond, nowSecond));
  }

  /** Merge of two copies: slots by CRDT merge, the later timestamp. */
  public CounterValue merge(CounterValue other) {
    return new CounterValue(
        slot.merge(other.slot), Math.max(updatedAtSecond, other.updatedAtSecond));
  }

  /** True when this copy has seen every write the other has. */
  public boolean dominates(CounterValue other) {
    return slot.dominates(other.slot) && updatedAtSecond >= other.updatedAtSecond;
  }
}
