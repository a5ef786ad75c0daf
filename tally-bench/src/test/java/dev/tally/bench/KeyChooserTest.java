package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KeyChooserTest {

  @Test
  void hot_alwaysPicksTheFirstPost() {
    KeyChooser k = new KeyChooser(KeyChooser.Kind.HOT, 500, 1000, 1.0);
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < 100; i++) {
      assertThat(k.next(r)).isEqualTo(500);
    }
    assertThat(k.posts()).isEqualTo(1);
  }

  @Test
  void uniformAndZipf_stayInRange_andZipfFavoursLowRanks() {
    KeyChooser u = new KeyChooser(KeyChooser.Kind.UNIFORM, 100, 1000, 1.0);
    KeyChooser z = new KeyChooser(KeyChooser.Kind.ZIPF, 100, 1000, 1.0);
    SplittableRandom r = new SplittableRandom(2);
    int zipfFirst = 0;
    int uniformFirst = 0;
    for (int i = 0; i < 100_000; i++) {
      long a = u.next(r);
      long b = z.next(r);
      assertThat(a).isBetween(100L, 1099L);
      assertThat(b).isBetween(100L, 1099L);
      uniformFirst += a == 100 ? 1 : 0;
      zipfFirst += b == 100 ? 1 : 0;
    }
    // Zipf(s=1) over 1000 ranks gives rank 1 about 13 % of draws; uniform about 0.1 %
    assertThat(zipfFirst).isBetween(12_000, 14_500);
    assertThat(uniformFirst).isLessThan(300);
  }
}
