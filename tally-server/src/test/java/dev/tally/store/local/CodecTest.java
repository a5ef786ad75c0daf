package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.store.IdempotencyRecord;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class CodecTest {

  @Property
  void counterValue_roundTrips(
      @ForAll @LongRange(min = 0) long p,
      @ForAll @LongRange(min = 0) long n,
      @ForAll @LongRange(min = 0) long at) {
    CounterValue v = new CounterValue(new Slot(p, n), at);
    assertThat(Codec.counterValue(Codec.counterValue(v))).isEqualTo(v);
  }

  @Property
  void idempotencyRecord_roundTrips(
      @ForAll @LongRange(min = 1) long post,
      @ForAll @IntRange(min = 1, max = 255) int code,
      @ForAll long delta,
      @ForAll long count,
      @ForAll @LongRange(min = 0) long at) {
    IdempotencyRecord r =
        new IdempotencyRecord(new CounterId(post, code), delta, count, at, at + 86_400);
    assertThat(Codec.idempotencyRecord(Codec.idempotencyRecord(r))).isEqualTo(r);
  }

  @Test
  void counterValue_typicalCounterIsSmall() {
    CounterValue v = new CounterValue(new Slot(812, 3), 1_900_000_000L);
    assertThat(Codec.counterValue(v)).hasSizeLessThanOrEqualTo(9);
  }

  @Test
  void counterValue_corruptBytesAreRejected() {
    assertThatThrownBy(() -> Codec.counterValue(new byte[] {(byte) 0x80}))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Codec.counterValue(new byte[] {1, 1, 1, 1}))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void expiryKey_sortsByTimeThenKey() {
    byte[] k = Codec.keyBytes("abc");
    byte[] early = Codec.expiryKey(100, k);
    byte[] late = Codec.expiryKey(1L << 40, Codec.keyBytes("a"));
    assertThat(java.util.Arrays.compareUnsigned(early, late)).isNegative();
    assertThat(Codec.expiryOf(early)).isEqualTo(100);
    assertThat(Codec.keyOfExpiry(early)).isEqualTo(k);
  }
}
