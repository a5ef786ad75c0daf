package dev.tally.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
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
}
