package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BusPublisherTest {

  /** The subscribers parse the numbers with Long.parseLong(s, 36): the text must be the same. */
  @Test
  void base36_writesWhatLongToStringWrites_afterWhatIsThere() {
    long[] edges = {
      0, 1, 35, 36, 1295, 1296, Integer.MAX_VALUE, Long.MAX_VALUE, -1, Long.MIN_VALUE
    };
    SplittableRandom random = new SplittableRandom(20261206L);
    for (int i = 0; i < edges.length + 10_000; i++) {
      long v = i < edges.length ? edges[i] : random.nextLong() >>> random.nextInt(64);
      StringBuilder sb = new StringBuilder("2,ab;");
      BusPublisher.base36(sb, v);
      assertThat(sb.toString()).as("%d", v).isEqualTo("2,ab;" + Long.toString(v, 36));
    }
  }
}
