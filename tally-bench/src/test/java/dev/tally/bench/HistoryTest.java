package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class HistoryTest {

  @Test
  void check_findsLostAndDuplicatedIncrements() {
    History h = new History();
    History.Op a1 = new History.Op(1, "likes", "a1");
    History.Op a2 = new History.Op(1, "likes", "a2");
    History.Op b1 = new History.Op(2, "likes", "b1");
    h.sent(a1);
    h.sent(a2);
    h.sent(b1);
    h.acknowledged(a1);
    h.acknowledged(a2);
    assertThat(h.inDoubt()).containsExactly(b1);

    // counter 1 lost one acknowledged increment; counter 2 counted its one write twice
    var checks = h.check(Map.of("1/likes", 1L, "2/likes", 2L));
    assertThat(checks).hasSize(2);
    var c1 = checks.stream().filter(c -> c.post() == 1).findFirst().orElseThrow();
    var c2 = checks.stream().filter(c -> c.post() == 2).findFirst().orElseThrow();
    assertThat(c1.lost()).isEqualTo(1);
    assertThat(c1.duplicated()).isZero();
    assertThat(c2.lost()).isZero();
    assertThat(c2.duplicated()).isEqualTo(1);
  }

  @Test
  void check_exactHistoryHasNothingLostOrDuplicated() {
    History h = new History();
    for (int i = 0; i < 10; i++) {
      History.Op op = new History.Op(7, "views", "k" + i);
      h.sent(op);
      if (i % 2 == 0) {
        h.acknowledged(op);
      }
    }
    var c = h.check(Map.of("7/views", 10L)).getFirst();
    assertThat(c.attempted()).isEqualTo(10);
    assertThat(c.acknowledged()).isEqualTo(5);
    assertThat(c.lost()).isZero();
    assertThat(c.duplicated()).isZero();
  }
}
