package dev.tally;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.cluster.SlotPusher;
import dev.tally.engine.Aggregator;
import dev.tally.live.LiveHub;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Each component's settings refuse values it cannot run with, wherever they come from. */
class SettingsValidationTest {

  private static final Duration S = Duration.ofSeconds(1);

  @Test
  void aggregator() {
    assertThatCode(() -> new Aggregator.Settings(10, 3, 0, S, S)).doesNotThrowAnyException();
    assertThatThrownBy(() -> new Aggregator.Settings(0, 3, 0, S, S))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Aggregator.Settings(10, 0, 0, S, S))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Aggregator.Settings(10, 3, -1, S, S))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Aggregator.Settings(10, 3, 0, Duration.ZERO, S))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void liveHub() {
    assertThatCode(() -> new LiveHub.Settings(Duration.ZERO, S, 1)).doesNotThrowAnyException();
    assertThatThrownBy(() -> new LiveHub.Settings(S.negated(), S, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LiveHub.Settings(S, Duration.ZERO, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LiveHub.Settings(S, S, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void slotPusher() {
    assertThatCode(() -> new SlotPusher.Settings(1, 1, S, S, Duration.ZERO))
        .doesNotThrowAnyException();
    assertThatThrownBy(() -> new SlotPusher.Settings(0, 1, S, S, S))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new SlotPusher.Settings(1, 1, Duration.ZERO, S, S))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new SlotPusher.Settings(1, 1, S, S, S.negated()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
