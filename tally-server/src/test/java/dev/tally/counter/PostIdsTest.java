package dev.tally.counter;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PostIdsTest {

  /** Parses {@code s} as text and, framed inside other bytes, as bytes: both must agree. */
  private static long parse(String s, boolean zeros) {
    long asText = PostIds.parse(s, zeros);
    if (s != null) {
      byte[] b = (":" + s + "x").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      assertThat(PostIds.parse(b, 1, b.length - 1, zeros)).as("'%s' as bytes", s).isEqualTo(asText);
    }
    return asText;
  }

  @Test
  void parsesPositiveDecimals_upToTheLargestLong() {
    for (boolean zeros : new boolean[] {false, true}) {
      assertThat(parse("812", zeros)).isEqualTo(812);
      assertThat(parse("9223372036854775807", zeros)).isEqualTo(Long.MAX_VALUE);
      assertThat(parse("9223372036854775808", zeros)).isEqualTo(-1);
      assertThat(parse("99999999999999999999", zeros)).isEqualTo(-1);
      for (String bad : new String[] {null, "", "0", "-1", "+1", "1.0", "8 12", "12a", "٣"}) {
        assertThat(parse(bad, zeros)).as("'%s'", bad).isEqualTo(-1);
      }
    }
  }

  @Test
  void leadingZeros_areOneSpellingOnlyWhereAllowed() {
    assertThat(parse("0812", false)).isEqualTo(-1);
    assertThat(parse("0812", true)).isEqualTo(812);
    assertThat(parse("000", true)).isEqualTo(-1);
    assertThat(parse("0009223372036854775807", true)).isEqualTo(Long.MAX_VALUE);
  }
}
