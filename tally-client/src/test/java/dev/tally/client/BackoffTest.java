package dev.tally.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {

  private final Backoff b = new Backoff(8, Duration.ofMillis(100), Duration.ofSeconds(1));

  @Test
  void delays_doubleFromTheBase_withEqualJitter_upToTheCap() {
    for (int i = 0; i < 200; i++) {
      assertThat(b.delay(1, null)).isBetween(Duration.ofMillis(50), Duration.ofMillis(100));
      assertThat(b.delay(2, null)).isBetween(Duration.ofMillis(100), Duration.ofMillis(200));
      assertThat(b.delay(3, null)).isBetween(Duration.ofMillis(200), Duration.ofMillis(400));
      assertThat(b.delay(5, null)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(1));
      assertThat(b.delay(60, null)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(1));
    }
  }

  @Test
  void jitter_spreadsClientsThatFailedTogether() {
    assertThat(java.util.stream.IntStream.range(0, 50).mapToObj(i -> b.delay(4, null)).distinct())
        .hasSizeGreaterThan(10);
  }

  @Test
  void retryAfter_isTheLeastWait() {
    assertThat(b.delay(1, Duration.ofSeconds(3))).isEqualTo(Duration.ofSeconds(3));
    assertThat(b.delay(5, Duration.ofMillis(1))).isGreaterThanOrEqualTo(Duration.ofMillis(500));
  }

  @Test
  void badSettings_areRefused() {
    assertThatThrownBy(() -> new Backoff(0, Duration.ZERO, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(3, Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void problems_sayWhetherARetryMayHelp() {
    TallyProblemException transport =
        new TallyProblemException(TallyProblemException.TRANSPORT, "x", 0, "x", null, null, null);
    assertThat(transport.retriable()).isTrue();
    for (int status : new int[] {409, 429, 500, 502, 503, 504}) {
      assertThat(new TallyProblemException("t", "x", status, "x", null, "k", null).retriable())
          .as("%d", status)
          .isTrue();
    }
    for (int status : new int[] {400, 401, 403, 404, 413, 415, 422}) {
      assertThat(new TallyProblemException("t", "x", status, "x", null, "k", null).retriable())
          .as("%d", status)
          .isFalse();
    }
  }
}
