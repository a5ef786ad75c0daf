package dev.tally.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MaxWindowWarmupTest {

  @Test
  void takesTheWindowThroughItsRotations_andItsFullResets() {
    // a value is alone in the window only after a full reset; a plain rotation keeps the windows
    // before it, and with no rotation at all the first (largest) value would stay
    assertThat(MaxWindowWarmup.run()).isEqualTo(MaxWindowWarmup.RECORDS / 16);
  }
}
