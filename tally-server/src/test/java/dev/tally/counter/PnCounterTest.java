package dev.tally.counter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class PnCounterTest {

  @Provide
  Arbitrary<PnCounter> counters() {
    Arbitrary<Slot> slots =
        Combinators.combine(
                Arbitraries.longs().between(0, 1_000_000),
                Arbitraries.longs().between(0, 1_000_000))
            .as(Slot::new);
    return Arbitraries.maps(Arbitraries.longs().between(1, 5), slots)
        .ofMaxSize(5)
        .map(PnCounter::of);
  }

  @Property
  void merge_isCommutative(@ForAll("counters") PnCounter a, @ForAll("counters") PnCounter b) {
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
  }

  @Property
  void merge_isAssociative(
      @ForAll("counters") PnCounter a,
      @ForAll("counters") PnCounter b,
      @ForAll("counters") PnCounter c) {
    assertThat(a.merge(b).merge(c)).isEqualTo(a.merge(b.merge(c)));
  }

  @Property
  void merge_isIdempotent(@ForAll("counters") PnCounter a, @ForAll("counters") PnCounter b) {
    assertThat(a.merge(a)).isEqualTo(a);
    assertThat(a.merge(b).merge(b)).isEqualTo(a.merge(b));
  }

  @Property
  void replicas_convergeToSumOfWrites_whateverTheDeliveryOrder(
      @ForAll("writes") List<long[]> writes, @ForAll long shuffleSeed) {
    // each write is {writer, delta}; replica A applies them as they come, replica B receives
    // A's state at random points and after everything: both end at the exact sum
    PnCounter a = PnCounter.EMPTY;
    PnCounter b = PnCounter.EMPTY;
    java.util.Random r = new java.util.Random(shuffleSeed);
    long sum = 0;
    for (long[] w : writes) {
      a = a.apply(w[0], w[1]);
      sum += w[1];
      if (r.nextInt(3) == 0) {
        b = b.merge(a);
      }
    }
    b = b.merge(a).merge(a);
    assertThat(a.value()).isEqualTo(sum);
    assertThat(b.value()).isEqualTo(sum);
    assertThat(b).isEqualTo(a);
  }

  @Provide
  Arbitrary<List<long[]>> writes() {
    Arbitrary<long[]> w =
        Combinators.combine(
                Arbitraries.longs().between(1, 3),
                Arbitraries.longs().between(-5, 5).filter(d -> d != 0))
            .as((writer, delta) -> new long[] {writer, delta});
    return w.list().ofMaxSize(50);
  }

  @Test
  void slot_plus_raisesPForIncrementsAndNForDecrements() {
    Slot s = Slot.ZERO.plus(3).plus(-1).plus(-1);
    assertThat(s).isEqualTo(new Slot(3, 2));
    assertThat(s.value()).isEqualTo(1);
  }

  @Test
  void slot_plus_overflowThrowsInsteadOfWrapping() {
    Slot s = new Slot(Long.MAX_VALUE, 0);
    assertThatThrownBy(() -> s.plus(1)).isInstanceOf(ArithmeticException.class);
  }

  @Test
  void counterValue_countIsSigned() {
    CounterValue v = CounterValue.NEVER_WRITTEN.plus(-1, 100).plus(-1, 101);
    assertThat(v.count()).isEqualTo(-2);
    assertThat(v.updatedAtSecond()).isEqualTo(101);
  }

  @Test
  void counterId_roundTripsThroughBytes_andSortsByPost() {
    CounterId id = new CounterId(Long.MAX_VALUE, 255);
    assertThat(CounterId.fromBytes(id.toBytes())).isEqualTo(id);
    byte[] a = new CounterId(1, 2).toBytes();
    byte[] b = new CounterId(2, 1).toBytes();
    assertThat(java.util.Arrays.compareUnsigned(a, b)).isNegative();
  }

  @Test
  void counterId_rejectsNonPositivePost() {
    assertThatThrownBy(() -> new CounterId(0, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void counterNames_rejectReservedAndMalformedNames() {
    assertThatThrownBy(() -> CounterNames.checkName("live")).hasMessageContaining("reserved");
    assertThatThrownBy(() -> CounterNames.checkName("Likes")).hasMessageContaining("a-z");
    assertThatThrownBy(() -> CounterNames.checkName(""))
        .isInstanceOf(IllegalArgumentException.class);
    CounterNames.checkName("shares_v2");
  }
}
