package dev.tally.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class JsonTest {

  @Test
  void countBodyIsTheCountObjectAsBytes() {
    assertThat(Json.countBody(42, 1_700_000_000L).toString(StandardCharsets.UTF_8))
        .isEqualTo("{\"count\":42,\"updated_at\":\"2023-11-14T22:13:20Z\"}");
    assertThat(Json.countBody(-7, 0).toString(StandardCharsets.UTF_8))
        .isEqualTo("{\"count\":-7,\"updated_at\":null}");
    assertThat(Json.countBody(Long.MIN_VALUE, 1).toString(StandardCharsets.UTF_8))
        .isEqualTo("{\"count\":-9223372036854775808,\"updated_at\":\"1970-01-01T00:00:01Z\"}");
  }

  @Test
  void countBodyDoesNotCarryTheLastAnswerIntoTheNext() {
    Json.countBody(123_456_789_012L, 1_700_000_000L);
    // the scratch is reused: a shorter answer must not keep the tail of the longer one
    assertThat(Json.countBody(1, 0).toString(StandardCharsets.UTF_8))
        .isEqualTo("{\"count\":1,\"updated_at\":null}");
  }

  private static String iso(long second) {
    return DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(second));
  }

  private static String written(long second) {
    return Json.appendTimestamp(new StringBuilder(), second).toString();
  }

  @Test
  void timestamps_areWhatTheIsoFormatterWrites_atTheCalendarsEdges() {
    String[] edges = {
      "1970-01-01T00:00:00", "1969-12-31T23:59:59", "2000-02-29T12:00:00", "1900-02-28T23:59:59",
      "1900-03-01T00:00:00", "2100-02-28T23:59:59", "2100-03-01T00:00:00", "2024-02-29T00:00:00",
      "2024-12-31T23:59:59", "2025-01-01T00:00:00", "0000-01-01T00:00:00", "0000-02-29T00:00:00",
      "9999-12-31T23:59:59", "2020-01-01T00:00:00", "2156-02-07T06:28:15", "1600-03-01T00:00:00",
    };
    for (String edge : edges) {
      long second = LocalDateTime.parse(edge).toEpochSecond(ZoneOffset.UTC);
      assertThat(written(second)).as(edge).isEqualTo(edge + "Z").isEqualTo(iso(second));
    }
  }

  @Test
  void timestamps_areWhatTheIsoFormatterWrites_overTheFourDigitYears() {
    SplittableRandom random = new SplittableRandom(20261207);
    long first = LocalDateTime.parse("0000-01-01T00:00:00").toEpochSecond(ZoneOffset.UTC);
    long last = LocalDateTime.parse("9999-12-31T23:59:59").toEpochSecond(ZoneOffset.UTC);
    for (int i = 0; i < 200_000; i++) {
      long second = random.nextLong(first, last + 1);
      assertThat(written(second)).isEqualTo(iso(second));
    }
    // every second of a day around a leap day, one day's worth in steps of 7 seconds
    long start = LocalDateTime.parse("2028-02-28T12:00:00").toEpochSecond(ZoneOffset.UTC);
    for (long s = start; s < start + 2 * 86_400; s += 7) {
      assertThat(written(s)).isEqualTo(iso(s));
    }
  }

  @Test
  void timestampsBeyondFourDigitYears_goToTheFormatter() {
    long[] seconds = {
      LocalDateTime.parse("-0001-12-31T23:59:59").toEpochSecond(ZoneOffset.UTC),
      LocalDateTime.parse("+10000-01-01T00:00:00").toEpochSecond(ZoneOffset.UTC),
    };
    for (long second : seconds) {
      assertThat(written(second)).isEqualTo(iso(second));
    }
  }
}
