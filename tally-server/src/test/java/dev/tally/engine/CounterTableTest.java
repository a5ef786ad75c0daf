package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class CounterTableTest {

  private record Key(long post, int code) {}

  /**
   * Against a map of everything ever put: the table may have forgotten a counter (evicted), never
   * holds a wrong value, never more than its bound, and always holds what was put last.
   */
  @Property(tries = 200)
  void holdsOnlyTheLatestValues_withinItsBound(
      @ForAll @IntRange(min = 1, max = 40) int maxEntries,
      @ForAll @IntRange(min = 1, max = 200) int posts,
      @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long seed) {
    CounterTable table = new CounterTable(maxEntries);
    Map<Key, long[]> model = new HashMap<>();
    SplittableRandom random = new SplittableRandom(seed);
    for (int step = 0; step < 2_000; step++) {
      Key k = new Key(1 + random.nextInt(posts), 1 + random.nextInt(3));
      if (random.nextInt(3) == 0) {
        int slot = table.find(k.post(), k.code());
        if (slot >= 0) {
          long[] v = model.get(k);
          assertThat(new long[] {table.p(slot), table.n(slot), table.updatedAtSecond(slot)})
              .containsExactly(v);
        }
      } else {
        long[] v = {random.nextLong(1 << 40), random.nextLong(1 << 40), random.nextLong(1 << 32)};
        table.put(k.post(), k.code(), v[0], v[1], v[2]);
        model.put(k, v);
        int slot = table.find(k.post(), k.code());
        assertThat(slot).isNotNegative();
        assertThat(table.p(slot)).isEqualTo(v[0]);
      }
      assertThat(table.size()).isLessThanOrEqualTo(maxEntries);
    }
    int held = 0;
    for (Map.Entry<Key, long[]> e : model.entrySet()) {
      int slot = table.find(e.getKey().post(), e.getKey().code());
      if (slot >= 0) {
        held++;
        assertThat(new long[] {table.p(slot), table.n(slot), table.updatedAtSecond(slot)})
            .containsExactly(e.getValue());
      }
    }
    assertThat(held).isEqualTo(table.size()).isEqualTo(Math.min(maxEntries, model.size()));
  }

  @Test
  void keepsTheCountersInUse_andEvictsColdOnes() {
    CounterTable table = new CounterTable(100);
    for (long post = 1; post <= 100; post++) {
      table.put(post, 1, post, 0, 0);
    }
    // posts 1..10 are read between waves of new counters; each wave is the table's size
    for (long wave = 1; wave <= 5; wave++) {
      for (long post = 1; post <= 10; post++) {
        assertThat(table.find(post, 1)).as("hot post %d in wave %d", post, wave).isNotNegative();
      }
      for (long post = wave * 1000; post < wave * 1000 + 90; post++) {
        table.put(post, 1, post, 0, 0);
      }
    }
    assertThat(table.size()).isEqualTo(100);
  }

  @Test
  void codesOfOnePost_areDistinctCounters_andZeroHoldsNothing() {
    CounterTable table = new CounterTable(8);
    for (int code : List.of(1, 2, 255)) {
      table.put(7, code, code, 0, 0);
    }
    for (int code : List.of(1, 2, 255)) {
      assertThat(table.p(table.find(7, code))).isEqualTo(code);
    }
    assertThat(table.find(7, 3)).isEqualTo(-1);
    table.clear();
    assertThat(table.find(7, 1)).isEqualTo(-1);
    assertThat(table.size()).isZero();

    CounterTable none = new CounterTable(0);
    none.put(7, 1, 1, 0, 0);
    assertThat(none.find(7, 1)).isEqualTo(-1);
  }
}
