package dev.tally.counter;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PostIdsTest {

  @Test
  void parsesPositiveDecimals_upToTheLargestLong() {
    for (boolean zeros : new boolean[] {false, true}) {
      assertThat(PostIds.parse("812", zeros)).isEqualTo(812);
      assertThat(PostIds.parse("9223372036854775807", zeros)).isEqualTo(Long.MAX_VALUE);
      assertThat(PostIds.parse("9223372036854775808", zeros)).isEqualTo(-1);
      assertThat(PostIds.parse("99999999999999999999", zeros)).isEqualTo(-1);
      for (String bad : new String[] {null, "", "0", "-1", "+1", "1.0", "8 12", "12a", "٣"}) {
        assertThat(PostIds.parse(bad, zeros)).as("'%s'", bad).isEqualTo(-1);
      }
    }
  }

  @Test
  void leadingZeros_areOneSpellingOnlyWhereAllowed() {
    assertThat(PostIds.parse("0812", false)).isEqualTo(-1);
    assertThat(PostIds.parse("0812", true)).isEqualTo(812);
    assertThat(PostIds.parse("000", true)).isEqualTo(-1);
    assertThat(PostIds.parse("0009223372036854775807", true)).isEqualTo(Long.MAX_VALUE);
  }
}
